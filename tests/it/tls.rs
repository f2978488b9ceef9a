//! K13: the auth key travels only over TLS (`issuer-protocol.md` §5). The real
//! `kakunin-issuer` serves https on loopback with certificates of a CA this test makes;
//! the real `kakunin serve` looks numbers up through it, and `kakunin issuer check`
//! reports on it.

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use kakunin_testkit::issuer::IssuerProcess;
use kakunin_testkit::service::{ServiceProcess, OFFICE};
use kakunin_testkit::tls::{TestCa, Validity};
use serde_json::{json, Value};

const CA_NAME: &str = "試験用私設CA";

/// `registry` with `ca_file = path` on its (one) issuer.
fn with_ca_file(registry: &str, path: &Path) -> String {
    registry.replacen(
        "number_pattern",
        &format!("ca_file = \"{}\"\nnumber_pattern", path.display()),
        1,
    )
}

/// One lookup of a demo number through the service's API; the Verification.
async fn verify(service: &ServiceProcess, issuer: &IssuerProcess, number: &str) -> Value {
    let token = service.create_token("tls", OFFICE, "verify");
    let k = issuer.demo_key(number);
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/verifications", service.base_url))
        .bearer_auth(token)
        .json(&json!({"certificate_number": k.certificate_number, "auth_key": k.auth_key}))
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), 201);
    res.json().await.expect("a Verification")
}

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `kakunin issuer check wjcs` against the service's registry: exit code and output.
fn check(service: &ServiceProcess) -> (i32, String) {
    let o = service.cli(&["issuer", "check", "wjcs"]);
    (o.status.code().expect("exit code"), out(&o))
}

#[tokio::test]
async fn a_lookup_over_tls_verifies_with_the_issuers_ca_file() {
    let ca = TestCa::new(CA_NAME);
    let cert = ca.server_cert("good", &["127.0.0.1"], Validity::Current);
    let issuer = IssuerProcess::start_tls(&cert);
    assert!(issuer.base_url.starts_with("https://127.0.0.1:"));
    assert!(
        issuer.registry_toml.contains(&issuer.base_url),
        "the registry names the https base_url:\n{}",
        issuer.registry_toml
    );
    let service = ServiceProcess::start(&with_ca_file(&issuer.registry_toml, &ca.ca_file()));

    let v = verify(&service, &issuer, "W2025000001").await;
    assert_eq!(v["outcome"], "verified", "{v}");

    let (code, report) = check(&service);
    assert_eq!(code, 0, "{report}");
    assert!(report.contains("TLS: 検証済み"), "{report}");
    assert!(
        report.contains(&format!("ca_file {}", ca.ca_file().display())),
        "names the CA file that vouched: {report}"
    );
    assert!(report.contains(CA_NAME), "names the CA: {report}");
    assert!(report.contains("一致"), "{report}");
}

/// The service trusting `registry`, asked for a demo number: the outcome must be
/// `issuer_unavailable` with `says` in its detail, and `issuer check` must exit 2
/// saying the same.
async fn refused(issuer: &IssuerProcess, registry: &str, says: &str) {
    let service = ServiceProcess::start(registry);
    let v = verify(&service, issuer, "W2025000001").await;
    assert_eq!(
        v["outcome"], "issuer_unavailable",
        "never invalid_record: {v}"
    );
    let detail = v["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(says), "{detail}");
    let (code, report) = check(&service);
    assert_eq!(code, 2, "{report}");
    assert!(report.contains(says), "{report}");
    assert!(report.contains("TLS: 検証できません"), "{report}");
}

#[tokio::test]
async fn without_the_ca_file_the_certificate_is_untrusted() {
    let ca = TestCa::new(CA_NAME);
    let cert = ca.server_cert("good", &["127.0.0.1"], Validity::Current);
    let issuer = IssuerProcess::start_tls(&cert);
    refused(
        &issuer,
        &issuer.registry_toml,
        "信頼できない発行元）。私設 CA なら信頼登録簿の ca_file",
    )
    .await;
    // Another issuer's private CA vouches for nobody else's host; the refusal names
    // the ca_file that did not help, rather than ask for one.
    let other = TestCa::new("別の私設CA");
    refused(
        &issuer,
        &with_ca_file(&issuer.registry_toml, &other.ca_file()),
        &format!(
            "信頼登録簿の ca_file「{}」の CA でも OS の CA でも検証できません",
            other.ca_file().display()
        ),
    )
    .await;
}

#[tokio::test]
async fn a_certificate_for_another_host_is_refused() {
    let ca = TestCa::new(CA_NAME);
    let cert = ca.server_cert("other-host", &["issuer.example.jp"], Validity::Current);
    let issuer = IssuerProcess::start_tls(&cert);
    let registry = with_ca_file(&issuer.registry_toml, &ca.ca_file());
    refused(&issuer, &registry, "ホスト名不一致").await;
}

#[tokio::test]
async fn an_expired_certificate_is_refused() {
    let ca = TestCa::new(CA_NAME);
    let cert = ca.server_cert("expired", &["127.0.0.1"], Validity::Expired);
    let issuer = IssuerProcess::start_tls(&cert);
    let registry = with_ca_file(&issuer.registry_toml, &ca.ca_file());
    refused(&issuer, &registry, "証明書の期限切れ").await;
}

#[tokio::test]
async fn issuer_check_exits_1_when_the_registry_keys_differ_and_2_when_unreachable() {
    let ca = TestCa::new(CA_NAME);
    let cert = ca.server_cert("good", &["127.0.0.1"], Validity::Current);
    let issuer = IssuerProcess::start_tls(&cert);
    let registry = with_ca_file(&issuer.registry_toml, &ca.ca_file());
    let service = ServiceProcess::start(&registry);
    assert_eq!(check(&service).0, 0);

    // The demo key's kid with another key's x: a registry that would refuse every record.
    let x = registry
        .lines()
        .find_map(|l| l.strip_prefix("x = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("an x in the registry")
        .to_owned();
    let other = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
    service.set_registry(&registry.replace(&x, &URL_SAFE_NO_PAD.encode(other.as_bytes())));
    let (code, report) = check(&service);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("不一致"), "{report}");
    assert!(
        report.contains("TLS: 検証済み"),
        "TLS itself is fine: {report}"
    );

    // Nobody listening.
    let closed = format!("https://127.0.0.1:{}", closed_port());
    service.set_registry(&registry.replace(&issuer.base_url, &closed));
    let (code, report) = check(&service);
    assert_eq!(code, 2, "{report}");
    assert!(report.contains("到達: できません"), "{report}");

    let o = service.cli(&["issuer", "check", "nobody"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        out(&o).contains("wjcs"),
        "lists the ids there are: {}",
        out(&o)
    );

    let help = out(&service.cli(&["issuer", "check", "--help"]));
    assert!(help.contains("終了コード"), "{help}");
}

/// A loopback port nobody listens on: bound, then released.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A loopback listener that counts the connections it accepts.
struct Recorder {
    port: u16,
    seen: Arc<AtomicUsize>,
}

impl Recorder {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("listener");
        let port = listener.local_addr().expect("address").port();
        let seen = Arc::new(AtomicUsize::new(0));
        let counter = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                counter.fetch_add(1, Ordering::SeqCst);
                let mut stream = stream;
                let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
                let _ = stream.read(&mut [0; 1024]);
            }
        });
        Self { port, seen }
    }
}

