//! kakunin-platform: what the service and the reference issuer share beyond the
//! protocol, kept in one place so the two programs cannot drift apart.
//!
//! - [`problem`]: RFC 9457 problem details, the one `application/problem+json` body.
//! - [`password`]: argon2id password hashes for staff and contractor accounts.
//! - [`login`]: logins as people type them (full width, any case), and which are valid.
//! - [`secret`]: random tokens, SHA-256 digests and constant-time comparison.
//! - [`sqlite`]: the SQLite pool, its pragmas, and [`sqlite::run`], the one way to
//!   touch it from async code.
//! - [`keyfile`]: private Ed25519 key files (PKCS#8 PEM, mode 0600).
//! - [`headers`]: the security headers every page and answer carries, and `HEAD`.
//! - [`allow`]: resources that answer other methods with 405 and `Allow`.
//! - [`files`]: files and directories only the owner may read (databases, tokens).
//! - [`csv_cell`]: CSV cells a spreadsheet will not run as formulas.
//! - [`qr`]: QR codes as runs of dark modules, and as inline SVG.
//! - [`cli`]: Japanese help headings and usage errors for both programs' command lines.
//! - [`text`]: free text as people type it: format characters dropped, controls refused.

pub mod allow;
pub mod cli;
pub mod csv_cell;
pub mod files;
pub mod headers;
pub mod keyfile;
pub mod log;
pub mod login;
pub mod password;
pub mod problem;
pub mod qr;
pub mod secret;
pub mod sqlite;
pub mod text;
