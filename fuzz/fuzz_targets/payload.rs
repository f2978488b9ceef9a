//! The payload `surety-certificate/1` (`issuer-protocol.md` §4) as the verifier reads it:
//! the duplicate-member check and the parser take any bytes without panicking, and an
//! accepted payload written back out reads as the same certificate.
#![no_main]

use kakunin_protocol::payload::Certificate;
use kakunin_protocol::strict_json::check_no_duplicate_members;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let unique = check_no_duplicate_members(data);
    if let Ok(cert) = Certificate::from_json(data) {
        let again = serde_json::to_vec(&cert).expect("a certificate serializes");
        assert_eq!(Certificate::from_json(&again).as_ref(), Ok(&cert));
        if unique.is_ok() {
            assert!(check_no_duplicate_members(&again).is_ok());
        }
    }
});
