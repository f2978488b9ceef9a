//! The verification core: a received envelope in, a checked record and its rule results
//! out. No I/O: the service and the offline check both call [`check`].

use crate::domain::outcome::Outcome;
use crate::domain::rules::{self, Expected, Profile, RuleResult};
use kakunin_protocol::ids::CertificateNumber;
use kakunin_protocol::jws::{self, RecordError, VerifiedRecord};
use kakunin_protocol::registry::Registry;

/// A record that verified, with the rules evaluated against it.
#[derive(Debug, Clone)]
pub struct Checked {
    pub record: VerifiedRecord,
    pub rules: Vec<RuleResult>,
}

impl Checked {
    /// `verified` unless a `fail` rule failed; warnings never change the outcome.
    pub fn outcome(&self) -> Outcome {
        if rules::passes(&self.rules) {
            Outcome::Verified
        } else {
            Outcome::Rejected
        }
    }
}

pub fn check(
    envelope: &[u8],
    issuer: &str,
    number: &CertificateNumber,
    registry: &Registry,
    profile: &Profile,
    expected: &Expected,
) -> Result<Checked, RecordError> {
    let record = jws::verify(envelope, issuer, number, registry)?;
    let rules = rules::evaluate(profile, record.certificate(), expected);
    Ok(Checked { record, rules })
}
