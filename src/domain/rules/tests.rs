//! What officers rely on: each rule of rules-oita.md at its boundaries.

use std::path::Path;

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use kakunin_protocol::payload::sample_json;

use super::profile::fixtures::{fukuoka, oita, FUKUOKA};

/// The sample certificate (a 前払金保証 for a 建設工事) with some members replaced.
fn cert(edit: impl FnOnce(&mut Value)) -> Certificate {
    let mut v = sample_json();
    edit(&mut v);
    Certificate::from_json(v.to_string().as_bytes()).expect("test certificate is valid")
}

fn amounts(kind: &str, category: &str, contract: i64, guarantee: i64) -> Certificate {
    cert(|v| {
        v["kind"] = kind.into();
        v["contract"]["category"] = category.into();
        v["contract"]["amount_yen"] = contract.into();
        v["guarantee"]["amount_yen"] = guarantee.into();
    })
}

fn rule(profile: &Profile, c: &Certificate, expected: &Expected, id: &str) -> RuleResult {
    evaluate(profile, c, expected)
        .into_iter()
        .find(|r| r.id.as_str() == id)
        .expect("every rule is reported")
}

fn status_of(c: &Certificate, id: &str) -> RuleStatus {
    rule(&oita(), c, &Expected::default(), id).status
}

#[test]
fn every_rule_is_reported_in_the_spec_order() {
    let results = evaluate(&oita(), &cert(|_| {}), &Expected::default());
    let ids: Vec<&str> = results.iter().map(|r| r.id.as_str()).collect();
    let spec: Vec<&str> = RuleId::ALL.iter().map(|id| id.as_str()).collect();
    assert_eq!(ids, spec);
}

#[test]
fn rule_ids_round_trip_as_stored_and_as_json() {
    crate::domain::code::assert_round_trips::<RuleId>();
    for &id in RuleId::ALL {
        assert_eq!(serde_json::to_value(id).unwrap(), id.as_str());
        assert!(!id.label().is_empty());
    }
    // A stored result whose id this version does not know is an error, not a default.
    let stored = r#"[{"id":"contract_dates","status":"pass","message":"x"}]"#;
    assert!(serde_json::from_str::<Vec<RuleResult>>(stored).is_err());
}

#[test]
fn the_sample_advance_payment_passes_with_inapplicable_rules_skipped() {
    let results = evaluate(&oita(), &cert(|_| {}), &Expected::default());
    assert!(passes(&results));
    for r in &results {
        let want = match r.id.as_str() {
            "performance_amount" | "intermediate_amount" => RuleStatus::Skip,
            id if id.starts_with("expected_") => RuleStatus::Skip,
            _ => RuleStatus::Pass,
        };
        assert_eq!(r.status, want, "{}: {}", r.id, r.message);
    }
}

#[test]
fn contract_signed_before_effective_date_fails_and_on_it_passes() {
    let before = cert(|v| v["contract"]["contract_date"] = "2025-03-31".into());
    let r = rule(&oita(), &before, &Expected::default(), "contract_date");
    assert_eq!(r.status, RuleStatus::Fail);
    assert_eq!(
        r.message,
        "当初契約日 令和7年3月31日（2025-03-31）は適用開始日 令和7年4月1日（2025-04-01）より前です"
    );
    let on = cert(|v| v["contract"]["contract_date"] = "2025-04-01".into());
    assert_eq!(status_of(&on, "contract_date"), RuleStatus::Pass);
}

#[test]
fn performance_guarantee_of_exactly_one_tenth_rounded_up_passes_and_one_yen_less_fails() {
    let exact = amounts("performance", "construction", 123_456_789, 12_345_679);
    let r = rule(&oita(), &exact, &Expected::default(), "performance_amount");
    assert_eq!(r.status, RuleStatus::Pass);
    assert!(r.message.contains("12,345,679円"), "{}", r.message);
    assert!(r.message.contains("123,456,789円"), "{}", r.message);
    let short = amounts("performance", "construction", 123_456_789, 12_345_678);
    assert_eq!(status_of(&short, "performance_amount"), RuleStatus::Fail);
}

