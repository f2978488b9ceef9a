//! Every rule profile version the service has run with, kept by digest
//! (`rule_profiles`), so a verification can be checked again against the rules in
//! force when it was made.

use diesel::prelude::*;

use crate::adapters::db::schema::rule_profiles;
use crate::adapters::db::{self, now_utc, Conn};
use crate::domain::rules::Profile;

/// Records the loaded profile when its digest is new; called at start. Two services
/// starting at once may both find it new: the second insert is then the one that
/// loses, and that is no error.
pub fn remember(conn: &mut Conn, profile: &Profile) -> QueryResult<()> {
    let known = rule_profiles::table
        .find(&profile.digest)
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if !known {
        let now = now_utc();
        db::per_backend!(conn, |c| diesel::insert_into(rule_profiles::table)
            .values((
                rule_profiles::digest.eq(&profile.digest),
                rule_profiles::name.eq(&profile.name),
                rule_profiles::text.eq(&profile.text),
                rule_profiles::first_used_at.eq(now),
            ))
            .on_conflict_do_nothing()
            .execute(c))?;
    }
    Ok(())
}

/// The profile text stored under `digest`.
pub fn text(conn: &mut Conn, digest: &str) -> QueryResult<Option<String>> {
    rule_profiles::table
        .find(digest)
        .select(rule_profiles::text)
        .first(conn)
        .optional()
}
