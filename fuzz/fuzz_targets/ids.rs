//! 保証契約番号 and 認証キー as typed (`issuer-protocol.md` §1): normalization and both
//! parsers take any text without panicking, normalization is idempotent, and whatever
//! parses is canonical (parses again to itself, in every form the notice prints).
#![no_main]

use kakunin_protocol::ids::{normalize, AuthKey, CertificateNumber};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let once = normalize(input);
    assert_eq!(normalize(&once), once, "normalization is idempotent");

    if let Ok(number) = CertificateNumber::parse(input) {
        let s = number.as_str();
        assert!((6..=24).contains(&s.len()));
        assert!(s
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
        assert_eq!(CertificateNumber::parse(s).as_ref(), Ok(&number));
    }
    match AuthKey::parse(input) {
        Ok(key) => {
            assert_eq!(key.expose().len(), 16);
            assert_eq!(AuthKey::parse(key.expose()).as_ref(), Ok(&key));
            assert_eq!(AuthKey::parse(&key.printed()).as_ref(), Ok(&key));
        }
        Err(e) => {
            // The message never repeats a key; it cannot quote what was typed at all.
            let _ = e.to_string();
        }
    }
});
