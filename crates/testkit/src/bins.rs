//! The workspace's binaries, for tests in any of its crates.
//!
//! Cargo gives a test `CARGO_BIN_EXE_<name>` only for binaries of its own package, and
//! the service's tests need the issuer's binary too. So binaries are looked up in the
//! target directory next to the running test. `cargo test --workspace` (what `make
//! test` runs) builds every package's binaries before any test starts, so they are as
//! new as the source. The kit does not run `cargo build` itself: a build with other
//! flags than the running `cargo test` resolves other dependency features, rebuilds
//! half the tree and replaces the binary the other invocation just made.

use std::path::{Path, PathBuf};

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

/// The path of binary `bin` (of package `package`, named in the message when missing).
pub fn binary(package: &str, bin: &str) -> PathBuf {
    let path = profile_dir().join(bin);
    assert!(
        path.exists(),
        "{} (package {package}) is missing: build it first with `cargo build --workspace --bins` \
         (or run the tests with `cargo test --workspace`)",
        path.display()
    );
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
