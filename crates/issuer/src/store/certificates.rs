//! Rows of `certificates` and `revisions`: each guarantee, the keyed hash of its auth
//! key, and every signed revision exactly as served.

use diesel::prelude::*;

use crate::schema::{certificates, revisions};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = certificates)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite))]
pub struct CertificateRow {
    pub id: i32,
    pub certificate_number: String,
    pub contractor_id: Option<i32>,
    pub auth_key_hmac: Vec<u8>,
    pub status: String,
    pub latest_revision: i32,
    /// The key sealed with AES-256-GCM-SIV under a key derived from the issuer secret
    /// (`crypto::seal_auth_key`); `None` for keys issued before keys were kept or
    /// sealed by the old construction (migration `2026-12-03-000000_auth_key_sealed_aead`).
    pub auth_key_sealed: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = revisions)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite))]
pub struct RevisionRow {
    pub revision: i32,
    pub kid: String,
    pub payload: String,
    pub jws: String,
    pub issued_at: String,
}

/// A signed revision about to be stored.
pub struct NewRevision<'a> {
    pub revision: i32,
    pub status: &'a str,
    pub kid: &'a str,
    pub payload: &'a str,
    pub jws: &'a str,
    pub issued_at: &'a str,
}

pub fn find(conn: &mut SqliteConnection, number: &str) -> QueryResult<Option<CertificateRow>> {
    certificates::table
        .filter(certificates::certificate_number.eq(number))
        .select(CertificateRow::as_select())
        .first(conn)
        .optional()
}

pub fn exists(conn: &mut SqliteConnection, number: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        certificates::table.filter(certificates::certificate_number.eq(number)),
    ))
    .get_result(conn)
}

pub fn count(conn: &mut SqliteConnection) -> QueryResult<i64> {
    certificates::table.count().get_result(conn)
}

/// Stores a new certificate with its first revision.
pub fn insert(
    conn: &mut SqliteConnection,
    number: &str,
    contractor_id: Option<i32>,
    auth_key_hmac: &[u8],
    auth_key_sealed: &[u8],
    first: &NewRevision<'_>,
) -> QueryResult<i32> {
    let id: i32 = diesel::insert_into(certificates::table)
        .values((
            certificates::certificate_number.eq(number),
            certificates::contractor_id.eq(contractor_id),
            certificates::auth_key_hmac.eq(auth_key_hmac),
            certificates::auth_key_sealed.eq(Some(auth_key_sealed)),
            certificates::status.eq(first.status),
            certificates::latest_revision.eq(first.revision),
            certificates::created_at.eq(first.issued_at),
            certificates::updated_at.eq(first.issued_at),
        ))
        .returning(certificates::id)
        .get_result(conn)?;
    insert_revision(conn, id, first)?;
    Ok(id)
}

/// Stores a further revision and makes it the one lookups answer with.
pub fn add_revision(
    conn: &mut SqliteConnection,
    certificate_id: i32,
    rev: &NewRevision<'_>,
) -> QueryResult<()> {
    insert_revision(conn, certificate_id, rev)?;
    diesel::update(certificates::table.find(certificate_id))
        .set((
            certificates::latest_revision.eq(rev.revision),
            certificates::status.eq(rev.status),
            certificates::updated_at.eq(rev.issued_at),
        ))
        .execute(conn)
        .map(drop)
}

fn insert_revision(
    conn: &mut SqliteConnection,
    certificate_id: i32,
    rev: &NewRevision<'_>,
) -> QueryResult<()> {
    diesel::insert_into(revisions::table)
        .values((
            revisions::certificate_id.eq(certificate_id),
            revisions::revision.eq(rev.revision),
            revisions::kid.eq(rev.kid),
            revisions::payload.eq(rev.payload),
            revisions::jws.eq(rev.jws),
            revisions::issued_at.eq(rev.issued_at),
        ))
        .execute(conn)
        .map(drop)
}

/// Replaces the keyed hash of the auth key (a new key was issued; the old one stops working).
pub fn set_auth_key(
    conn: &mut SqliteConnection,
    certificate_id: i32,
    auth_key_hmac: &[u8],
    auth_key_sealed: &[u8],
    now: &str,
) -> QueryResult<()> {
    diesel::update(certificates::table.find(certificate_id))
        .set((
            certificates::auth_key_hmac.eq(auth_key_hmac),
            certificates::auth_key_sealed.eq(Some(auth_key_sealed)),
            certificates::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

pub fn latest(conn: &mut SqliteConnection, cert: &CertificateRow) -> QueryResult<RevisionRow> {
    revisions::table
        .filter(revisions::certificate_id.eq(cert.id))
        .filter(revisions::revision.eq(cert.latest_revision))
        .select(RevisionRow::as_select())
        .first(conn)
}

/// Every revision, oldest first.
pub fn history(conn: &mut SqliteConnection, certificate_id: i32) -> QueryResult<Vec<RevisionRow>> {
    revisions::table
        .filter(revisions::certificate_id.eq(certificate_id))
        .order(revisions::revision.asc())
        .select(RevisionRow::as_select())
        .load(conn)
}

/// A contractor's certificates with their latest revision, by number.
pub fn of_contractor(
    conn: &mut SqliteConnection,
    contractor_id: i32,
) -> QueryResult<Vec<(CertificateRow, RevisionRow)>> {
    certificates::table
        .inner_join(
            revisions::table.on(revisions::certificate_id
                .eq(certificates::id)
                .and(revisions::revision.eq(certificates::latest_revision))),
        )
        .filter(certificates::contractor_id.eq(contractor_id))
        .order(certificates::certificate_number.asc())
        .select((CertificateRow::as_select(), RevisionRow::as_select()))
        .load(conn)
}
