//! argon2id password hashing, for the service's staff and the issuer's contractors.
//! Passwords are chosen by people, so they get a slow, salted hash.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

/// The shortest password accepted for an account.
pub const MIN_LENGTH: usize = 10;

/// The fields of a sign-in form left empty, each with its message at its field
/// (`{"login": …, "password": …}`), or `None` when both were typed. `login_label` is the
/// login field's name on the page (the service's ログイン名, the issuer's ログインID);
/// `login` is already trimmed. Passwords are never trimmed: only one with no character
/// at all is empty.
///
/// An empty field is a form not filled in, not a guess at a password: both programs
/// name it at its field (422) and count it as no sign-in attempt.
pub fn empty_sign_in_fields(
    login_label: &str,
    login: &str,
    password: &str,
) -> Option<serde_json::Value> {
    let mut errors = serde_json::Map::new();
    if login.is_empty() {
        errors.insert(
            "login".into(),
            format!("{login_label}が入力されていません。").into(),
        );
    }
    if password.is_empty() {
        errors.insert("password".into(), "パスワードが入力されていません。".into());
    }
    (!errors.is_empty()).then_some(serde_json::Value::Object(errors))
}

/// An argon2id hash (PHC string) of `password`, with a fresh random salt.
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters accepts any password")
        .to_string()
}

/// Whether `password` matches the PHC string `stored`. An unreadable hash matches nothing.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash to check against when the login does not exist, so that an unknown login
/// and a wrong password take the same time. Its password is not one anybody can type.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash("kakunin-dummy-password\u{0}"))
}

/// `Err` with a Japanese message when `password` is too short for an account.
pub fn check_strength(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_LENGTH {
        return Err(format!("パスワードは{MIN_LENGTH}文字以上にしてください"));
    }
    // Ten spaces (全角 or 半角, as an IME in full-width mode types them) pass the length
    // and guard nothing; they are also what a slip of the thumb types.
    if password.chars().all(char::is_whitespace) {
        return Err("空白だけのパスワードは使えません。英字や数字を含めてください".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_password_of_spaces_only_is_refused() {
        for p in [
            "          ",
            "\u{3000}".repeat(11).as_str(),
            " \t \u{3000}      ",
        ] {
            assert!(super::check_strength(p).is_err(), "{p:?}");
        }
        assert!(super::check_strength("correct horse battery").is_ok());
        assert!(super::check_strength("　パスワード　です　　").is_ok());
    }

    #[test]
    fn argon2id_hash_verifies_only_the_right_password() {
        let h = super::hash("correct horse battery");
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("correct horse battery", &h));
        assert!(!super::verify("wrong", &h));
        assert!(!super::verify("", super::dummy_hash()));
        assert!(!super::verify("x", "not a hash"));
    }
}
