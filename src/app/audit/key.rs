//! The service's own Ed25519 key that signs audit checkpoints: one PKCS#8 PEM file,
//! mode 0600, made once by `kakunin key init`, with its public half beside it.
//!
//! The key lives outside the database on purpose: someone who can rewrite the
//! database but cannot read this file cannot forge a checkpoint.

use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePublicKey, EncodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use kakunin_platform::keyfile::{self, KeyFileError};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("監査ログの署名鍵 {0} がありません。`kakunin key init` で作成してください")]
    Missing(String),
    /// The key file: present already (never overwritten: old checkpoints would no longer
    /// verify), readable by others, or not PKCS#8.
    #[error("監査ログの署名鍵: {0}")]
    File(KeyFileError),
    #[error("監査ログの署名鍵 {path} を読み書きできません: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Which key signed: the first 16 hex digits of SHA-256 over the public key.
pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

/// Where the public half is written: `audit-signing.key` → `audit-signing.pub`.
pub fn public_path(private: &Path) -> PathBuf {
    private.with_extension("pub")
}

/// A missing key gets the command that makes one; other file errors stay as they are.
impl From<KeyFileError> for KeyError {
    fn from(e: KeyFileError) -> Self {
        match e {
            KeyFileError::Missing { path, .. } => KeyError::Missing(path),
            e => KeyError::File(e),
        }
    }
}

/// Generates a key and writes both halves. Never overwrites a file.
pub fn init(path: &Path) -> Result<SigningKey, KeyError> {
    let key = keyfile::create(path)?;
    let shown = path.display().to_string();
    let public = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|_| KeyError::File(KeyFileError::Format(shown.clone())))?;
    std::fs::write(public_path(path), public).map_err(|source| KeyError::Io {
        path: shown,
        source,
    })?;
    Ok(key)
}

/// Reads the private key, refusing a file that group or others may read.
pub fn load(path: &Path) -> Result<SigningKey, KeyError> {
    Ok(keyfile::read(path)?)
}

/// Reads a public key file (for checking a copied database away from the server).
pub fn load_public(path: &Path) -> Result<VerifyingKey, KeyError> {
    let shown = path.display().to_string();
    let pem = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: shown.clone(),
        source,
    })?;
    VerifyingKey::from_public_key_pem(&pem).map_err(|_| KeyError::File(KeyFileError::Format(shown)))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn init_writes_0600_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k/audit-signing.key");
        let key = init(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load(&path).unwrap().to_bytes(), key.to_bytes());
        assert_eq!(
            load_public(&public_path(&path)).unwrap(),
            key.verifying_key()
        );
        assert!(matches!(
            init(&path),
            Err(KeyError::File(KeyFileError::Exists(_)))
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            load(&path),
            Err(KeyError::File(KeyFileError::Permissive { .. }))
        ));
        assert!(matches!(
            load(&dir.path().join("none")),
            Err(KeyError::Missing(_))
        ));
    }
}