#[test]
fn advance_payment_up_to_four_tenths_passes_and_one_yen_more_warns() {
    let c = |g| amounts("advance_payment", "construction", 123_200_000, g);
    assert_eq!(
        status_of(&c(49_280_000), "advance_amount"),
        RuleStatus::Pass
    );
    assert_eq!(
        status_of(&c(49_280_001), "advance_amount"),
        RuleStatus::Warn
    );
    let odd = |g| amounts("advance_payment", "construction", 123_456_789, g);
    assert_eq!(
        status_of(&odd(49_382_715), "advance_amount"),
        RuleStatus::Pass
    );
    assert_eq!(
        status_of(&odd(49_382_716), "advance_amount"),
        RuleStatus::Warn
    );
    assert!(passes(&evaluate(
        &oita(),
        &c(49_280_001),
        &Expected::default()
    )));
}

#[test]
fn consulting_advance_payment_is_held_to_three_tenths() {
    let c = |g| amounts("advance_payment", "construction_consulting", 123_200_000, g);
    assert_eq!(
        status_of(&c(36_960_000), "advance_amount"),
        RuleStatus::Pass
    );
    assert_eq!(
        status_of(&c(36_960_001), "advance_amount"),
        RuleStatus::Warn
    );
}

#[test]
fn intermediate_advance_for_consulting_fails() {
    let c = amounts(
        "intermediate_advance_payment",
        "construction_consulting",
        123_200_000,
        1_000,
    );
    let r = rule(&oita(), &c, &Expected::default(), "intermediate_amount");
    assert_eq!(r.status, RuleStatus::Fail);
    assert!(r.message.contains("建設コンサルタント等業務委託"));
}

#[test]
fn intermediate_advance_up_to_two_tenths_passes_and_above_fails() {
    let c = |g| {
        amounts(
            "intermediate_advance_payment",
            "construction",
            123_200_000,
            g,
        )
    };
    assert_eq!(
        status_of(&c(24_640_000), "intermediate_amount"),
        RuleStatus::Pass
    );
    assert_eq!(
        status_of(&c(24_640_001), "intermediate_amount"),
        RuleStatus::Fail
    );
}

#[test]
fn amount_rules_are_skipped_for_other_kinds() {
    let c = amounts("performance", "construction", 123_200_000, 12_320_000);
    assert_eq!(status_of(&c, "advance_amount"), RuleStatus::Skip);
    assert_eq!(status_of(&c, "intermediate_amount"), RuleStatus::Skip);
    let sample = cert(|_| {});
    assert_eq!(status_of(&sample, "performance_amount"), RuleStatus::Skip);
}

#[test]
fn performance_reservation_fails_with_the_flyer_wording() {
    let c = cert(|v| v["kind"] = "performance_reservation".into());
    let r = rule(&oita(), &c, &Expected::default(), "guarantee_kind");
    assert_eq!(r.status, RuleStatus::Fail);
    assert!(r.message.contains("契約保証予約は電子保証の対象外です"));
    assert_eq!(status_of(&c, "performance_amount"), RuleStatus::Skip);
}

#[test]
fn cancelled_guarantee_fails() {
    let c = cert(|v| v["status"] = "cancelled".into());
    let results = evaluate(&oita(), &c, &Expected::default());
    assert!(!passes(&results));
    let r = rule(&oita(), &c, &Expected::default(), "status");
    assert_eq!(r.status, RuleStatus::Fail);
    assert!(r.message.contains("解約・失効"));
}

#[test]
fn orderer_outside_oita_fails() {
    let c = cert(|v| v["orderer"]["name"] = "福岡県".into());
    let r = rule(&oita(), &c, &Expected::default(), "orderer");
    assert_eq!(r.status, RuleStatus::Fail);
    assert!(r.message.contains("福岡県") && r.message.contains("大分県"));
}

#[test]
fn contract_of_another_category_fails() {
    let c = cert(|v| v["contract"]["category"] = "other".into());
    assert_eq!(status_of(&c, "contract_category"), RuleStatus::Fail);
    assert_eq!(status_of(&c, "advance_amount"), RuleStatus::Skip);
}

