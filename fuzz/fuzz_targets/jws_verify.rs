//! The JWS envelope (`issuer-protocol.md` §3) under strict verification, against a trust
//! registry of one issuer `wjcs` with one key `wjcs-2025` (Ed25519, seed 7 × 32).
//!
//! The first byte chooses how the rest is read:
//! - even: the rest is the envelope as received from the issuer;
//! - odd: the rest is `header 0xFF payload` (or only a payload, under the header `sign`
//!   writes), signed here with the trusted key, so the fuzzer reaches the header and
//!   payload checks behind a valid signature.
//!
//! Nothing panics, and an accepted record is always the asked issuer's, for the asked
//! number, under the registry's key id.
#![no_main]

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use kakunin_protocol::jws::{self, FlattenedJws};
use kakunin_protocol::registry::{key_block, Registry};
use kakunin_protocol::CertificateNumber;
use libfuzzer_sys::fuzz_target;

const ISSUER: &str = "wjcs";
const KID: &str = "wjcs-2025";
const NUMBER: &str = "W2025000123";

struct Fixture {
    key: SigningKey,
    registry: Registry,
    number: CertificateNumber,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key = SigningKey::from_bytes(&[7; 32]);
        let not_before = chrono::DateTime::parse_from_rfc3339("2000-01-01T00:00:00+09:00")
            .expect("a fixed time");
        let text = format!(
            "[[issuer]]\nid = \"{ISSUER}\"\nname = \"西日本建設業保証株式会社\"\n\
             base_url = \"http://127.0.0.1:8081\"\nnumber_pattern = \"W[0-9]{{10}}\"\n\n{}",
            key_block(KID, &key.verifying_key(), not_before)
        );
        let registry = Registry::from_toml_str(&text, "issuers.toml", |_| None)
            .expect("the fixture registry loads");
        Fixture {
            key,
            registry,
            number: CertificateNumber::parse(NUMBER).expect("a canonical number"),
        }
    })
}

fn signed(header: &[u8], payload: &[u8], key: &SigningKey) -> Vec<u8> {
    let protected = URL_SAFE_NO_PAD.encode(header);
    let payload = URL_SAFE_NO_PAD.encode(payload);
    let signature = key.sign(format!("{protected}.{payload}").as_bytes());
    serde_json::to_vec(&FlattenedJws {
        protected,
        payload,
        signature: URL_SAFE_NO_PAD.encode(signature.to_bytes()),
    })
    .expect("three strings serialize")
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let f = fixture();
    let envelope = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        match rest.iter().position(|&b| b == 0xFF) {
            Some(at) => signed(&rest[..at], &rest[at + 1..], &f.key),
            None => jws::sign(rest, KID, &f.key).into_bytes(),
        }
    };
    match jws::verify(&envelope, ISSUER, &f.number, &f.registry) {
        Ok(record) => {
            assert_eq!(record.kid(), KID);
            assert_eq!(record.certificate().issuer.id, ISSUER);
            assert_eq!(record.certificate().certificate_number, NUMBER);
            let text = String::from_utf8(envelope.clone()).expect("an accepted envelope is JSON");
            assert!(jws::payload_text(&text).is_some());
        }
        Err(e) => {
            let _ = (e.code(), e.to_string());
        }
    }
    let _ = jws::payload_text(&String::from_utf8_lossy(&envelope));
});
