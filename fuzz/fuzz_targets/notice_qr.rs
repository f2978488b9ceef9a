//! The key notice's QR text (`issuer-protocol.md` §7) as a scanner types it: any text is
//! either not QR text, a refused QR text, or a notice whose text reads back to itself.
#![no_main]

use kakunin_protocol::notice::NoticeQr;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    match NoticeQr::recognise(input) {
        Ok(Some(qr)) => {
            assert!(!qr.issuer_id.is_empty());
            assert_eq!(NoticeQr::recognise(&qr.text()), Ok(Some(qr.clone())));
            assert!(!format!("{qr:?}").contains(qr.auth_key.expose()));
        }
        Ok(None) => {}
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