/// Runs `cmd` for at most 20 s; a `serve` that starts despite the registry is killed
/// and reported as running (exit code `None`).
fn run_briefly(mut cmd: Command) -> (Option<i32>, String) {
    let log = tempfile::NamedTempFile::new().expect("log");
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(log.reopen().expect("log"))
        .spawn()
        .expect("run kakunin");
    let code = kakunin_testkit::process::exit_code_within(&mut child, Duration::from_secs(20));
    (
        code,
        std::fs::read_to_string(log.path()).unwrap_or_default(),
    )
}

#[tokio::test]
async fn plain_http_to_a_host_that_is_not_loopback_stops_every_command_at_start() {
    let issuer = IssuerProcess::start();
    let service = ServiceProcess::start(&issuer.registry_toml);
    // Every plain-http request of the service would go through this proxy, so a request
    // to the registry's host, had one been sent, would be seen here.
    let proxy = Recorder::start();
    let bad_url = "http://issuer.example.jp";
    let registry = issuer.registry_toml.replace(&issuer.base_url, bad_url);
    service.set_registry(&registry);
    let line = registry
        .lines()
        .position(|l| l.starts_with("base_url"))
        .expect("a base_url line")
        + 1;
    let where_ = format!("issuers.toml:{line}");

    let with_proxy = |args: &[&str]| {
        let mut cmd = service.command();
        cmd.args(args);
        for var in ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"] {
            cmd.env(var, format!("http://127.0.0.1:{}", proxy.port));
        }
        for var in ["no_proxy", "NO_PROXY"] {
            cmd.env_remove(var);
        }
        cmd
    };
    let record = issuer.demo_dir().join("records");
    let record = std::fs::read_dir(&record)
        .expect("demo records")
        .flatten()
        .next()
        .expect("one demo record")
        .path();
    for args in [
        vec!["serve"],
        vec!["migrate"],
        vec!["issuer", "check", "wjcs"],
        vec![
            "record",
            "verify",
            record.to_str().expect("utf-8"),
            "--issuer",
            "wjcs",
        ],
    ] {
        let (code, stderr) = run_briefly(with_proxy(&args));
        assert_eq!(code, Some(2), "{args:?} must stop at start: {stderr}");
        assert!(
            stderr.contains(&where_),
            "{args:?} names file and line: {stderr}"
        );
        assert!(stderr.contains(bad_url), "{args:?}: {stderr}");
        assert!(stderr.contains("https://"), "{args:?}: {stderr}");
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        proxy.seen.load(Ordering::SeqCst),
        0,
        "no request may leave for an http:// issuer"
    );

    // The control: the same host over https is allowed, and its request does reach the
    // proxy, so the count above could have seen one.
    service.set_registry(&registry.replace(bad_url, "https://issuer.example.jp"));
    let mut cmd = with_proxy(&["issuer", "check", "wjcs"]);
    cmd.env("https_proxy", format!("http://127.0.0.1:{}", proxy.port))
        .env("HTTPS_PROXY", format!("http://127.0.0.1:{}", proxy.port));
    let (code, report) = run_briefly(cmd);
    assert_eq!(code, Some(2), "the proxy does not answer: {report}");
    assert!(proxy.seen.load(Ordering::SeqCst) >= 1);
}
