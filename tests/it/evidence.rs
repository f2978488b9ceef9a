//! Evidence that lasts (issue K8): the signed receipt (確認記録) of each verification,
//! the service's published keys, and rotation that keeps old receipts verifiable.

use kakunin::app::receipt::{self, PublicKey};
use kakunin_testkit::client::item;
use kakunin_testkit::issuer::unknown_key;
use kakunin_testkit::process::{assert_exit, stderr, stdout};
use kakunin_testkit::service::ServiceProcess;
use serde_json::Value;

use super::start;

/// The public keys of `/.well-known/jwks.json`, read as the receipt check takes them.
async fn published_keys(service: &ServiceProcess) -> Vec<PublicKey> {
    let res = service.anonymous_api().get("/.well-known/jwks.json").await;
    assert_eq!(res.status(), 200);
    let set: Value = res.json().await.unwrap();
    set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            assert_eq!(k["kty"], "OKP");
            assert_eq!(k["crv"], "Ed25519");
            assert_eq!(k["use"], "sig");
            PublicKey {
                kid: k["kid"].as_str().unwrap().to_owned(),
                x: k["x"].as_str().unwrap().to_owned(),
                not_before: k["not_before"].as_str().unwrap().to_owned(),
                not_after: k["not_after"].as_str().map(str::to_owned),
            }
        })
        .collect()
}

fn receipt_bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(&v["receipt"]).unwrap()
}

#[tokio::test]
async fn each_verification_with_a_record_gets_a_receipt_that_survives_key_rotation() {
    let (issuer, mut service) = start();
    let api = service.api("keiyaku", "verify");
    let k = issuer.demo_key("W2025000001");
    let v = api
        .verify(&item(&k.certificate_number, &k.auth_key, "r-1"))
        .await;
    let keys = published_keys(&service).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let r = receipt::verify(&receipt_bytes(&v), &keys).expect("the receipt verifies");
    assert_eq!(r.verification_id, v["id"].as_str().unwrap());
    assert_eq!(r.certificate_number, "W2025000001");
    assert_eq!(r.outcome, v["outcome"].as_str().unwrap());
    assert_eq!(r.issuer, "wjcs");
    assert_eq!(r.officer, "token:keiyaku");
    assert!(r.checked_at.ends_with("+09:00"), "{}", r.checked_at);
    assert_eq!(
        serde_json::from_str::<Value>(r.rules.get()).unwrap(),
        v["rules"]
    );
    let again = api
        .get_json(&format!("/api/v1/verifications/{}", r.verification_id))
        .await;
    assert_eq!(
        again["receipt"], v["receipt"],
        "the stored receipt is read back"
    );

    let missing = api
        .verify(&item("W2099000001", &unknown_key(1), "nf"))
        .await;
    assert_eq!(missing["outcome"], "not_found");
    assert!(missing["receipt"].is_null(), "{missing}");

    let out = service.cli(&["key", "rotate"]);
    assert_exit(&out, 0);
    service.restart();
    let api = service.api("keiyaku2", "verify");
    let newer = api
        .verify(&item(&k.certificate_number, &k.auth_key, "r-2"))
        .await;
    let keys = published_keys(&service).await;
    assert_eq!(keys.len(), 2, "the retired key stays published: {keys:?}");
    assert!(keys[0].not_after.is_some() && keys[1].not_after.is_none());
    let old = receipt::verify(&receipt_bytes(&v), &keys).expect("the old receipt verifies");
    let new = receipt::verify(&receipt_bytes(&newer), &keys).expect("the new one too");
    assert_eq!(old.verification_id, v["id"].as_str().unwrap());
    assert_eq!(new.verification_id, newer["id"].as_str().unwrap());

    // A receipt whose outcome was changed no longer verifies.
    let mut forged = v["receipt"].clone();
    let payload = forged["payload"].as_str().unwrap().to_owned();
    let text = String::from_utf8(
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &payload)
            .unwrap(),
    )
    .unwrap()
    .replace("\"verified\"", "\"rejected\"");
    forged["payload"] = Value::String(base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        text,
    ));
    let err = receipt::verify(&serde_json::to_vec(&forged).unwrap(), &keys).unwrap_err();
    assert!(err.to_string().contains("署名が正しくありません"), "{err}");
}

