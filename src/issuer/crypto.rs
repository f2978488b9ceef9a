//! Hashes and random values of the issuer: auth-key HMACs, bearer-token digests,
//! session ids and contractor passwords.
//!
//! Why three kinds of hash: an auth key has 80 random bits and a bearer token 256, so a
//! fast keyed hash (auth keys, §2) or a plain digest (tokens) is enough and keeps every
//! lookup cheap; passwords are chosen by people and get argon2id.

use argon2::password_hash::rand_core::OsRng as PasswordRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::settings::IssuerSecret;
use crate::ids::AuthKey;

/// Domain label mixed into auth-key HMACs, so that the same secret used for another
/// purpose (login CSRF tokens) can never produce the same bytes.
const AUTH_KEY_LABEL: &[u8] = b"kakunin-issuer/auth-key/v1\0";
const LOGIN_CSRF_LABEL: &[u8] = b"kakunin-issuer/login-csrf/v1\0";

/// HMAC-SHA-256 of the canonical auth key under the issuer secret: what the store keeps.
pub fn auth_key_hmac(secret: &IssuerSecret, key: &AuthKey) -> Vec<u8> {
    keyed(secret, AUTH_KEY_LABEL, key.expose().as_bytes())
}

/// The login form's CSRF token, bound to the pre-login cookie's random value.
pub fn login_csrf(secret: &IssuerSecret, cookie_value: &str) -> String {
    hex::encode(keyed(secret, LOGIN_CSRF_LABEL, cookie_value.as_bytes()))
}

fn keyed(secret: &IssuerSecret, label: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        unreachable!("HMAC-SHA-256 takes keys of any length")
    };
    mac.update(label);
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// SHA-256 of a bearer token or session id: what the store keeps of it.
pub fn sha256(value: &str) -> Vec<u8> {
    Sha256::digest(value.as_bytes()).to_vec()
}

/// A fresh 256-bit random value, base64url without padding (43 characters).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Constant-time equality of two byte strings (false when the lengths differ).
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// An argon2id hash (PHC string) of a password, with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut PasswordRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Whether `password` matches the PHC string `hash`. An unreadable hash matches nothing.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A fixed argon2id hash checked when the login does not exist, so that an unknown
/// login takes as long as a wrong password. Its password is not one anybody can type.
pub const DUMMY_PASSWORD_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$zJd1TF8v5Rz3l3HfQ0pXHVyS5Kq1hh3MYLMb4NIsYJg";

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> IssuerSecret {
        // Built through the same checks as the real settings.
        super::super::settings::tests_secret()
    }

    #[test]
    fn auth_key_hmac_depends_on_key_and_secret_only() {
        let k = AuthKey::parse("7KQ2-M9XD-H4T8-RB3N").unwrap();
        let same_key = AuthKey::parse("7kq2m9xdh4t8rb3n").unwrap();
        assert_eq!(
            auth_key_hmac(&secret(), &k),
            auth_key_hmac(&secret(), &same_key)
        );
        assert_eq!(auth_key_hmac(&secret(), &k).len(), 32);
        assert_ne!(
            auth_key_hmac(&secret(), &k),
            auth_key_hmac(&secret(), &AuthKey::generate())
        );
    }

    #[test]
    fn passwords_verify_and_dummy_hash_parses() {
        let h = hash_password("bungo-demo-pass").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&h, "bungo-demo-pass"));
        assert!(!verify_password(&h, "wrong"));
        assert!(PasswordHash::new(DUMMY_PASSWORD_HASH).is_ok());
        assert!(!verify_password(DUMMY_PASSWORD_HASH, ""));
    }

    #[test]
    fn tokens_are_43_base64url_characters() {
        let t = random_token();
        assert_eq!(t.len(), 43);
        assert_ne!(t, random_token());
    }
}