#[test]
fn terms_outside_the_list_or_missing_warn() {
    let other = cert(|v| v["contract"]["terms"] = "公共工事標準請負契約約款".into());
    assert_eq!(status_of(&other, "terms"), RuleStatus::Warn);
    let missing = cert(|v| {
        v["contract"].as_object_mut().unwrap().remove("terms");
    });
    assert_eq!(status_of(&missing, "terms"), RuleStatus::Warn);
    let half_width =
        cert(|v| v["contract"]["terms"] = "大分県公共工事請負契約約款【R7.4.1~】".into());
    assert_eq!(status_of(&half_width, "terms"), RuleStatus::Pass);
}

#[test]
fn guarantee_period_not_covering_the_contract_period_warns() {
    let late_start = cert(|v| v["guarantee"]["period_start"] = "2025-04-03".into());
    let r = rule(
        &oita(),
        &late_start,
        &Expected::default(),
        "guarantee_period",
    );
    assert_eq!(r.status, RuleStatus::Warn);
    assert!(
        r.message.contains("令和7年4月3日（2025-04-03）"),
        "{}",
        r.message
    );
    let early_end = cert(|v| v["guarantee"]["period_end"] = "2026-03-12".into());
    assert_eq!(status_of(&early_end, "guarantee_period"), RuleStatus::Warn);
    let same = cert(|v| v["guarantee"]["period_end"] = "2026-03-13".into());
    assert_eq!(status_of(&same, "guarantee_period"), RuleStatus::Pass);
}

#[test]
fn guarantee_period_is_skipped_without_a_contract_period() {
    let c = cert(|v| {
        let contract = v["contract"].as_object_mut().unwrap();
        contract.remove("period_start");
        contract.remove("period_end");
    });
    assert_eq!(status_of(&c, "guarantee_period"), RuleStatus::Skip);
    let end_only = cert(|v| {
        v["contract"]
            .as_object_mut()
            .unwrap()
            .remove("period_start");
        v["guarantee"]["period_end"] = "2026-03-12".into();
    });
    assert_eq!(status_of(&end_only, "guarantee_period"), RuleStatus::Warn);
}

#[test]
fn cross_checks_are_skipped_when_nothing_or_blanks_were_typed() {
    let blanks = Expected {
        contract_amount_yen: None,
        contractor_name: Some(String::new()),
        title: Some("　".to_string()),
    };
    for expected in [Expected::default(), blanks] {
        let results = evaluate(&oita(), &cert(|_| {}), &expected);
        for r in results
            .iter()
            .filter(|r| r.id.as_str().starts_with("expected_"))
        {
            assert_eq!(r.status, RuleStatus::Skip, "{}", r.id);
        }
    }
}

#[test]
fn abbreviated_company_forms_match_the_full_name() {
    let c = cert(|_| {});
    for typed in [
        "(株)豊後建設",
        "㈱豊後建設",
        "（株） 豊後建設",
        "株式会社　豊後建設",
        // Pasted from a PDF: a zero-width space and a soft hyphen nobody sees.
        "株式会社\u{200B}豊後\u{00AD}建設",
    ] {
        let e = Expected {
            contractor_name: Some(typed.to_string()),
            ..Expected::default()
        };
        let r = rule(&oita(), &c, &e, "expected_contractor");
        assert_eq!(r.status, RuleStatus::Pass, "{typed}: {}", r.message);
    }
    let yugen = cert(|v| v["contractor"]["name"] = "㈲豊後建設".into());
    let e = Expected {
        contractor_name: Some("有限会社豊後建設".to_string()),
        ..Expected::default()
    };
    assert_eq!(
        rule(&oita(), &yugen, &e, "expected_contractor").status,
        RuleStatus::Pass
    );
    let other = Expected {
        contractor_name: Some("(有)豊後建設".to_string()),
        ..Expected::default()
    };
    assert_eq!(
        rule(&oita(), &c, &other, "expected_contractor").status,
        RuleStatus::Fail
    );
}

