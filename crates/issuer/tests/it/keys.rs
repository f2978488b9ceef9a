//! Signing keys: the JWKS, `rotate-key`, and what a relying party's registry must hold
//! to verify old and new records.

use kakunin_protocol::jws as record;
use kakunin_testkit::issuer::IssuerProcess;
use kakunin_testkit::process::{stderr, stdout};
use serde_json::{json, Value};

use super::{http, lookup_record, number, registry};

/// Runs `rotate-key --kid wjcs-2026` and gives the `[[issuer.key]]` block it prints.
fn rotate(iss: &IssuerProcess) -> String {
    let rotated = iss.cli(&["rotate-key", "--kid", "wjcs-2026"]);
    assert!(rotated.status.success(), "{}", stderr(&rotated));
    stdout(&rotated)
}

#[tokio::test]
async fn jwks_lists_every_key_as_an_ed25519_jwk() {
    let iss = IssuerProcess::start();
    rotate(&iss);
    let res = http()
        .get(format!("{}/v1/jwks", iss.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let set: Value = res.json().await.unwrap();
    let keys = set["keys"].as_array().unwrap();
    let kids: Vec<&str> = keys.iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids, ["wjcs-demo-2025", "wjcs-2026"]);
    for k in keys {
        assert_eq!(
            (&k["kty"], &k["crv"], &k["use"], &k["alg"]),
            (
                &json!("OKP"),
                &json!("Ed25519"),
                &json!("sig"),
                &json!("EdDSA")
            )
        );
        let x = k["x"].as_str().unwrap();
        assert_eq!(x.len(), 43, "32 bytes, base64url without padding");
        assert!(!x.contains('='));
    }
}

#[tokio::test]
async fn records_signed_before_rotate_key_keep_verifying_with_the_old_key() {
    let iss = IssuerProcess::start();
    let old_registry = registry(&iss.registry_toml);
    let k = iss.demo_key("W2025000001").clone();
    let before = lookup_record(&iss, &k.certificate_number, &k.auth_key).await;
    let rec = record::verify(&before, "wjcs", &number("W2025000001"), &old_registry).unwrap();
    assert_eq!(
        (rec.kid(), rec.certificate().revision),
        ("wjcs-demo-2025", 1)
    );

    let block = rotate(&iss);
    assert!(
        block.starts_with("[[issuer.key]]") && block.contains("kid = \"wjcs-2026\""),
        "{block}"
    );
    let new_registry = registry(&format!("{}\n{block}", iss.registry_toml));
    // Old revisions are never re-signed and still verify with the old key.
    record::verify(&before, "wjcs", &number("W2025000001"), &new_registry).unwrap();
    let k2 = iss.demo_key("W2025000002").clone();
    let untouched = lookup_record(&iss, &k2.certificate_number, &k2.auth_key).await;
    let rec = record::verify(&untouched, "wjcs", &number("W2025000002"), &new_registry).unwrap();
    assert_eq!(rec.kid(), "wjcs-demo-2025");
}

#[tokio::test]
async fn an_amendment_after_rotate_key_is_signed_with_the_new_key_only() {
    let iss = IssuerProcess::start();
    let old_registry = registry(&iss.registry_toml);
    let k = iss.demo_key("W2025000001").clone();
    let block = rotate(&iss);
    let new_registry = registry(&format!("{}\n{block}", iss.registry_toml));

    iss.amend(
        "W2025000001",
        &json!({"guarantee": {"amount_yen": 12_400_000}, "summary": "保証金額の変更"}),
    );

    let after = lookup_record(&iss, &k.certificate_number, &k.auth_key).await;
    let rec = record::verify(&after, "wjcs", &number("W2025000001"), &new_registry).unwrap();
    assert_eq!((rec.kid(), rec.certificate().revision), ("wjcs-2026", 2));
    assert_eq!(rec.certificate().guarantee.amount_yen, 12_400_000);
    let summaries: Vec<&str> = rec
        .certificate()
        .changes
        .iter()
        .map(|c| c.summary.as_str())
        .collect();
    assert_eq!(summaries, ["新規", "保証金額の変更"]);
    let e = record::verify(&after, "wjcs", &number("W2025000001"), &old_registry).unwrap_err();
    assert_eq!(e.code(), "unknown_kid");
}

#[test]
fn signing_key_files_are_private_and_a_readable_one_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let iss = IssuerProcess::start();
    let key = iss.keys_dir().join("wjcs-demo-2025.pem");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = iss.cli(&["cancel", "W2025000018"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));
}
