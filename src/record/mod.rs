//! The signed record: a JWS in flattened JSON carrying a `surety-certificate/1` payload.

pub mod envelope;
pub mod payload;

pub use envelope::{sign, verify, RecordError, VerifiedRecord};
pub use payload::Certificate;
