//! What the pages show of a certificate: payload values turned into the Japanese a
//! person reads (和暦 with 西暦, yen with separators). Strings stay plain text here;
//! the templates escape them.

use serde::Serialize;

use kakunin_protocol::format::{date_ja, datetime_ja, period_ja, yen};
use kakunin_protocol::payload::{Certificate, Status};

#[derive(Serialize)]
pub struct ListItem {
    number: String,
    kind: &'static str,
    title: String,
    orderer: String,
    guarantee_amount: String,
    status: &'static str,
    cancelled: bool,
    revision: u32,
}

pub fn list_item(c: &Certificate) -> ListItem {
    ListItem {
        number: c.certificate_number.clone(),
        kind: c.kind.label(),
        title: c.contract.title.clone(),
        orderer: c.orderer.name.clone(),
        guarantee_amount: yen(c.guarantee.amount_yen),
        status: c.status.label(),
        cancelled: c.status == Status::Cancelled,
        revision: c.revision,
    }
}

#[derive(Serialize)]
struct ChangeView {
    revision: u32,
    date: String,
    summary: String,
}

#[derive(Serialize)]
pub struct CertificateView {
    number: String,
    kind: &'static str,
    status: &'static str,
    cancelled: bool,
    orderer: String,
    office: Option<String>,
    orderer_code: Option<String>,
    contractor: String,
    representative: Option<String>,
    address: Option<String>,
    category: &'static str,
    title: String,
    location: Option<String>,
    contract_date: String,
    contract_period: Option<String>,
    contract_amount: String,
    terms: Option<String>,
    guarantee_amount: String,
    guarantee_period: String,
    issuer: String,
    issued_at: String,
    revision: u32,
    changes: Vec<ChangeView>,
}

pub fn certificate(c: &Certificate) -> CertificateView {
    let contract_period = match (c.contract.period_start, c.contract.period_end) {
        (None, None) => None,
        (s, e) => Some(period_ja(s, e)),
    };
    CertificateView {
        number: c.certificate_number.clone(),
        kind: c.kind.label(),
        status: c.status.label(),
        cancelled: c.status == Status::Cancelled,
        orderer: c.orderer.name.clone(),
        office: c.orderer.office.clone(),
        orderer_code: c.orderer.code.clone(),
        contractor: c.contractor.name.clone(),
        representative: c.contractor.representative.clone(),
        address: c.contractor.address.clone(),
        category: c.contract.category.label(),
        title: c.contract.title.clone(),
        location: c.contract.location.clone(),
        contract_date: date_ja(c.contract.contract_date),
        contract_period,
        contract_amount: yen(c.contract.amount_yen),
        terms: c.contract.terms.clone(),
        guarantee_amount: yen(c.guarantee.amount_yen),
        guarantee_period: period_ja(Some(c.guarantee.period_start), Some(c.guarantee.period_end)),
        issuer: c.issuer.name.clone(),
        issued_at: datetime_ja(c.issued_at),
        revision: c.revision,
        changes: c
            .changes
            .iter()
            .map(|ch| ChangeView {
                revision: ch.revision,
                date: date_ja(ch.date),
                summary: ch.summary.clone(),
            })
            .collect(),
    }
}
