//! Staff accounts, sessions, CSRF tokens and API tokens.
//!
//! Everything secret is stored hashed: passwords with argon2id (they are guessable),
//! session ids and API tokens with SHA-256 (256 random bits need no slow hash).

pub mod rate;
pub mod session;
pub mod signin_token;
pub mod throttle;
pub mod tokens;
pub mod users;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// 256 random bits from the OS, base64url.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// A keyed fingerprint of an auth key: lets the audit log tell repeated keys apart
/// without holding anything that could be used as a key.
pub fn key_fingerprint(
    secret: &[u8],
    number: &str,
    key: &kakunin_protocol::ids::AuthKey,
) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(b"kakunin/auth-key/v1\0");
    mac.update(number.as_bytes());
    mac.update(b"\0");
    mac.update(key.expose().as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_keyed_and_hides_the_key() {
        let key = kakunin_protocol::ids::AuthKey::parse("7KQ2M9XDH4T8RB3N").unwrap();
        let a = key_fingerprint(b"secret-one", "W2025000123", &key);
        let b = key_fingerprint(b"secret-two", "W2025000123", &key);
        assert_ne!(a, b);
        assert!(!a.contains("7KQ2"));
        assert_eq!(a, key_fingerprint(b"secret-one", "W2025000123", &key));
    }
}
