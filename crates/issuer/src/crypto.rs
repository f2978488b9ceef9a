//! Hashes, random values and the one cipher of the issuer: auth-key HMACs, the sealed
//! copy of each auth key (AES-256-GCM-SIV, [`seal_auth_key`]), bearer-token digests,
//! session ids and contractor passwords. Nothing here is a construction of our own:
//! HMAC, HKDF and AES-GCM-SIV are RustCrypto's crates.
//!
//! Why three kinds of hash: an auth key has 80 random bits and a bearer token 256, so a
//! fast keyed hash (auth keys, §2) or a plain digest (tokens) is enough and keeps every
//! lookup cheap; passwords are chosen by people and get argon2id.

use aes_gcm_siv::Aes256GcmSiv;
use hkdf::Hkdf;
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
/// HKDF `info` of the key that seals auth keys: another label than the HMACs', so the
/// sealing key is independent of every other use of the secret. v2: v1 was a
/// hand-rolled XOR construction, whose values the migration
/// `2026-12-03-000000_auth_key_sealed_aead` erased.
const AUTH_KEY_SEAL_INFO: &[u8] = b"kakunin-issuer/auth-key-seal/v2\0";
/// Bytes of AES-GCM-SIV's nonce (96 bits), stored before the ciphertext.
const SEAL_NONCE: usize = 12;
/// Bytes of AES-GCM-SIV's tag, stored after the ciphertext.
const SEAL_TAG: usize = 16;

/// HMAC-SHA-256 of the canonical auth key under the issuer secret: what the store keeps.
pub fn auth_key_hmac(secret: &IssuerSecret, key: &AuthKey) -> Vec<u8> {
    keyed(secret, AUTH_KEY_LABEL, key.expose().as_bytes())
}

/// The auth key sealed under the issuer secret, so that the contractor's page can show
/// it again (a departure from issuer-protocol.md §2, which has the issuer keep only the
/// HMAC; README, "The reference issuer keeps a sealed copy of each auth key").
///
/// The construction is AES-256-GCM-SIV (RFC 8452, the RustCrypto crate `aes-gcm-siv`)
/// under a 32-byte key derived from the issuer secret with HKDF-SHA-256 (RFC 5869, the
/// RustCrypto crate `hkdf`, `info` = `AUTH_KEY_SEAL_INFO`). The stored bytes are a
/// random 96-bit nonce, then the ciphertext of the canonical key and its 16-byte tag.
/// The certificate number is the associated data, so a value copied into another
/// certificate's row does not open. GCM-SIV rather than GCM because its nonces are
/// random: a repeated nonce would reveal only that two sealed keys are equal.
/// Whoever holds both the secret and the database can open it; the secret already
/// guards the keys' HMACs.
pub fn seal_auth_key(secret: &IssuerSecret, certificate_number: &str, key: &AuthKey) -> Vec<u8> {
    use aes_gcm_siv::aead::{Aead, Payload};
    use rand_core::RngCore;
    let mut nonce = [0u8; SEAL_NONCE];
    rand_core::OsRng.fill_bytes(&mut nonce);
    let payload = Payload {
        msg: key.expose().as_bytes(),
        aad: certificate_number.as_bytes(),
    };
    // AES-GCM-SIV refuses only messages or associated data past 2^36 bytes.
    let Ok(sealed) = seal_cipher(secret).encrypt(&nonce.into(), payload) else {
        unreachable!("an auth key and a certificate number are a few bytes long")
    };
    let mut out = nonce.to_vec();
    out.extend(sealed);
    out
}

/// Opens [`seal_auth_key`]'s bytes; `None` unless they were sealed under this secret for
/// this certificate number, unchanged, and give a key whose HMAC is `in_force` (the HMAC
/// of the key in force), so a stale, moved or damaged value is never shown.
pub fn open_auth_key(
    secret: &IssuerSecret,
    certificate_number: &str,
    sealed: &[u8],
    in_force: &[u8],
) -> Option<AuthKey> {
    use aes_gcm_siv::aead::{Aead, Payload};
    if sealed.len() <= SEAL_NONCE + SEAL_TAG {
        return None;
    }
    let (nonce, body) = sealed.split_at(SEAL_NONCE);
    let payload = Payload {
        msg: body,
        aad: certificate_number.as_bytes(),
    };
    let bytes = seal_cipher(secret)
        .decrypt(aes_gcm_siv::Nonce::from_slice(nonce), payload)
        .ok()?;
    let key = AuthKey::parse(std::str::from_utf8(&bytes).ok()?).ok()?;
    same(&auth_key_hmac(secret, &key), in_force).then_some(key)
}

