//! The workspace's binaries, for tests in any of its crates.
//!
//! Cargo gives a test `CARGO_BIN_EXE_<name>` only for binaries of its own package, and
//! the service's tests need the issuer's binary too. So binaries are looked up in the
//! target directory next to the running test, after one `cargo build` of the binary per
//! test process: that keeps a test from running an issuer older than its source.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The workspace root, where `config/` and the service's `Cargo.toml` are.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root exists")
}

/// `target/<profile>`: the directory holding the running test's `deps/`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("path of the running test");
    let deps = exe.parent().expect("the test binary lives in a directory");
    // Tests run from target/<profile>/deps; examples and benches from target/<profile>.
    if deps.file_name().is_some_and(|n| n == "deps") {
        deps.parent().expect("deps has a parent").to_owned()
    } else {
        deps.to_owned()
    }
}

/// The path of binary `bin` of package `package`, built if needed (once per process).
pub fn binary(package: &str, bin: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(path) = built.get(bin) {
        return path.clone();
    }
    let dir = profile_dir();
    let release = dir.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root())
        .args(["build", "--quiet", "-p", package, "--bin", bin]);
    if release {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("run cargo build");
    assert!(
        status.success(),
        "cargo build -p {package} --bin {bin} failed"
    );
    let path = dir.join(bin);
    assert!(path.exists(), "{} was not built", path.display());
    built.insert(bin.to_owned(), path.clone());
    path
}

/// The service binary `kakunin`.
pub fn kakunin() -> PathBuf {
    binary("kakunin", "kakunin")
}

/// The reference issuer binary `kakunin-issuer`.
pub fn kakunin_issuer() -> PathBuf {
    binary("kakunin-issuer", "kakunin-issuer")
}
