//! Text SQL that both backends run: the few statements the service writes by hand
//! (an upsert that adds, a grouped sum) say them once, with `?` placeholders, and this
//! module turns them into what the connection's backend reads.

use super::Conn;

/// `sql` with its `?` placeholders numbered `$1`, `$2`, … on PostgreSQL, unchanged on
/// SQLite. The statements given hold no `?` inside quotes.
pub fn placeholders(conn: &Conn, sql: &str) -> String {
    if !conn.is_postgres() {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for ch in sql.chars() {
        if ch == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(ch);
        }
    }
    out
}

/// An expression for the Japan-time day (`YYYY-MM-DD` text) of the UTC timestamp
/// column `column`.
pub fn jst_day(conn: &Conn, column: &str) -> String {
    if conn.is_postgres() {
        format!("to_char({column} + interval '9 hours', 'YYYY-MM-DD')")
    } else {
        format!("date({column}, '+9 hours')")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::Connection;

    #[test]
    fn sqlite_keeps_question_marks() {
        let c = Conn::Sqlite(diesel::SqliteConnection::establish(":memory:").unwrap());
        assert_eq!(placeholders(&c, "a = ? AND b = ?"), "a = ? AND b = ?");
    }
}
