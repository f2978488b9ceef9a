//! Private Ed25519 key files, shared by the audit signing key and the issuer's keyring:
//! PKCS#8 PEM, mode 0600, the directory 0700 if created, never overwritten, and never
//! read when group or others may read it (a key that leaked may have signed anything).
//!
//! Errors name the file, never the key material. Callers map them to their own errors.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::SigningKey;

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("鍵ファイル {path} がありません")]
    Missing {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("鍵ファイル {0} は既にあります。上書きしません。")]
    Exists(String),
    #[error("鍵ファイル {path} はグループまたは他のユーザーが読めます（モード {mode:o}）。`chmod 600 {path}` で保護してから使ってください。")]
    Permissive { path: String, mode: u32 },
    #[error("秘密鍵のファイル {path} はほかの利用者も読めます（モード {mode:o}）。`chmod o-rwx {path}` で、サービスの利用者とそのグループだけが読めるようにしてください（コンテナのシークレットは mode 0440 または 0400 で渡してください）。")]
    WorldReadable { path: String, mode: u32 },
    #[error("鍵ファイル {0} は Ed25519 の秘密鍵（PKCS#8 PEM）ではありません。")]
    Format(String),
    #[error("鍵ファイル {path} を読み込めません: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("鍵ファイル {path} を書き込めません: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Generates a key and writes it to `path` with mode 0600, creating the directory with
/// mode 0700 if needed. Never overwrites a file: an existing one is [`KeyFileError::Exists`].
pub fn create(path: &Path) -> Result<SigningKey, KeyFileError> {
    let shown = path.display().to_string();
    let write_err = |source| KeyFileError::Write {
        path: shown.clone(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(write_err)?;
    }
    let key = SigningKey::generate(&mut rand_core::OsRng);
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|_| KeyFileError::Format(shown.clone()))?;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                KeyFileError::Exists(shown.clone())
            } else {
                write_err(e)
            }
        })?;
    file.write_all(pem.as_bytes()).map_err(write_err)?;
    file.sync_all().map_err(write_err)?;
    Ok(key)
}

/// The file's metadata and its path as messages show it; a file that is not there is
/// [`KeyFileError::Missing`], one that cannot be looked at [`KeyFileError::Read`].
fn metadata_of(path: &Path) -> Result<(std::fs::Metadata, String), KeyFileError> {
    let shown = path.display().to_string();
    match std::fs::metadata(path) {
        Ok(meta) => Ok((meta, shown)),
        Err(source) if source.kind() == std::io::ErrorKind::NotFound => {
            Err(KeyFileError::Missing {
                path: shown,
                source,
            })
        }
        Err(source) => Err(KeyFileError::Read {
            path: shown,
            source,
        }),
    }
}

/// Refuses a secret text file (`KAKUNIN_SECRET_KEY_FILE`, the issuer's secret file)
/// that others may read. Unlike the key files kakunin makes itself (0600, see
/// [`read`]), these are an operator's: a root-owned file readable by the
/// service's group (0640, 0440) is the least-privilege way to hand one over, and is
/// taken; only access for others is refused.
pub fn check_not_public(path: &Path) -> Result<(), KeyFileError> {
    let (meta, shown) = metadata_of(path)?;
    let mode = meta.permissions().mode();
    if mode & 0o007 != 0 {
        return Err(KeyFileError::WorldReadable {
            path: shown,
            mode: mode & 0o777,
        });
    }
    Ok(())
}

/// Reads the key at `path`, refusing a file that group or others may read. A file that
/// is not there is [`KeyFileError::Missing`].
pub fn read(path: &Path) -> Result<SigningKey, KeyFileError> {
    let (meta, shown) = metadata_of(path)?;
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(KeyFileError::Permissive {
            path: shown,
            mode: mode & 0o777,
        });
    }
    let pem = std::fs::read_to_string(path).map_err(|source| KeyFileError::Read {
        path: shown.clone(),
        source,
    })?;
    SigningKey::from_pkcs8_pem(&pem).map_err(|_| KeyFileError::Format(shown))
}
