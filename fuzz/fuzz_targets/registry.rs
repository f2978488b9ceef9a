//! The trust-registry file (`issuer-protocol.md` §5) as the service loads it at start:
//! any text is a registry or an error naming a line of the text, never a panic.
//!
//! Texts that name a `ca_file` are skipped: the loader would read that file from disk
//! (the fuzzer would find `/dev/zero`), which is the operator's choice, not input.
#![no_main]

use kakunin_protocol::registry::{base_url_problem, Registry};
use kakunin_protocol::CertificateNumber;
use libfuzzer_sys::fuzz_target;

/// Whether any table of the parsed text holds a `ca_file` key, however it is spelled.
fn names_a_file(value: &toml::Value) -> bool {
    match value {
        toml::Value::Table(t) => t.iter().any(|(k, v)| k == "ca_file" || names_a_file(v)),
        toml::Value::Array(a) => a.iter().any(names_a_file),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = base_url_problem(text);
    if let Ok(value) = text.parse::<toml::Value>() {
        if names_a_file(&value) {
            return;
        }
    }
    match Registry::from_toml_str(text, "issuers.toml", |var| {
        (var == "KAKUNIN_TOKEN").then(|| "token".to_owned())
    }) {
        Ok(registry) => {
            let number = CertificateNumber::parse("W2025000123").expect("canonical");
            let _ = registry.route(&number);
            for issuer in registry.issuers() {
                let _ = (issuer.lookup_url(), issuer.jwks_url());
                for key in issuer.keys() {
                    assert!(!key.is_weak(), "a weak key is refused at load");
                    let _ = registry.key(&issuer.id, key.kid());
                }
            }
        }
        Err(e) => {
            assert!(
                e.line.is_some_and(|l| l >= 1 && l <= text.lines().count().max(1) + 1),
                "{e}"
            );
        }
    }
});
