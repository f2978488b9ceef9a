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
const AUTH_KEY_SEAL_LABEL: &[u8] = b"kakunin-issuer/auth-key-seal/v1\0";
/// Bytes of the random nonce that opens a sealed key.
const SEAL_NONCE: usize = 16;

/// HMAC-SHA-256 of the canonical auth key under the issuer secret: what the store keeps.
pub fn auth_key_hmac(secret: &IssuerSecret, key: &AuthKey) -> Vec<u8> {
    keyed(secret, AUTH_KEY_LABEL, key.expose().as_bytes())
}

/// The auth key sealed under the issuer secret, so that the contractor's page can show
/// it again: a random nonce, then the canonical key XORed with
/// HMAC-SHA-256(secret, label ‖ nonce) (HMAC as a pseudo-random function, a fresh
/// nonce each time). Whoever holds the secret and the database can open it; the secret
/// already guards the keys' HMACs.
pub fn seal_auth_key(secret: &IssuerSecret, key: &AuthKey) -> Vec<u8> {
    use rand_core::RngCore;
    let mut nonce = [0u8; SEAL_NONCE];
    rand_core::OsRng.fill_bytes(&mut nonce);
    let pad = keyed(secret, AUTH_KEY_SEAL_LABEL, &nonce);
    let mut out = nonce.to_vec();
    out.extend(
        key.expose()
            .bytes()
            .zip(pad.iter().cycle())
            .map(|(b, p)| b ^ p),
    );
    out
}

/// Opens [`seal_auth_key`]'s bytes; `None` unless they give a key whose HMAC is
/// `in_force` (the HMAC of the key in force), so a stale or damaged value is never shown.
pub fn open_auth_key(secret: &IssuerSecret, sealed: &[u8], in_force: &[u8]) -> Option<AuthKey> {
    if sealed.len() <= SEAL_NONCE || sealed.len() > SEAL_NONCE + 32 {
        return None;
    }
    let (nonce, body) = sealed.split_at(SEAL_NONCE);
    let pad = keyed(secret, AUTH_KEY_SEAL_LABEL, nonce);
    let bytes: Vec<u8> = body.iter().zip(pad.iter()).map(|(b, p)| b ^ p).collect();
    let key = AuthKey::parse(std::str::from_utf8(&bytes).ok()?).ok()?;
    same(&auth_key_hmac(secret, &key), in_force).then_some(key)
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
    fn a_sealed_key_opens_only_while_it_is_the_key_in_force() {
        let k = AuthKey::parse("7KQ2-M9XD-H4T8-RB3N").unwrap();
        let sealed = seal_auth_key(&secret(), &k);
        assert_ne!(
            seal_auth_key(&secret(), &k),
            sealed,
            "a fresh nonce each time"
        );
        assert!(!sealed.windows(16).any(|w| w == b"7KQ2M9XDH4T8RB3N"));
        let hmac = auth_key_hmac(&secret(), &k);
        assert_eq!(open_auth_key(&secret(), &sealed, &hmac), Some(k));
        let other = auth_key_hmac(&secret(), &AuthKey::generate());
        assert_eq!(open_auth_key(&secret(), &sealed, &other), None);
        assert_eq!(open_auth_key(&secret(), &sealed[..10], &hmac), None);
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