/// A Hangul filler shows as nothing. The typed side drops it, so a record whose name
/// holds one must compare without it too, or 照合 could never pass.
#[test]
fn a_hangul_filler_in_the_record_does_not_stop_a_match() {
    let c = cert(|v| v["contractor"]["name"] = "株式会社豊後建設\u{3164}".into());
    let e = Expected {
        contractor_name: Some("株式会社豊後建設".to_string()),
        ..Expected::default()
    };
    let r = rule(&oita(), &c, &e, "expected_contractor");
    assert_eq!(r.status, RuleStatus::Pass, "{}", r.message);
    assert!(r.message.contains("〔U+3164〕"), "{}", r.message);
}

#[test]
fn typed_contract_amount_must_match() {
    let c = cert(|_| {});
    let typed = |a| Expected {
        contract_amount_yen: Some(a),
        ..Expected::default()
    };
    let r = rule(&oita(), &c, &typed(123_200_001), "expected_contract_amount");
    assert_eq!(r.status, RuleStatus::Fail);
    assert!(r.message.contains("123,200,000円") && r.message.contains("123,200,001円"));
    assert_eq!(
        rule(&oita(), &c, &typed(123_200_000), "expected_contract_amount").status,
        RuleStatus::Pass
    );
}

#[test]
fn typed_title_differing_only_in_width_and_spaces_matches_and_otherwise_warns() {
    let c = cert(|_| {});
    let typed = |t: &str| Expected {
        title: Some(t.to_string()),
        ..Expected::default()
    };
    let same = rule(
        &oita(),
        &c,
        &typed("県道大分臼杵線 道路改良工事"),
        "expected_title",
    );
    assert_eq!(same.status, RuleStatus::Pass);
    let other = rule(
        &oita(),
        &c,
        &typed("県道大分臼杵線舗装工事"),
        "expected_title",
    );
    assert_eq!(other.status, RuleStatus::Warn);
}

#[test]
fn typed_amounts_are_read_in_any_width_with_separators() {
    assert_eq!(
        parse_yen_input("１２３，２００，０００円"),
        Ok(Some(123_200_000))
    );
    assert_eq!(parse_yen_input("123200000"), Ok(Some(123_200_000)));
    assert_eq!(parse_yen_input(" 123,200,000 円 "), Ok(Some(123_200_000)));
    assert_eq!(
        parse_yen_input("\u{FEFF}123,200,000\u{200B}"),
        Ok(Some(123_200_000))
    );
    assert_eq!(parse_yen_input("0"), Ok(Some(0)));
    assert_eq!(parse_yen_input(""), Ok(None));
    assert_eq!(parse_yen_input("　"), Ok(None));
}

#[test]
fn typed_amount_that_is_not_yen_is_refused_naming_the_field() {
    for bad in ["12a", "1,23,200", ",123", "123,", "-5", "円", "¥123"] {
        let err = parse_yen_input(bad).expect_err(bad);
        let text = err.to_string();
        assert!(text.contains("請負代金額"), "{text}");
        assert!(
            text.is_ascii() || !text.contains("expected_contract_amount"),
            "Japanese only: {text}"
        );
        assert_eq!(err.field(), "expected_contract_amount");
    }
    assert!(matches!(
        parse_yen_input("99999999999999999999"),
        Err(AmountInputError::TooLarge { .. })
    ));
}

#[test]
fn shipped_oita_profile_holds_the_spec_values() {
    let p = oita();
    assert_eq!(p.name, "大分県");
    assert_eq!(p.effective_from.to_string(), "2025-04-01");
    assert_eq!(p.orderer_prefix, "大分県");
    assert_eq!(p.performance_min, Ratio { num: 1, den: 10 });
    assert_eq!(p.intermediate_max, Ratio { num: 2, den: 10 });
    use kakunin_protocol::payload::Category::*;
    assert_eq!(
        p.advance_max_for(Construction),
        Some(Ratio { num: 4, den: 10 })
    );
    assert_eq!(
        p.advance_max_for(ConstructionConsulting),
        Some(Ratio { num: 3, den: 10 })
    );
    assert_eq!(p.intermediate_categories, vec![Construction]);
    assert_eq!(p.terms.len(), 2);
}

