//! The reference issuer over https (`service.md`: `KAKUNIN_ISSUER_TLS_CERT`,
//! `KAKUNIN_ISSUER_TLS_KEY`): the real binary with certificates of a CA the test makes.

use std::process::{Command, Stdio};
use std::time::Duration;

use kakunin_protocol::registry::Registry;
use kakunin_testkit::issuer::IssuerProcess;
use kakunin_testkit::tls::{ServerCert, TestCa, Validity};
use serde_json::json;

/// A client that trusts `ca` and nothing else.
fn trusting(ca: &TestCa) -> reqwest::Client {
    let pem = std::fs::read(ca.ca_file()).expect("ca.pem");
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("a PEM certificate"))
        .build()
        .expect("client")
}

#[tokio::test]
async fn serves_https_with_the_given_certificate_and_nothing_in_clear() {
    let ca = TestCa::new("試験用私設CA");
    let cert = ca.server_cert("good", &["127.0.0.1"], Validity::Current);
    let iss = IssuerProcess::start_tls(&cert);
    assert!(iss.base_url.starts_with("https://"), "{}", iss.base_url);

    let http = trusting(&ca);
    let res = http
        .get(format!("{}/healthz", iss.base_url))
        .send()
        .await
        .expect("https /healthz");
    assert_eq!(res.status(), 200);
    let k = iss.demo_key("W2025000001");
    let res = http
        .post(iss.lookup_url())
        .bearer_auth(&iss.token)
        .json(&json!({"certificate_number": k.certificate_number, "auth_key": k.auth_key}))
        .send()
        .await
        .expect("https lookup");
    assert_eq!(res.status(), 200);

    // The registry demo-seed printed says https, so relying parties load it as written.
    let reg = Registry::from_toml_str(&iss.registry_toml, "issuers.toml", |_| None)
        .expect("the printed registry loads");
    let wjcs = reg.issuer("wjcs").expect("wjcs");
    assert_eq!(wjcs.base_url, iss.base_url);

    let plain = iss.base_url.replacen("https://", "http://", 1);
    let res = reqwest::get(format!("{plain}/healthz")).await;
    assert!(
        res.map(|r| r.status() != 200).unwrap_or(true),
        "no plain-http answer on the https port"
    );
}

/// Runs `kakunin-issuer serve` with the kit's settings plus `tls`, on port 0,
/// for at most 20 s: the exit code (`None` if it kept running) and standard error.
fn serve_with(iss: &IssuerProcess, tls: &[(&str, &std::path::Path)]) -> (Option<i32>, String) {
    let mut cmd: Command = iss.command();
    cmd.arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (var, path) in tls {
        cmd.env(var, path);
    }
    let mut child = cmd.spawn().expect("kakunin-issuer serve");
    let code = kakunin_testkit::process::exit_code_within(&mut child, Duration::from_secs(20));
    let out = child.wait_with_output().expect("output");
    (code, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test]
async fn half_or_broken_tls_settings_stop_serve_at_start_naming_what_is_wrong() {
    let ca = TestCa::new("試験用私設CA");
    let good: ServerCert = ca.server_cert("good", &["127.0.0.1"], Validity::Current);
    let other = ca.server_cert("other", &["127.0.0.1"], Validity::Current);
    let iss = IssuerProcess::start();

    let (code, err) = serve_with(&iss, &[("KAKUNIN_ISSUER_TLS_CERT", &good.cert)]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("KAKUNIN_ISSUER_TLS_CERT") && err.contains("KAKUNIN_ISSUER_TLS_KEY"),
        "{err}"
    );
    let (code, err) = serve_with(&iss, &[("KAKUNIN_ISSUER_TLS_KEY", &good.key)]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("両方"), "{err}");

    // The key given as the certificate: no certificate in it.
    let (code, err) = serve_with(
        &iss,
        &[
            ("KAKUNIN_ISSUER_TLS_CERT", &good.key),
            ("KAKUNIN_ISSUER_TLS_KEY", &good.key),
        ],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&good.key.display().to_string()), "{err}");

    // A certificate with another certificate's key.
    let (code, err) = serve_with(
        &iss,
        &[
            ("KAKUNIN_ISSUER_TLS_CERT", &good.cert),
            ("KAKUNIN_ISSUER_TLS_KEY", &other.key),
        ],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("対になっていない"), "{err}");

    let missing = ca.dir().join("missing.pem");
    let (code, err) = serve_with(
        &iss,
        &[
            ("KAKUNIN_ISSUER_TLS_CERT", &missing),
            ("KAKUNIN_ISSUER_TLS_KEY", &good.key),
        ],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&missing.display().to_string()), "{err}");
}
