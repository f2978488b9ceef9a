//! kakunin-protocol: what both sides of `issuer-protocol.md` share, and nothing else.
//!
//! The verification service (the relying party) and the reference issuer both build on
//! this crate, so a change to the protocol is made once. It knows no web framework,
//! database or HTTP client (`make test` checks that with `cargo tree`).
//!
//! - [`ids`]: 保証契約番号 and 認証キー, built only through the normalization of §1.
//! - [`jws`]: the flattened JWS envelope of §3: signing, and strict verification
//!   against a [`registry::KeySource`].
//! - [`notice`]: the text of the key notice's QR code (§7), built and recognised.
//! - [`payload`]: the `surety-certificate/1` payload of §4.
//! - [`registry`]: the trust-registry file of §5 and key lookup by `kid`.
//! - [`strict_json`]: duplicate member names, found however they are spelled.
//! - [`mod@format`], [`time`]: 和暦 dates, yen amounts and Japan time, as people read them.

pub mod format;
pub mod ids;
pub mod jws;
pub mod notice;
pub mod payload;
pub mod registry;
pub mod strict_json;
pub mod time;

pub use ids::{AuthKey, CertificateNumber};
pub use jws::{RecordError, VerifiedRecord};
pub use payload::Certificate;