#[test]
fn another_prefecture_is_just_another_profile() {
    let fukuoka = fukuoka();
    let sample = cert(|_| {});
    let e = Expected::default();
    assert_eq!(
        rule(&fukuoka, &sample, &e, "contract_date").status,
        RuleStatus::Fail
    );
    assert_eq!(
        rule(&fukuoka, &sample, &e, "orderer").status,
        RuleStatus::Fail
    );
    let theirs = cert(|v| {
        v["orderer"]["name"] = "福岡県県土整備部".into();
        v["contract"]["contract_date"] = "2025-10-01".into();
        v["guarantee"]["amount_yen"] = 61_600_000.into();
    });
    assert_eq!(
        rule(&fukuoka, &theirs, &e, "orderer").status,
        RuleStatus::Pass
    );
    assert_eq!(
        rule(&fukuoka, &theirs, &e, "advance_amount").status,
        RuleStatus::Pass
    );
    assert_eq!(status_of(&theirs, "advance_amount"), RuleStatus::Warn);
    let performance = amounts("performance", "construction", 100_000_000, 10_000_000);
    assert_eq!(
        status_of(&performance, "performance_amount"),
        RuleStatus::Pass
    );
    let r = rule(&fukuoka, &performance, &e, "performance_amount");
    assert_eq!(r.status, RuleStatus::Fail);
    assert!(
        r.message.contains("10分の3（30,000,000円）"),
        "{}",
        r.message
    );
}

#[test]
fn profile_with_zero_denominator_is_refused_naming_the_file() {
    let text = FUKUOKA.replace("den = 2", "den = 0");
    let err = Profile::from_toml_str(&text, "fukuoka.toml").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("fukuoka.toml") && msg.contains("advance_max"),
        "{msg}"
    );
}

#[test]
fn profile_syntax_error_names_the_file_and_line() {
    let text = FUKUOKA.replace("orderer_prefix = \"福岡県\"", "orderer_prefix = 福岡県");
    let err = Profile::from_toml_str(&text, "fukuoka.toml").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("fukuoka.toml:6:"), "{msg}");
    let missing = Profile::load(Path::new("/nonexistent/kakunin/x.toml")).unwrap_err();
    assert!(missing.to_string().contains("/nonexistent/kakunin/x.toml"));
}

#[test]
fn profile_with_misspelled_key_is_refused() {
    let text = FUKUOKA.replace("terms =", "term =");
    assert!(Profile::from_toml_str(&text, "fukuoka.toml").is_err());
}

#[test]
fn warnings_do_not_stop_a_record_but_failures_do() {
    let r = |status| RuleResult::new(RuleId::Terms, status, String::new());
    assert!(passes(&[
        r(RuleStatus::Pass),
        r(RuleStatus::Warn),
        r(RuleStatus::Skip)
    ]));
    assert!(!passes(&[r(RuleStatus::Pass), r(RuleStatus::Fail)]));
    assert_eq!(RuleStatus::Fail.label(), "不適合");
    assert_eq!(r(RuleStatus::Pass).label(), "約款");
}

#[test]
fn rule_status_serializes_in_snake_case() {
    assert_eq!(
        serde_json::to_value(RuleStatus::Warn).unwrap(),
        json!("warn")
    );
}

proptest! {
    #[test]
    fn performance_boundary_is_exact_for_any_amount(a in 0i64..=i64::MAX / 2) {
        let min = (a / 10) + i64::from(a % 10 != 0);
        let at = amounts("performance", "construction", a, min);
        prop_assert_eq!(status_of(&at, "performance_amount"), RuleStatus::Pass);
        if min > 0 {
            let below = amounts("performance", "construction", a, min - 1);
            prop_assert_eq!(status_of(&below, "performance_amount"), RuleStatus::Fail);
        }
    }
}

