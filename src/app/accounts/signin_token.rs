//! The sign-in form's CSRF token, kept by nobody: a cookieless `GET /login` writes
//! nothing, so an anonymous client cannot fill a table by loading the page.
//!
//! The page sets a short-lived cookie holding 256 random bits (the *nonce*) and puts
//! in the form `EXPIRY.MAC`, where `EXPIRY` is a Unix time in seconds (UTC) and `MAC`
//! is base64url(HMAC-SHA-256 under the service secret of
//! `kakunin/signin-csrf/v1 \0 NONCE \0 EXPIRY`). The post is accepted when the
//! cookie and the token belong together (the MAC is checked in constant time by
//! `hmac`) and `EXPIRY` has not passed. A cross-site page can neither read the cookie
//! nor forge a MAC for it; after sign-in the session's own synchronizer token is used
//! (`session`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long a sign-in form stays usable, in minutes (also the cookie's `Max-Age`).
pub const LIFETIME_MINUTES: i64 = 60;

const CONTEXT: &[u8] = b"kakunin/signin-csrf/v1\0";

fn mac(secret: &[u8], nonce: &str, expiry: i64) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(CONTEXT);
    mac.update(nonce.as_bytes());
    mac.update(b"\0");
    mac.update(expiry.to_string().as_bytes());
    mac
}

/// Whether a cookie value can be a nonce this module made (43 base64url characters);
/// anything else is replaced by a fresh one rather than signed.
pub fn plausible_nonce(nonce: &str) -> bool {
    nonce.len() == 43
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The token for `nonce`, valid until `now_unix + LIFETIME_MINUTES`.
pub fn issue(secret: &[u8], nonce: &str, now_unix: i64) -> String {
    let expiry = now_unix + LIFETIME_MINUTES * 60;
    let tag = mac(secret, nonce, expiry).finalize().into_bytes();
    format!("{expiry}.{}", URL_SAFE_NO_PAD.encode(tag))
}

/// Whether `token` was issued for `nonce` under `secret` and has not expired.
pub fn verify(secret: &[u8], nonce: &str, token: &str, now_unix: i64) -> bool {
    let Some((expiry, tag)) = token.split_once('.') else {
        return false;
    };
    let (Ok(expiry), Ok(tag)) = (expiry.parse::<i64>(), URL_SAFE_NO_PAD.decode(tag)) else {
        return false;
    };
    expiry >= now_unix
        && plausible_nonce(nonce)
        && mac(secret, nonce, expiry).verify_slice(&tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONCE: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    #[test]
    fn a_token_holds_for_its_nonce_until_it_expires() {
        let t = issue(b"secret", NONCE, 1_000);
        assert!(verify(b"secret", NONCE, &t, 1_000));
        assert!(verify(b"secret", NONCE, &t, 1_000 + LIFETIME_MINUTES * 60));
        assert!(!verify(b"secret", NONCE, &t, 1_001 + LIFETIME_MINUTES * 60));
        let other = "BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert!(!verify(b"secret", other, &t, 1_000));
        assert!(!verify(b"another", NONCE, &t, 1_000));
    }

    #[test]
    fn a_moved_expiry_or_a_bare_tag_is_refused() {
        let t = issue(b"secret", NONCE, 1_000);
        let (_, tag) = t.split_once('.').unwrap();
        assert!(!verify(
            b"secret",
            NONCE,
            &format!("999999999999.{tag}"),
            1_000
        ));
        assert!(!verify(b"secret", NONCE, tag, 1_000));
        assert!(!verify(b"secret", NONCE, "", 1_000));
    }
}
