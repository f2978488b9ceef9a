//! One typical record, checked the way the service checks it, beside the raw
//! `verify_strict` on the same bytes (issue K1: the whole check should reach at least
//! 70 % of the raw signature rate). Figures go to BENCHMARKS.md.

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ed25519_dalek::{Signature, SigningKey};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use kakunin::domain::rules::{Expected, Profile};
use kakunin_protocol::ids::CertificateNumber;
use kakunin_protocol::jws::FlattenedJws;
use kakunin_protocol::registry::{Registry, TrustedIssuer, TrustedKey};

const PAYLOAD: &str = r#"{"schema":"surety-certificate/1","certificate_number":"W2025000123","revision":1,"status":"active","kind":"advance_payment","issued_at":"2025-04-03T10:15:00+09:00","issuer":{"id":"wjcs","name":"西日本建設業保証株式会社"},"orderer":{"name":"大分県","office":"大分土木事務所","code":"440001"},"contractor":{"name":"株式会社豊後建設","representative":"代表取締役 大分太郎","address":"大分県大分市府内町一丁目1番1号"},"contract":{"category":"construction","title":"県道大分臼杵線道路改良工事","location":"大分県大分市大字松岡地内","contract_date":"2025-04-01","period_start":"2025-04-02","period_end":"2026-03-13","amount_yen":123200000,"terms":"大分県公共工事請負契約約款【R7.4.1～】"},"guarantee":{"amount_yen":49280000,"period_start":"2025-04-02","period_end":"2026-04-12"},"changes":[{"revision":1,"date":"2025-04-03","summary":"新規"}]}"#;

fn bench(c: &mut Criterion) {
    let key = SigningKey::from_bytes(&[42u8; 32]);
    let envelope = kakunin_protocol::jws::sign(PAYLOAD.as_bytes(), "wjcs-2025", &key);
    let not_before = chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00+09:00").unwrap();
    let issuer = TrustedIssuer::new(
        "wjcs",
        "西日本建設業保証株式会社",
        "http://127.0.0.1:8081",
        "W[0-9]{10}",
        vec![TrustedKey::new(
            "wjcs-2025",
            key.verifying_key(),
            not_before,
            None,
        )],
    )
    .unwrap();
    let registry = Registry::new(vec![issuer]);
    let profile =
        Profile::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/profiles/oita.toml"))
            .unwrap();
    let number = CertificateNumber::parse("W2025000123").unwrap();
    let expected = Expected::default();

    let jws: FlattenedJws = serde_json::from_str(&envelope).unwrap();
    let input = format!("{}.{}", jws.protected, jws.payload);
    let sig = Signature::from_slice(&URL_SAFE_NO_PAD.decode(&jws.signature).unwrap()).unwrap();
    let vk = key.verifying_key();

    let mut group = c.benchmark_group("record");
    group.throughput(Throughput::Elements(1));
    group.bench_function("raw_verify_strict", |b| {
        b.iter(|| {
            vk.verify_strict(black_box(input.as_bytes()), black_box(&sig))
                .unwrap()
        })
    });
    group.bench_function("full_check", |b| {
        b.iter(|| {
            let checked = kakunin::domain::check::check(
                black_box(envelope.as_bytes()),
                "wjcs",
                &number,
                &registry,
                &profile,
                &expected,
            )
            .unwrap();
            black_box(checked.outcome())
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
