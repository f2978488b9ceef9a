//! Hashes and random values of the issuer: auth-key HMACs, bearer-token digests,
//! session ids and contractor passwords.
//!
//! Why three kinds of hash: an auth key has 80 random bits and a bearer token 256, so a
//! fast keyed hash (auth keys, §2) or a plain digest (tokens) is enough and keeps every
//! lookup cheap; passwords are chosen by people and get argon2id.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub use kakunin_platform::secret::{random_token, same, sha256};

use super::settings::IssuerSecret;
use kakunin_protocol::ids::AuthKey;
use secrecy::ExposeSecret;

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
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose_secret()) else {
        unreachable!("HMAC-SHA-256 takes keys of any length")
    };
    mac.update(label);
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

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
}
