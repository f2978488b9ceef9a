//! A private CA of the test's own, and server certificates from it (rcgen), written as
//! PEM files for the reference issuer's `KAKUNIN_ISSUER_TLS_CERT` / `_KEY` and a trust
//! registry's `ca_file`.
//!
//! ```ignore
//! let ca = TestCa::new("試験用私設 CA");
//! let good = ca.server_cert("good", &["127.0.0.1"], Validity::Current);
//! let issuer = IssuerProcess::start_tls(&good);
//! // registry: issuer.registry_toml plus `ca_file = ca.ca_file()`
//! ```

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tempfile::TempDir;

/// When a server certificate is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// From yesterday for a year.
    Current,
    /// A year long, ended yesterday.
    Expired,
}

/// A self-signed CA whose certificate and issued keys live in a temporary folder.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    dir: TempDir,
}

/// The PEM files of one server certificate.
#[derive(Debug, Clone)]
pub struct ServerCert {
    /// The chain (here the server certificate alone; the CA is the anchor).
    pub cert: PathBuf,
    /// The private key, PKCS#8.
    pub key: PathBuf,
}

impl TestCa {
    /// A new CA named `name` (its CN), with its certificate at [`Self::ca_file`].
    pub fn new(name: &str) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).expect("CA certificate");
        std::fs::write(dir.path().join("ca.pem"), cert.pem()).expect("write ca.pem");
        Self {
            issuer: Issuer::new(params, key),
            dir,
        }
    }

    /// The CA certificate, PEM: what a registry's `ca_file` names.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A server certificate for `names` (DNS names or IP addresses), written as
    /// `{label}.pem` and `{label}.key`.
    pub fn server_cert(&self, label: &str, names: &[&str], validity: Validity) -> ServerCert {
        let key = KeyPair::generate().expect("server key");
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, format!("kakunin test {label}"));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let now = time::OffsetDateTime::now_utc();
        let day = time::Duration::days(1);
        (params.not_before, params.not_after) = match validity {
            Validity::Current => (now - day, now + day * 365),
            Validity::Expired => (now - day * 366, now - day),
        };
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("server certificate");
        let files = ServerCert {
            cert: self.dir.path().join(format!("{label}.pem")),
            key: self.dir.path().join(format!("{label}.key")),
        };
        std::fs::write(&files.cert, cert.pem()).expect("write certificate");
        std::fs::write(&files.key, key.serialize_pem()).expect("write key");
        files
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}
