//! The closed vocabularies ([`Code`]) as diesel reads and writes them: `Text` columns
//! holding each code's fixed text.
//!
//! Reading text that is none of the codes fails the query with [`UnknownCode`] (a
//! deserialization error naming the vocabulary and the text) instead of guessing. The
//! impls are generic over the backend so that another backend, or diesel's
//! `MultiConnection`, needs nothing new here.
//!
//! [`Code`]: crate::domain::code::Code
//! [`UnknownCode`]: crate::domain::code::UnknownCode

/// Implements, for each vocabulary type given, what diesel needs to use it as a `Text`
/// value: `FromSql` and `Queryable` to read it (in `Queryable`, `Selectable` and
/// `QueryableByName` structs), `ToSql` to bind it, and `AsExpression` (by value and by
/// reference, `Text` and `Nullable<Text>`) to compare and insert it. The bound value is
/// the code's `&'static str`, so what is written is exactly `Code::as_str`.
///
/// A macro rather than blanket impls: the orphan rule allows these impls only for named
/// types of this crate. Invoke it where the type's layer may import diesel: the
/// adapters for the domain's vocabularies, the application for its own.
macro_rules! stored_as_text {
    ($($code:ty),+ $(,)?) => {$(
        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $code
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                let text = <String as diesel::deserialize::FromSql<
                    diesel::sql_types::Text,
                    DB,
                >>::from_sql(bytes)?;
                Ok(<$code as $crate::domain::code::Code>::parse(&text)?)
            }
        }

        impl<DB> diesel::deserialize::Queryable<diesel::sql_types::Text, DB> for $code
        where
            DB: diesel::backend::Backend,
            Self: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            type Row = Self;

            fn build(code: Self) -> diesel::deserialize::Result<Self> {
                Ok(code)
            }
        }

        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $code
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, DB>,
            ) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, DB>>::to_sql(
                    <$code as $crate::domain::code::Code>::as_str(*self),
                    out,
                )
            }
        }

        $crate::adapters::db::code::stored_as_text!(@expression $code, diesel::sql_types::Text);
        $crate::adapters::db::code::stored_as_text!(
            @expression $code,
            diesel::sql_types::Nullable<diesel::sql_types::Text>
        );
    )+};
    (@expression $code:ty, $sql:ty) => {
        impl diesel::expression::AsExpression<$sql> for $code {
            type Expression =
                <&'static str as diesel::expression::AsExpression<$sql>>::Expression;

            fn as_expression(self) -> Self::Expression {
                diesel::expression::AsExpression::<$sql>::as_expression(
                    <$code as $crate::domain::code::Code>::as_str(self),
                )
            }
        }

        impl<'a> diesel::expression::AsExpression<$sql> for &'a $code {
            type Expression = <&'a str as diesel::expression::AsExpression<$sql>>::Expression;

            fn as_expression(self) -> Self::Expression {
                diesel::expression::AsExpression::<$sql>::as_expression(
                    <$code as $crate::domain::code::Code>::as_str(*self),
                )
            }
        }
    };
}

pub(crate) use stored_as_text;

use crate::domain::access::{Role, Scope};
use crate::domain::outcome::Outcome;

stored_as_text!(Outcome, Role, Scope);

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use diesel::sql_types::Text;

    use crate::domain::access::{Role, Scope};
    use crate::domain::code::Code;
    use crate::domain::outcome::Outcome;

    diesel::table! {
        codes (id) {
            id -> Integer,
            code -> Text,
        }
    }

    fn db() -> SqliteConnection {
        let mut c = SqliteConnection::establish(":memory:").unwrap();
        c.batch_execute("CREATE TABLE codes (id INTEGER PRIMARY KEY, code TEXT NOT NULL)")
            .unwrap();
        c
    }

    #[derive(QueryableByName)]
    struct Bound {
        #[diesel(sql_type = Text)]
        code: String,
    }

    /// Every code is written as its text and read back as itself, through an insert, a
    /// filter and a bound parameter alike.
    macro_rules! round_trip {
        ($code:ty) => {{
            let mut c = db();
            for (i, &code) in <$code as Code>::ALL.iter().enumerate() {
                let id = i as i32;
                diesel::insert_into(codes::table)
                    .values((codes::id.eq(id), codes::code.eq(code)))
                    .execute(&mut c)
                    .unwrap();
                let text: String = codes::table
                    .find(id)
                    .select(codes::code)
                    .first(&mut c)
                    .unwrap();
                assert_eq!(text, code.as_str(), "stored as its text");
                let back: $code = codes::table
                    .filter(codes::code.eq(&code))
                    .select(codes::code)
                    .first(&mut c)
                    .unwrap();
                assert_eq!(back, code);
                let bound: Bound = diesel::sql_query("SELECT ? AS code")
                    .bind::<Text, _>(code)
                    .get_result(&mut c)
                    .unwrap();
                assert_eq!(bound.code, code.as_str(), "bound as its text");
            }
        }};
    }

    #[test]
    fn every_code_round_trips_through_sqlite() {
        round_trip!(Outcome);
        round_trip!(Role);
        round_trip!(Scope);
    }

    #[test]
    fn unknown_text_is_an_error_naming_it() {
        let mut c = db();
        c.batch_execute("INSERT INTO codes VALUES (1, 'superuser'), (2, 'Admin')")
            .unwrap();
        for id in [1, 2] {
            let err = codes::table
                .find(id)
                .select(codes::code)
                .first::<Role>(&mut c)
                .unwrap_err();
            assert!(matches!(
                err,
                diesel::result::Error::DeserializationError(_)
            ));
            // diesel names the column; its source names the vocabulary and the text.
            let mut text = err.to_string();
            let mut source = std::error::Error::source(&err);
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            assert!(text.contains("役割"), "{text}");
            assert!(
                text.contains(if id == 1 { "superuser" } else { "Admin" }),
                "{text}"
            );
        }
    }
}