#[test]
fn typed_texts_are_bounded_after_nfkc_on_every_face() {
    use super::{typed_text_input, ExpectedText};
    let longest = "あ".repeat(500);
    assert_eq!(
        typed_text_input(ExpectedText::Title, &longest).unwrap(),
        Some(longest.clone())
    );
    let err = typed_text_input(ExpectedText::Title, &format!("{longest}あ")).unwrap_err();
    assert!(
        err.to_string().contains("工事名・業務名は500文字以内"),
        "{err}"
    );
    // ㍻ is one character typed and two compared: 300 of them are 600.
    assert!(typed_text_input(ExpectedText::ContractorName, &"㍻".repeat(300)).is_err());
    assert_eq!(typed_text_input(ExpectedText::Title, "  ").unwrap(), None);
    // Format characters are dropped (they would only make the comparison's echo
    // unreadable), control characters refused, by field.
    assert_eq!(
        typed_text_input(ExpectedText::ContractorName, "\u{202E}大分建設\u{200B}").unwrap(),
        Some("大分建設".to_owned())
    );
    let err = typed_text_input(ExpectedText::ContractorName, "大分\u{0}建設").unwrap_err();
    assert!(err.control);
    assert_eq!(
        err.to_string(),
        "受注者名に改行やタブなどの制御文字は使えません。"
    );
    let both = Expected::from_input("1x", &"x".repeat(501), "").unwrap_err();
    let fields: Vec<_> = both.iter().map(|e| e.form_field()).collect();
    assert_eq!(fields, ["expected_contract_amount", "expected_contractor"]);
}

/// What `Profile::from_toml_str` says about `text` with `from` replaced by `to`.
fn oita_error(from: &str, to: &str) -> String {
    let shipped = include_str!("../../../config/profiles/oita.toml");
    assert!(shipped.contains(from), "{from} in the shipped profile");
    let text = shipped.replacen(from, to, 1);
    Profile::from_toml_str(&text, "oita.toml")
        .unwrap_err()
        .to_string()
}

#[test]
fn profile_errors_are_told_in_japanese_with_line_and_key() {
    let line_of = |needle: &str| {
        include_str!("../../../config/profiles/oita.toml")
            .lines()
            .position(|l| l.starts_with(needle))
            .unwrap()
            + 1
    };
    let msg = oita_error("orderer_prefix =", "orderer_prefx =");
    assert!(
        msg.contains(&format!("oita.toml:{}:", line_of("orderer_prefix")))
            && msg.contains("orderer_prefx という項目はありません")
            && msg.contains("書ける項目: name, effective_from"),
        "{msg}"
    );
    let msg = oita_error(
        "effective_from = 2025-04-01",
        "effective_from = \"tomorrow\"",
    );
    assert!(
        msg.contains(&format!("oita.toml:{}:", line_of("effective_from")))
            && msg.contains("effective_from は 日付")
            && msg.contains("文字列「tomorrow」でした"),
        "{msg}"
    );
    let msg = oita_error(
        "ratio = { num = 4, den = 10 }",
        "ratio = { num = 4, dem = 10 }",
    );
    assert!(
        msg.contains("advance_max.ratio.dem という項目はありません"),
        "{msg}"
    );
    let msg = oita_error("category = \"construction\"", "category = \"road\"");
    assert!(
        msg.contains("advance_max.category に「road」は書けません"),
        "{msg}"
    );
    let msg = oita_error(
        "performance_min = { num = 1, den = 10 }",
        "performance_min = { num = \"1\", den = 10 }",
    );
    assert!(
        msg.contains("performance_min.num は 整数 で書いてください（文字列「1」でした）"),
        "{msg}"
    );
    for english in ["unknown field", "invalid type", "expected"] {
        assert!(!msg.contains(english), "{msg}");
    }
}

#[test]
fn a_profile_missing_from_the_folder_is_the_built_in_one_or_names_the_settings() {
    let empty = tempfile::tempdir().unwrap();
    let built_in = Profile::load_named(empty.path(), "oita").expect("the built-in oita");
    let shipped = Profile::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/profiles/oita.toml"
    )))
    .unwrap();
    assert_eq!(
        built_in.digest, shipped.digest,
        "the same text, the same digest"
    );
    let msg = Profile::load_named(empty.path(), "nosuch")
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("nosuch.toml")
            && msg.contains("rules.profiles_dir")
            && msg.contains("KAKUNIN_PROFILE"),
        "{msg}"
    );
    // A file in the folder wins over the built-in copy of the same name.
    std::fs::write(empty.path().join("oita.toml"), "name = \"x\"").unwrap();
    assert!(Profile::load_named(empty.path(), "oita").is_err());
}