/// The kid a verification's receipt was signed with.
fn receipt_kid(v: &Value) -> String {
    let protected = v["receipt"]["protected"].as_str().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, protected)
            .unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

/// `kakunin key rotate` while the service runs: the service takes the new key up by
/// itself, and nothing signed around the rotation stops verifying: not a bundle
/// downloaded before it (its copy of the old key still says "current"), not a receipt
/// signed by the old key in the moment before the service saw the new one.
#[tokio::test]
async fn a_rotation_while_serving_leaves_every_receipt_and_bundle_valid() {
    let (issuer, service) = start();
    let api = service.api("keiyaku", "verify");
    let k = issuer.demo_key("W2025000001");
    let items: Vec<Value> = ["r-1", "r-2", "r-3"]
        .iter()
        .map(|r| item(&k.certificate_number, &k.auth_key, r))
        .collect();
    let before = api.verify(&items[0]).await;
    let id = before["id"].as_str().unwrap().to_owned();
    let res = api
        .get(&format!("/api/v1/verifications/{id}/evidence"))
        .await;
    assert_eq!(res.status(), 200);
    let bundle_file = service.dir().join("before-rotation.json");
    std::fs::write(&bundle_file, res.bytes().await.unwrap()).unwrap();

    let out = service.cli(&["key", "rotate"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let during = api.verify(&items[1]).await;
    // The running service publishes and uses the new key without a restart.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let keys = loop {
        let keys = published_keys(&service).await;
        if keys.len() == 2 || std::time::Instant::now() > deadline {
            break keys;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(keys.len(), 2, "the new key is published: {keys:?}");
    let after = api.verify(&items[2]).await;
    assert_eq!(receipt_kid(&before), keys[0].kid);
    assert_eq!(receipt_kid(&after), keys[1].kid, "signed with the new key");

    for v in [&before, &during, &after] {
        receipt::verify(&receipt_bytes(v), &keys).expect("each receipt verifies");
        let out = service.cli(&["evidence", "verify", v["id"].as_str().unwrap()]);
        assert_exit(&out, 0);
    }
    let out = service.cli(&["evidence", "verify", bundle_file.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a bundle from before the rotation: {}{}",
        stdout(&out),
        stderr(&out)
    );
}

/// Runs `kakunin evidence verify` on a bundle file the way a machine without the
/// service would: no database, no keys, no registry of its own.
fn verify_bundle_alone(service: &ServiceProcess, bundle: &Value) -> (Option<i32>, String) {
    verify_bundle_away(service, bundle, None)
}

/// As [`verify_bundle_alone`], on a machine that has `keys_json` (the service's public
/// receipt key set, and nothing else of it) when given.
fn verify_bundle_away(
    service: &ServiceProcess,
    bundle: &Value,
    keys_json: Option<&std::path::Path>,
) -> (Option<i32>, String) {
    let away = tempfile::tempdir().unwrap();
    if let Some(keys_json) = keys_json {
        let dir = away.path().join("keys/receipt-keys");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(keys_json, dir.join("keys.json")).unwrap();
    }
    let file = away.path().join("evidence.json");
    std::fs::write(&file, serde_json::to_vec(bundle).unwrap()).unwrap();
    let db = away.path().join("none.db");
    let out = service
        .command()
        .env("KAKUNIN_DATABASE_URL", &db)
        .env(
            "KAKUNIN_AUDIT_SIGNING_KEY_FILE",
            away.path().join("keys/audit.key"),
        )
        .env("KAKUNIN_ISSUERS_FILE", away.path().join("none.toml"))
        .args(["evidence", "verify", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!db.exists(), "a bundle is checked without any database");
    (
        out.status.code(),
        format!("{}{}", stdout(&out), stderr(&out)),
    )
}

/// An auditor's machine with only the service's `keys.json` (no private key) checks a
/// bundle against it: a receipt changed and re-signed with a key of the forger's own,
/// under the service's kid, is refused there. With no key set at all the bundle's own
/// keys are all there is, and the output says so.
#[tokio::test]
async fn a_bundle_re_signed_under_the_services_kid_is_refused_where_keys_json_is() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let (_issuer, service, api, v) = super::one_verification().await;
    let res = api
        .get(&format!(
            "/api/v1/verifications/{}/evidence",
            v["id"].as_str().unwrap()
        ))
        .await;
    let mut bundle: Value = res.json().await.unwrap();
    let kid = receipt_kid(&v);
    let receipt: Value = serde_json::from_str(bundle["receipt"].as_str().unwrap()).unwrap();
    let payload = String::from_utf8(
        URL_SAFE_NO_PAD
            .decode(receipt["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap()
    .replace("token:keiyaku", "token:someone-else");
    let forger = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    bundle["receipt"] = kakunin_protocol::jws::sign_as(
        kakunin_protocol::jws::RECEIPT_TYP,
        payload.as_bytes(),
        &kid,
        &forger,
    )
    .into();
    for key in bundle["receipt_keys"].as_array_mut().unwrap() {
        if key["kid"] == kid.as_str() {
            key["x"] = URL_SAFE_NO_PAD
                .encode(forger.verifying_key().as_bytes())
                .into();
        }
    }
    let (code, text) = verify_bundle_alone(&service, &bundle);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("確かめていません"),
        "says what it trusted: {text}"
    );

    let keys_json = service
        .audit_key_path()
        .parent()
        .unwrap()
        .join("receipt-keys/keys.json");
    let (code, text) = verify_bundle_away(&service, &bundle, Some(&keys_json));
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains(&kid), "{text}");
    // An unreadable key set is no key set: the check stops rather than trust the bundle.
    let garbage = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(garbage.path(), "not json").unwrap();
    let (code, text) = verify_bundle_away(&service, &bundle, Some(garbage.path()));
    assert_eq!(code, Some(2), "{text}");
}

/// Replaces `from` by `to` inside the base64url payload of a flattened JWS given as text.
fn edit_payload(jws_text: &str, from: &str, to: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let mut jws: Value = serde_json::from_str(jws_text).unwrap();
    let payload = String::from_utf8(
        URL_SAFE_NO_PAD
            .decode(jws["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert!(payload.contains(from), "{from} in {payload}");
    jws["payload"] = Value::String(URL_SAFE_NO_PAD.encode(payload.replacen(from, to, 1)));
    jws.to_string()
}

#[tokio::test]
async fn evidence_outlives_both_key_rotations_and_the_database_and_names_tampering() {
    let (mut issuer, mut service) = start();
    let api = service.api("keiyaku", "verify");
    let k = issuer.demo_key("W2025000001").clone();
    let first = api
        .verify(&item(&k.certificate_number, &k.auth_key, "r-1"))
        .await;
    let first_id = first["id"].as_str().unwrap().to_owned();

    // The issuer rotates its key; the registry keeps the old one beside the new.
    let out = issuer.cli(&["rotate-key", "--kid", "wjcs-2099"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let printed = stdout(&out);
    let block = &printed[printed.find("[[issuer.key]]").expect("a registry block")..];
    issuer.restart();
    service.set_registry(&format!("{}\n{block}", issuer.registry_toml));
    // ...and so does the service.
    let out = service.cli(&["key", "rotate"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    service.restart();
    let api = service.api("keiyaku2", "verify");
    let second = api
        .verify(&item(&k.certificate_number, &k.auth_key, "r-2"))
        .await;
    // A record keeps the signature it was issued with (the issuer re-signs only what it
    // amends), so both verifications rest on the old key, now beside the new one.
    assert_eq!(
        second["signature"]["kid"], first["signature"]["kid"],
        "{second}"
    );

    for id in [&first_id, second["id"].as_str().unwrap()] {
        let out = service.cli(&["evidence", "verify", id]);
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
        assert!(
            text.contains("【有効】") && text.contains("監査ログ"),
            "{text}"
        );
    }

    let res = api
        .get(&format!("/api/v1/verifications/{first_id}/evidence"))
        .await;
    assert_eq!(res.status(), 200);
    let bundle: Value = res.json().await.unwrap();
    let summary = bundle["summary_html"].as_str().unwrap();
    assert!(summary.contains("W2025000001"));
    // Read away from the service: who checked as the page names them, and no buttons
    // that lead back to the service.
    assert!(
        summary.contains("API: keiyaku") && !summary.contains("token:keiyaku"),
        "{summary}"
    );
    assert!(!summary.contains("照会結果に戻る"), "{summary}");
    let (code, text) = verify_bundle_alone(&service, &bundle);
    assert_eq!(code, Some(0), "{text}");

    let receipt_kid = bundle["receipt_keys"][1]["x"].clone();
    // Another certificate's record, validly signed by the same issuer.
    let other = issuer.demo_key("W2025000015").clone();
    let third = api
        .verify(&item(&other.certificate_number, &other.auth_key, "r-3"))
        .await;
    let other_jws = {
        let b: Value = api
            .get_json(&format!(
                "/api/v1/verifications/{}/evidence",
                third["id"].as_str().unwrap()
            ))
            .await;
        b["issuer_jws"].clone()
    };
    type Tamper = Box<dyn Fn(&mut Value)>;
    let tamperings: Vec<(&str, Tamper, &str)> = vec![
        (
            "the issuer's JWS swapped for another",
            Box::new(move |b| b["issuer_jws"] = other_jws.clone()),
            "電子証書（JWS）が確認記録と一致しません",
        ),
        (
            "the receipt's outcome changed",
            Box::new(|b| {
                let r = edit_payload(
                    b["receipt"].as_str().unwrap(),
                    "\"verified\"",
                    "\"rejected\"",
                );
                b["receipt"] = Value::String(r);
            }),
            "確認記録の署名が正しくありません",
        ),
        (
            "the receipt key replaced in the key set",
            Box::new(move |b| b["receipt_keys"][0]["x"] = receipt_kid.clone()),
            "確認記録の署名が正しくありません",
        ),
        (
            "the issuer's key replaced in the registry entry",
            Box::new(|b| {
                let new = b["registry_entry"]["keys"]
                    .as_array()
                    .unwrap()
                    .last()
                    .unwrap()["x"]
                    .clone();
                b["registry_entry"]["keys"][0]["x"] = new;
            }),
            "保証事業会社の電子証書: 署名が正しくありません",
        ),
        (
            "the rule profile edited",
            Box::new(|b| {
                let t = b["profile"]["text"].as_str().unwrap().to_owned() + "\n# edited\n";
                b["profile"]["text"] = Value::String(t);
            }),
            "ルールプロファイルが確認記録の指すもの",
        ),
    ];
    for (what, tamper, reason) in tamperings {
        let mut b = bundle.clone();
        tamper(&mut b);
        let (code, text) = verify_bundle_alone(&service, &b);
        assert_eq!(code, Some(2), "{what}: {text}");
        assert!(
            text.contains(reason),
            "{what}: expected 「{reason}」 in {text}"
        );
    }
}

/// Another party checks a receipt with a JOSE library that is not ours (Python's
/// joserfc, installed from PyPI into `target/jose-venv` by `scripts/jose-venv.sh`),
/// following `docs/receipt.md` only.
#[tokio::test]
async fn a_receipt_verifies_with_another_jose_library() {
    let root = kakunin_testkit::bins::workspace_root();
    let venv = std::process::Command::new(root.join("scripts/jose-venv.sh"))
        .output()
        .unwrap();
    assert!(venv.status.success(), "{}", stderr(&venv));
    let python = stdout(&venv).trim().to_owned();

    let (_issuer, service, _api, v) = super::one_verification().await;
    let jwks: Value = service
        .anonymous_api()
        .get_json("/.well-known/jwks.json")
        .await;
    let dir = tempfile::tempdir().unwrap();
    let check = |receipt: &Value| {
        std::fs::write(dir.path().join("receipt.json"), receipt.to_string()).unwrap();
        std::fs::write(dir.path().join("jwks.json"), jwks.to_string()).unwrap();
        std::process::Command::new(&python)
            .arg(root.join("scripts/verify-receipt-joserfc.py"))
            .arg(dir.path().join("receipt.json"))
            .arg(dir.path().join("jwks.json"))
            .output()
            .unwrap()
    };
    let out = check(&v["receipt"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let payload: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(payload["verification_id"], v["id"]);
    assert_eq!(payload["certificate_number"], "W2025000001");

    let forged = edit_payload(&v["receipt"].to_string(), "W2025000001", "W2025000002");
    let out = check(&serde_json::from_str(&forged).unwrap());
    assert!(
        !out.status.success(),
        "a forged receipt fails: {}",
        stdout(&out)
    );
}

/// An auditor's machine: no source tree (so no `config/`), a copy of the registry whose
/// `ca_file` was left behind, perhaps a profile name it lacks. The bundle and the
/// stored record are still checked; whether today's rules were compared is said.
#[tokio::test]
async fn an_auditors_machine_without_the_rules_or_the_ca_file_checks_and_says_what_it_compared() {
    let (issuer, service, api, v) = super::one_verification().await;
    let id = v["id"].as_str().unwrap();
    let res = api
        .get(&format!("/api/v1/verifications/{id}/evidence"))
        .await;
    assert_eq!(res.status(), 200);
    let bundle: Value = res.json().await.unwrap();

    let away = tempfile::tempdir().unwrap();
    let file = away.path().join("evidence.json");
    std::fs::write(&file, serde_json::to_vec(&bundle).unwrap()).unwrap();
    let jws = away.path().join("record.jws");
    std::fs::write(&jws, bundle["issuer_jws"].as_str().unwrap()).unwrap();
    // The registry as copied from the server, naming a CA file this machine lacks.
    let registry = away.path().join("issuers.toml");
    let copied =
        issuer
            .registry_toml
            .replacen("base_url =", "ca_file = \"wjcs-ca.pem\"\nbase_url =", 1);
    assert!(copied.contains("ca_file"), "{copied}");
    std::fs::write(&registry, copied).unwrap();
    let run = |profile: Option<&str>, args: &[&str]| {
        let mut cmd = service.command();
        cmd.current_dir(away.path())
            .env("KAKUNIN_DATABASE_URL", away.path().join("none.db"))
            .env(
                "KAKUNIN_AUDIT_SIGNING_KEY_FILE",
                away.path().join("keys/audit.key"),
            )
            .env("KAKUNIN_ISSUERS_FILE", &registry)
            .args(args);
        if let Some(p) = profile {
            cmd.env("KAKUNIN_PROFILE", p);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            format!("{}{}", stdout(&out), stderr(&out)),
        )
    };
    let bundle_args = [
        "evidence",
        "verify",
        file.to_str().unwrap(),
        "--registry",
        registry.to_str().unwrap(),
    ];

    // No config/ here: the built-in oita profile is today's rules.
    let (code, text) = run(None, &bundle_args);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("【有効】現在のルールでも同じ結果です"),
        "{text}"
    );
    assert!(!text.contains("ca_file"), "{text}");

    // A profile nobody has: valid on its own rules, and nothing claimed about today's.
    let (code, text) = run(Some("nosuch"), &bundle_args);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("比べていません")
            && text.contains("KAKUNIN_PROFILE")
            && !text.contains("現在のルールでも同じ結果です"),
        "{text}"
    );

    let (code, text) = run(
        None,
        &[
            "record",
            "verify",
            jws.to_str().unwrap(),
            "--issuer",
            "wjcs",
            "--registry",
            registry.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(0), "a record checked offline: {text}");
}

/// `kakunin evidence verify … | head -1`: the reader goes away and the command ends as a
/// Unix tool does (SIGPIPE), without a panic on standard error.
#[tokio::test]
async fn a_command_whose_reader_goes_away_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let (_issuer, service, _api, v) = super::one_verification().await;
    // A pipe whose reading end is closed before the command writes a byte.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = service
        .command()
        .args(["evidence", "verify", v["id"].as_str().unwrap()])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{err}"
    );
    assert_eq!(
        out.status.signal(),
        Some(13),
        "ended by SIGPIPE: {:?}",
        out.status
    );
}

/// `kakunin evidence verify` reads an id as the check page does (lower case, full width,
/// blanks around it; the printout's QR text is the next test's), and says in Japanese what is wrong with a file that is not
/// a bundle or is not there, without serde's English.
#[tokio::test]
async fn evidence_verify_reads_an_id_as_typed_and_names_a_bad_file_in_japanese() {
    let (_issuer, service, _api, v) = super::one_verification().await;
    let id = v["id"].as_str().unwrap();
    let full_width: String = id
        .chars()
        .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap())
        .collect();
    for typed in [id.to_lowercase(), full_width, format!(" {id} ")] {
        let out = service.cli(&["evidence", "verify", &typed]);
        assert_eq!(out.status.code(), Some(0), "{typed}: {}", stdout(&out));
    }
    let dir = tempfile::tempdir().unwrap();
    let not_json = dir.path().join("passwd");
    std::fs::write(&not_json, "root:x:0:0:root:/root:/bin/bash\n").unwrap();
    let not_bundle = dir.path().join("other.json");
    std::fs::write(&not_bundle, "{\n  \"receipt\": 1\n}\n").unwrap();
    let missing = dir.path().join("evidence.json");
    for (file, said) in [
        (&not_json, "JSON として読めません（1行目"),
        (&not_bundle, "JSON ですが証拠一式の形ではありません"),
        (&missing, "ファイルがありません"),
    ] {
        let out = service.cli(&["evidence", "verify", file.to_str().unwrap()]);
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert!(text.contains(said), "{said}: {text}");
        assert!(!text.contains("expected"), "no serde English: {text}");
    }
}

/// `kakunin evidence verify` given a printout's QR text compares its receipt digest, as
/// the check page does: an altered paper is 【無効】, not a valid verification. An issuer's
/// notice QR text is named for what it is, and its 認証キー is not printed back.
#[tokio::test]
async fn evidence_verify_compares_the_printed_digest_and_never_echoes_a_notice() {
    let (issuer, service, api, v) = super::one_verification().await;
    let id = v["id"].as_str().unwrap();
    let bundle = api
        .get_json(&format!("/api/v1/verifications/{id}/evidence"))
        .await;
    let digest = receipt::paper_digest(bundle["receipt"].as_str().unwrap());
    let printed = kakunin::domain::paper::qr_text(id, &digest);
    let out = service.cli(&["evidence", "verify", &printed]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    let mut altered = printed.clone();
    let last = altered.pop().unwrap();
    altered.push(if last == 'A' { 'B' } else { 'A' });
    let out = service.cli(&["evidence", "verify", &altered]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("異なります"), "{text}");

    let k = issuer.demo_key("W2025000001");
    let key = kakunin_protocol::ids::AuthKey::parse(&k.auth_key).unwrap();
    let notice = kakunin_protocol::notice::text_of("wjcs", &k.certificate_number, &key);
    let out = service.cli(&["evidence", "verify", &notice]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("保証事業会社のお知らせ"), "{text}");
    assert!(!text.contains("ファイルがありません"), "{text}");
    assert!(
        !text.contains(key.expose()),
        "the key is not echoed: {text}"
    );
}