/// The AES-256-GCM-SIV cipher of [`seal_auth_key`], keyed by HKDF-SHA-256 of the secret.
fn seal_cipher(secret: &IssuerSecret) -> Aes256GcmSiv {
    use secrecy::zeroize::Zeroize;
    let mut key = [0u8; 32];
    // HKDF-SHA-256 gives up to 255 × 32 bytes, so 32 cannot fail.
    let Ok(()) =
        Hkdf::<Sha256>::new(None, secret.expose_secret()).expand(AUTH_KEY_SEAL_INFO, &mut key)
    else {
        unreachable!("HKDF-SHA-256 expands to 32 bytes")
    };
    let cipher = <Aes256GcmSiv as aes_gcm_siv::aead::KeyInit>::new(&key.into());
    key.zeroize();
    cipher
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

    const NUMBER: &str = "W2025000123";

    fn other_secret() -> IssuerSecret {
        super::super::settings::tests_other_secret()
    }

    #[test]
    fn a_sealed_key_opens_only_while_it_is_the_key_in_force() {
        let k = AuthKey::parse("7KQ2-M9XD-H4T8-RB3N").unwrap();
        let sealed = seal_auth_key(&secret(), NUMBER, &k);
        assert_ne!(
            seal_auth_key(&secret(), NUMBER, &k),
            sealed,
            "a fresh nonce each time"
        );
        let hmac = auth_key_hmac(&secret(), &k);
        assert_eq!(open_auth_key(&secret(), NUMBER, &sealed, &hmac), Some(k));
        let other = auth_key_hmac(&secret(), &AuthKey::generate());
        assert_eq!(open_auth_key(&secret(), NUMBER, &sealed, &other), None);
        assert_eq!(open_auth_key(&secret(), NUMBER, &sealed[..10], &hmac), None);
        assert_eq!(open_auth_key(&secret(), NUMBER, &[], &hmac), None);
    }

    #[test]
    fn the_sealed_bytes_do_not_contain_the_key() {
        let k = AuthKey::parse("7KQ2-M9XD-H4T8-RB3N").unwrap();
        let sealed = seal_auth_key(&secret(), NUMBER, &k);
        assert_eq!(sealed.len(), SEAL_NONCE + 16 + SEAL_TAG);
        for shown in [
            &b"7KQ2M9XDH4T8RB3N"[..],
            b"7KQ2-M9XD-H4T8-RB3N",
            b"7KQ2",
            b"RB3N",
        ] {
            assert!(
                !sealed.windows(shown.len()).any(|w| w == shown),
                "{}",
                String::from_utf8_lossy(shown)
            );
        }
    }

    #[test]
    fn a_sealed_key_with_any_byte_changed_does_not_open() {
        let k = AuthKey::parse("7KQ2-M9XD-H4T8-RB3N").unwrap();
        let sealed = seal_auth_key(&secret(), NUMBER, &k);
        let hmac = auth_key_hmac(&secret(), &k);
        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 0x01;
            assert_eq!(
                open_auth_key(&secret(), NUMBER, &tampered, &hmac),
                None,
                "byte {i}"
            );
        }
        let mut longer = sealed.clone();
        longer.push(0);
        assert_eq!(open_auth_key(&secret(), NUMBER, &longer, &hmac), None);
    }

    #[test]
    fn a_sealed_key_opens_only_under_its_secret_and_for_its_certificate() {
        let k = AuthKey::parse("7KQ2-M9XD-H4T8-RB3N").unwrap();
        let sealed = seal_auth_key(&secret(), NUMBER, &k);
        let hmac = auth_key_hmac(&secret(), &k);
        assert_eq!(open_auth_key(&other_secret(), NUMBER, &sealed, &hmac), None);
        // Even where the other secret is also told the right HMAC for its own key.
        let hmac_other = auth_key_hmac(&other_secret(), &k);
        assert_eq!(
            open_auth_key(&other_secret(), NUMBER, &sealed, &hmac_other),
            None
        );
        // Copied into another certificate's row, it does not open there.
        assert_eq!(
            open_auth_key(&secret(), "W2025000124", &sealed, &hmac),
            None
        );
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
