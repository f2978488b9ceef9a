//! Every rejection of §3, each with its own error.

use super::*;
use crate::payload::sample_json;
use crate::registry::{Registry, TrustedIssuer, TrustedKey};
use ed25519_dalek::SigningKey;

/// RFC 8037 Appendix A.1 private key.
const RFC_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
const RFC_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

fn rfc_key() -> SigningKey {
    let d: [u8; 32] = URL_SAFE_NO_PAD.decode(RFC_D).unwrap().try_into().unwrap();
    SigningKey::from_bytes(&d)
}

fn other_key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

fn time(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

fn registry() -> Registry {
    let wjcs = TrustedIssuer::new(
        "wjcs",
        "西日本建設業保証株式会社",
        "http://127.0.0.1:1",
        "W[0-9]{10}",
        vec![TrustedKey::new(
            "wjcs-2025",
            rfc_key().verifying_key(),
            time("2025-01-01T00:00:00+09:00"),
            Some(time("2025-12-31T23:59:59+09:00")),
        )],
    )
    .unwrap();
    let ejcs = TrustedIssuer::new(
        "ejcs",
        "東日本建設業保証株式会社",
        "http://127.0.0.1:2",
        "E[0-9]{10}",
        vec![TrustedKey::new(
            "ejcs-2025",
            other_key().verifying_key(),
            time("2025-01-01T00:00:00+09:00"),
            None,
        )],
    )
    .unwrap();
    Registry::new(vec![wjcs, ejcs])
}

fn number() -> CertificateNumber {
    CertificateNumber::parse("W2025000123").unwrap()
}

fn signed(payload: &serde_json::Value) -> String {
    sign(payload.to_string().as_bytes(), "wjcs-2025", &rfc_key())
}

fn check(envelope: &str) -> Result<VerifiedRecord, RecordError> {
    verify(envelope.as_bytes(), "wjcs", &number(), &registry())
}

/// Builds an envelope from a raw header, signing it properly, to test header rules.
fn with_header(header: &str, key: &SigningKey) -> String {
    let protected = URL_SAFE_NO_PAD.encode(header);
    let payload = URL_SAFE_NO_PAD.encode(sample_json().to_string());
    let sig = key.sign(format!("{protected}.{payload}").as_bytes());
    serde_json::json!({"protected": protected, "payload": payload,
        "signature": URL_SAFE_NO_PAD.encode(sig.to_bytes())})
    .to_string()
}

fn parts(envelope: &str) -> FlattenedJws {
    serde_json::from_str(envelope).unwrap()
}

fn join(j: &FlattenedJws) -> String {
    serde_json::to_string(j).unwrap()
}

#[test]
fn rfc8037_a4_vector_reproduces() {
    let key = rfc_key();
    assert_eq!(
        URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()),
        RFC_X
    );
    let protected = URL_SAFE_NO_PAD.encode(r#"{"alg":"EdDSA"}"#);
    let payload = URL_SAFE_NO_PAD.encode("Example of Ed25519 signing");
    let input = format!("{protected}.{payload}");
    assert_eq!(
        input,
        "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
    );
    let sig = key.sign(input.as_bytes());
    assert_eq!(
        URL_SAFE_NO_PAD.encode(sig.to_bytes()),
        "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
    );
    key.verifying_key()
        .verify_strict(input.as_bytes(), &sig)
        .unwrap();
}

#[test]
fn a_good_record_verifies_and_its_payload_reads_back_as_signed() {
    let mut payload = sample_json();
    // A member the schema does not know neither fails the check nor is lost.
    payload["issuer_extension"] = serde_json::json!("kept");
    let envelope = signed(&payload);
    let rec = check(&envelope).unwrap();
    assert_eq!(rec.kid(), "wjcs-2025");
    assert_eq!(rec.certificate().certificate_number, "W2025000123");
    assert_eq!(
        payload_text(&envelope).as_deref(),
        Some(payload.to_string().as_str())
    );
}

#[test]
fn tampered_header_payload_or_signature_is_rejected() {
    let good = parts(&signed(&sample_json()));

    let mut j = good.clone();
    j.protected = URL_SAFE_NO_PAD
        .encode(r#"{"alg":"EdDSA","kid":"wjcs-2025","typ":"surety-certificate+json" }"#);
    assert_eq!(check(&join(&j)).unwrap_err(), RecordError::BadSignature);

    let mut tampered = sample_json();
    tampered["guarantee"]["amount_yen"] = 99_999_999.into();
    let mut j = good.clone();
    j.payload = URL_SAFE_NO_PAD.encode(tampered.to_string());
    assert_eq!(check(&join(&j)).unwrap_err(), RecordError::BadSignature);

    let mut j = good.clone();
    let mut sig = URL_SAFE_NO_PAD.decode(&j.signature).unwrap();
    sig[5] ^= 1;
    j.signature = URL_SAFE_NO_PAD.encode(sig);
    assert_eq!(check(&join(&j)).unwrap_err(), RecordError::BadSignature);
}

#[test]
fn alg_none_and_hs256_are_refused() {
    for alg in ["none", "HS256"] {
        let env = with_header(
            &format!(r#"{{"alg":"{alg}","kid":"wjcs-2025","typ":"surety-certificate+json"}}"#),
            &rfc_key(),
        );
        assert_eq!(
            check(&env).unwrap_err(),
            RecordError::UnsupportedAlg(alg.into())
        );
    }
}

#[test]
fn missing_unknown_and_foreign_kids_are_refused() {
    let env = with_header(
        r#"{"alg":"EdDSA","typ":"surety-certificate+json"}"#,
        &rfc_key(),
    );
    assert_eq!(check(&env).unwrap_err(), RecordError::MissingKid);

    let env = with_header(
        r#"{"alg":"EdDSA","kid":"nobody","typ":"surety-certificate+json"}"#,
        &rfc_key(),
    );
    assert_eq!(
        check(&env).unwrap_err(),
        RecordError::UnknownKid("nobody".into())
    );

    // A valid signature by another trusted issuer's key is still not wjcs's record.
    let env = with_header(
        r#"{"alg":"EdDSA","kid":"ejcs-2025","typ":"surety-certificate+json"}"#,
        &other_key(),
    );
    assert!(matches!(
        check(&env).unwrap_err(),
        RecordError::KidOfOtherIssuer { owner, .. } if owner == "ejcs"
    ));
}

#[test]
fn key_must_be_valid_at_issued_at() {
    let mut early = sample_json();
    early["issued_at"] = "2024-12-31T23:59:59+09:00".into();
    assert!(matches!(
        check(&signed(&early)).unwrap_err(),
        RecordError::KeyNotYetValid { .. }
    ));
    let mut late = sample_json();
    late["issued_at"] = "2026-01-01T00:00:00+09:00".into();
    assert!(matches!(
        check(&signed(&late)).unwrap_err(),
        RecordError::KeyExpired { .. }
    ));
}

#[test]
fn padding_and_standard_alphabet_are_refused() {
    let good = parts(&signed(&sample_json()));
    let mut j = good.clone();
    j.signature.push_str("==");
    assert_eq!(
        check(&join(&j)).unwrap_err(),
        RecordError::Base64("signature")
    );

    let mut j = good.clone();
    j.payload = j.payload.replace('-', "+").replace('_', "/");
    if j.payload == good.payload {
        j.payload.insert(0, '+');
    }
    assert_eq!(
        check(&join(&j)).unwrap_err(),
        RecordError::Base64("payload")
    );
}

#[test]
fn forbidden_header_members_are_refused_by_name() {
    for m in ["crit", "b64", "jku", "jwk", "x5u", "x5c"] {
        let env = with_header(
            &format!(
                r#"{{"alg":"EdDSA","kid":"wjcs-2025","typ":"surety-certificate+json","{m}":["x"]}}"#
            ),
            &rfc_key(),
        );
        assert_eq!(
            check(&env).unwrap_err(),
            RecordError::ForbiddenHeaderMember(m.into())
        );
    }
}

#[test]
fn unprotected_header_is_refused() {
    let mut v: serde_json::Value = serde_json::from_str(&signed(&sample_json())).unwrap();
    v["header"] = serde_json::json!({"kid": "wjcs-2025"});
    assert_eq!(
        check(&v.to_string()).unwrap_err(),
        RecordError::UnprotectedHeader
    );
}

#[test]
fn non_canonical_signature_is_refused() {
    // S + L verifies under lax rules but is a malleated signature.
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut j = parts(&signed(&sample_json()));
    let mut sig = URL_SAFE_NO_PAD.decode(&j.signature).unwrap();
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(sig[32 + i]) + u16::from(L[i]) + carry;
        sig[32 + i] = sum as u8;
        carry = sum >> 8;
    }
    j.signature = URL_SAFE_NO_PAD.encode(sig);
    assert_eq!(
        check(&join(&j)).unwrap_err(),
        RecordError::NonCanonicalSignature
    );
}

#[test]
fn small_order_public_key_is_refused() {
    let mut ident = [0u8; 32];
    ident[0] = 1;
    let weak = ed25519_dalek::VerifyingKey::from_bytes(&ident).unwrap();
    let issuer = TrustedIssuer::new(
        "wjcs",
        "x",
        "http://127.0.0.1:1",
        "W[0-9]{10}",
        vec![TrustedKey::new(
            "weak",
            weak,
            time("2020-01-01T00:00:00Z"),
            None,
        )],
    )
    .unwrap();
    let reg = Registry::new(vec![issuer]);
    let env = sign(sample_json().to_string().as_bytes(), "weak", &rfc_key());
    assert_eq!(
        verify(env.as_bytes(), "wjcs", &number(), &reg).unwrap_err(),
        RecordError::WeakKey("weak".into())
    );
}

#[test]
fn substituted_number_or_issuer_is_refused() {
    let mut other = sample_json();
    other["certificate_number"] = "W2025000999".into();
    assert!(matches!(
        check(&signed(&other)).unwrap_err(),
        RecordError::NumberSubstitution { found, .. } if found == "W2025000999"
    ));
    let mut other = sample_json();
    other["issuer"]["id"] = "ejcs".into();
    assert!(matches!(
        check(&signed(&other)).unwrap_err(),
        RecordError::IssuerSubstitution { found, .. } if found == "ejcs"
    ));
}

#[test]
fn payload_missing_a_required_member_is_refused() {
    let mut p = sample_json();
    p["guarantee"].as_object_mut().unwrap().remove("period_end");
    assert!(matches!(
        check(&signed(&p)).unwrap_err(),
        RecordError::Payload(crate::payload::PayloadError::Json(_))
    ));
}

#[test]
fn input_over_one_mebibyte_is_refused_before_parsing() {
    let big = format!("{{\"protected\":\"{}\"}}", "A".repeat(MAX_ENVELOPE_BYTES));
    assert!(matches!(check(&big).unwrap_err(), RecordError::TooLarge(_)));
}

#[test]
fn envelope_that_is_not_json_is_refused() {
    assert!(matches!(
        check("eyJ.eyJ.sig").unwrap_err(),
        RecordError::NotJson(_)
    ));
}

/// A validly signed envelope over raw header and payload texts.
fn signed_raw(header: &str, payload: &str) -> String {
    let protected = URL_SAFE_NO_PAD.encode(header);
    let payload = URL_SAFE_NO_PAD.encode(payload);
    let sig = rfc_key().sign(format!("{protected}.{payload}").as_bytes());
    format!(
        r#"{{"protected":"{protected}","payload":"{payload}","signature":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(sig.to_bytes())
    )
}

#[test]
fn a_member_named_twice_in_any_part_and_any_spelling_is_refused() {
    let header = r#"{"alg":"EdDSA","kid":"wjcs-2025","typ":"surety-certificate+json"}"#;
    let payload = sample_json().to_string();
    assert!(check(&signed_raw(header, &payload)).is_ok());

    // The header: a second alg spelled with an escape, which a last-wins parser reads.
    let twice =
        r#"{"alg":"none","kid":"wjcs-2025","typ":"surety-certificate+json","al\u0067":"EdDSA"}"#;
    let e = check(&signed_raw(twice, &payload)).unwrap_err();
    assert_eq!(e.code(), "duplicate_member", "{e}");
    assert!(
        e.to_string().contains("保護ヘッダー") && e.to_string().contains("alg"),
        "{e}"
    );

    // The payload: a nested member given twice (an unknown one too: it must not be
    // readable two ways either).
    let p = payload.replacen(
        r#""status":"active""#,
        r#""status":"cancelled","st\u0061tus":"active""#,
        1,
    );
    assert_ne!(p, payload, "the sample has a status member");
    let e = check(&signed_raw(header, &p)).unwrap_err();
    assert_eq!(e.code(), "duplicate_member", "{e}");
    let p = payload.replacen('{', r#"{"note":1,"note":2,"#, 1);
    assert_eq!(
        check(&signed_raw(header, &p)).unwrap_err().code(),
        "duplicate_member"
    );

    // The envelope: a second payload member.
    let env = signed_raw(header, &payload);
    let env = env.replacen(r#""payload":"#, r#""p\u0061yload":"e30","payload":"#, 1);
    let e = check(&env).unwrap_err();
    assert_eq!(e.code(), "duplicate_member", "{e}");
    assert!(e.to_string().contains("payload"), "{e}");
}

/// A receipt and a record are told apart by `typ`: neither verifies as the other, so a
/// service receipt can never pass for an issuer's record, nor the reverse.
#[test]
fn typ_tells_receipts_and_records_apart() {
    let key = TrustedKey::new(
        "svc-1",
        rfc_key().verifying_key(),
        time("2025-01-01T00:00:00+09:00"),
        None,
    );
    let receipt = sign_as(RECEIPT_TYP, b"{\"a\":1}", "svc-1", &rfc_key());
    let signed = verify_signed(receipt.as_bytes(), RECEIPT_TYP, |_| Ok(&key)).unwrap();
    assert_eq!(signed.kid, "svc-1");
    assert_eq!(signed.payload, b"{\"a\":1}");
    assert_eq!(
        verify_signed(receipt.as_bytes(), TYP, |_| Ok(&key)).unwrap_err(),
        RecordError::BadTyp(TYP)
    );
    let record = sign(b"{\"a\":1}", "svc-1", &rfc_key());
    assert_eq!(
        verify_signed(record.as_bytes(), RECEIPT_TYP, |_| Ok(&key)).unwrap_err(),
        RecordError::BadTyp(RECEIPT_TYP)
    );
}
