//! `kakunin record verify`: the offline check of a saved signed record.

use std::path::Path;

use crate::domain::check::{check, Checked};
use crate::domain::outcome::Outcome;
use crate::domain::rules::{Expected, Profile, RuleStatus};
use crate::domain::view;
use kakunin_protocol::ids::CertificateNumber;
use kakunin_protocol::jws;
use kakunin_protocol::registry::Registry;

/// Exit codes: 0 passes, 1 a rule fails, 2 the record is invalid (or unreadable).
pub fn run(
    file: &Path,
    issuer: &str,
    number: Option<&str>,
    registry: &Registry,
    profile: &Profile,
) -> i32 {
    let envelope = match std::fs::read(file) {
        Ok(b) => kakunin_platform::cli::without_bom(&b).to_vec(),
        Err(e) => {
            eprintln!(
                "{} を読み込めません: {}",
                file.display(),
                kakunin_platform::cli::read_error(&e)
            );
            return 2;
        }
    };
    let number = match number
        .map(CertificateNumber::parse)
        .or_else(|| peek_number(&envelope))
    {
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("--number: {e}");
            return 2;
        }
        None => {
            eprintln!("記録から保証契約番号を読み取れません。--number で指定してください");
            return 2;
        }
    };
    match check(
        &envelope,
        issuer,
        &number,
        registry,
        profile,
        &Expected::default(),
    ) {
        Ok(checked) => {
            print!("{}", render(&checked, profile));
            match checked.outcome() {
                Outcome::Verified => 0,
                _ => 1,
            }
        }
        Err(e) => {
            println!("【{}】{}", Outcome::InvalidRecord.banner(), file.display());
            // The reason may quote the file (a kid, a member name): written out, not obeyed.
            println!(
                "理由: {}",
                kakunin_platform::text::escape_invisible(&e.to_string())
            );
            2
        }
    }
}

/// Without `--number`, the number the record claims is the one checked; the signature
/// still has to hold, only the substitution check becomes moot.
fn peek_number(
    envelope: &[u8],
) -> Option<Result<CertificateNumber, kakunin_protocol::ids::IdError>> {
    let payload = jws::payload_text(std::str::from_utf8(envelope).ok()?)?;
    let v: serde_json::Value = serde_json::from_str(&payload).ok()?;
    Some(CertificateNumber::parse(
        v.get("certificate_number")?.as_str()?,
    ))
}

/// The certificate and the rule table as plain Japanese text.
pub fn render(checked: &Checked, profile: &Profile) -> String {
    let outcome = checked.outcome();
    let cert = checked.record.certificate();
    let mut out = format!(
        "【{}】{}\n",
        outcome.banner(),
        outcome.next_step(&profile.name)
    );
    out.push_str(&format!("署名: 有効（鍵 {}）\n\n", checked.record.kid()));
    for row in view::certificate_rows(cert) {
        out.push_str(&format!("{:　<6} {}\n", row.label, row.value));
    }
    let changes = view::change_lines(cert);
    if !changes.is_empty() {
        out.push_str("変更履歴\n");
        for line in changes {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out.push_str("\n確認事項\n");
    for r in &checked.rules {
        let mark = match r.status {
            RuleStatus::Pass => "○",
            RuleStatus::Fail => "×",
            RuleStatus::Warn => "△",
            RuleStatus::Skip => "－",
        };
        // The rule's name, not its id: this is read by a person.
        out.push_str(&format!(
            "  {mark} {}（{}）: {}\n",
            r.label(),
            r.status.label(),
            r.message
        ));
    }
    out
}
