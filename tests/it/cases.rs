//! 案件 (the orderer's own contract a guarantee is accepted for): typed on the form, in
//! the API and in `kakunin batch`'s CSV; answered with every Verification together with
//! the guarantee's use under the office's other 案件 and by other offices; shown on the
//! outcome page, the print view and the history; and `kakunin watch`, which lists the
//! accepted guarantees that need a look.

use kakunin_testkit::client::item;
use kakunin_testkit::html::Html;
use kakunin_testkit::issuer::{full_width, unknown_key};
use kakunin_testkit::process::{assert_exit, stderr, stdout};
use kakunin_testkit::service::{OFFICE, OTHER_OFFICE};
use serde_json::{json, Value};

use super::{officer, problem, start};

/// An API item with a 案件 (members left out when `None`).
fn with_case(
    number: &str,
    key: &str,
    r: &str,
    case_number: Option<&str>,
    title: Option<&str>,
) -> Value {
    let mut v = item(number, key, r);
    if let Some(n) = case_number {
        v["case_number"] = json!(n);
    }
    if let Some(t) = title {
        v["case_title"] = json!(t);
    }
    v
}

/// The payload of a Verification's signed receipt.
fn receipt_payload(v: &Value) -> Value {
    use base64::Engine as _;
    let payload = v["receipt"]["payload"].as_str().expect("a receipt");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn the_api_answers_the_case_and_the_guarantees_use_under_other_cases_and_offices() {
    let (issuer, service) = start();
    let own = service.api("keiyaku-a", "verify");
    let other = service.api_of("keiyaku-b", OTHER_OFFICE, "verify");
    let k = issuer.demo_key("W2025000001").clone();
    let (number, key) = (k.certificate_number.as_str(), k.auth_key.as_str());

    // Typed with an IME left on, and spaces around: NFKC and trimmed.
    let first = own
        .verify(&with_case(
            number,
            key,
            "r-1",
            Some(&full_width("R7-001")),
            Some("  県道改良工事  "),
        ))
        .await;
    assert_eq!(first["outcome"], "verified", "{first}");
    assert_eq!(
        first["case"],
        json!({"number": "R7-001", "title": "県道改良工事"})
    );
    assert_eq!(
        first["duplicate_use"],
        json!({"cases": [], "other_offices": false})
    );
    assert_eq!(
        receipt_payload(&first)["case"],
        json!({"number": "R7-001", "title": "県道改良工事"}),
        "the signed receipt states the 案件"
    );

    // The same guarantee again, for another 案件 of the office.
    let second = own
        .verify(&with_case(number, key, "r-2", Some("R7-002"), None))
        .await;
    assert_eq!(second["case"], json!({"number": "R7-002", "title": null}));
    assert_eq!(
        second["duplicate_use"],
        json!({"cases": ["R7-001"], "other_offices": false})
    );
    // Without a 案件: null, and every case of the office is another one.
    let third = own.verify(&item(number, key, "r-3")).await;
    assert_eq!(third["case"], Value::Null);
    assert_eq!(third["duplicate_use"]["cases"], json!(["R7-001", "R7-002"]));
    assert!(
        receipt_payload(&third).get("case").is_none(),
        "a receipt without a 案件 has no case member"
    );

    // Another office sees only that some other office verified it, never which case.
    let elsewhere = other
        .verify(&with_case(number, key, "b-1", Some("B-001"), None))
        .await;
    assert_eq!(
        elsewhere["duplicate_use"],
        json!({"cases": [], "other_offices": true})
    );
    assert!(!elsewhere.to_string().contains("R7-00"));

    // A wrong key under yet another 案件 had no record: it is no use of the guarantee.
    let miss = own
        .verify(&with_case(
            number,
            &unknown_key(1),
            "r-4",
            Some("R7-999"),
            None,
        ))
        .await;
    assert_eq!(miss["outcome"], "not_found", "{miss}");

    // Read again later, the first one counts what came since.
    let id = first["id"].as_str().unwrap();
    let again = own.get_json(&format!("/api/v1/verifications/{id}")).await;
    assert_eq!(
        again["duplicate_use"],
        json!({"cases": ["R7-002"], "other_offices": true})
    );

    // A batch item takes the members too, and counts the items before it.
    let results = own
        .batch(&[with_case(
            number,
            key,
            "r-5",
            Some("R7-003"),
            Some("橋梁補修"),
        )])
        .await;
    assert_eq!(
        results[0]["case"],
        json!({"number": "R7-003", "title": "橋梁補修"})
    );
    assert_eq!(
        results[0]["duplicate_use"],
        json!({"cases": ["R7-001", "R7-002"], "other_offices": true})
    );

    // A receipt with a case still checks out offline.
    let out = service.cli(&["evidence", "verify", id]);
    assert_exit(&out, 0);

    // The OpenAPI document describes both members, always present.
    let doc = own.get_json("/api/openapi.json").await;
    let verification = &doc["components"]["schemas"]["Verification"];
    for member in ["case", "duplicate_use"] {
        assert!(
            verification["properties"].get(member).is_some(),
            "{member} in {verification}"
        );
        assert!(
            verification["required"]
                .as_array()
                .unwrap()
                .contains(&json!(member)),
            "{member} is required"
        );
    }
    let input = &doc["components"]["schemas"]["VerificationInput"]["properties"];
    assert!(input.get("case_number").is_some() && input.get("case_title").is_some());
}

#[tokio::test]
async fn a_case_text_over_100_characters_is_a_422_naming_the_member() {
    let (issuer, service) = start();
    let api = service.api("keiyaku", "verify");
    let k = issuer.demo_key("W2025000001");
    let (number, key) = (k.certificate_number.as_str(), k.auth_key.as_str());

    let long = "あ".repeat(101);
    let res = api
        .post(
            "/api/v1/verifications",
            &with_case(number, key, "r", None, Some(&long)),
        )
        .await;
    let p = problem(res, 422).await;
    assert_eq!(p["field"], "case_title", "{p}");
    assert!(p["detail"].as_str().unwrap().contains("100文字以内"), "{p}");
    // Counted after NFKC: 51 × ㍻ is 102 characters.
    let res = api
        .post(
            "/api/v1/verifications",
            &with_case(number, key, "r", Some(&"㍻".repeat(51)), None),
        )
        .await;
    assert_eq!(problem(res, 422).await["field"], "case_number");
    let mut bad = item(number, key, "r");
    bad["case_number"] = json!(7);
    let res = api.post("/api/v1/verifications", &bad).await;
    assert_eq!(problem(res, 422).await["field"], "case_number");
    // In a batch, the item gets its own problem and the others go on.
    let results = api
        .batch(&[
            with_case(number, key, "bad", Some(&long), None),
            with_case(number, key, "good", Some(&"あ".repeat(100)), None),
        ])
        .await;
    assert_eq!(results[0]["error"]["field"], "case_number");
    assert_eq!(results[1]["outcome"], "verified", "100 characters are fine");
    assert_eq!(
        service.count("SELECT COUNT(*) AS n FROM verifications"),
        1,
        "no refused input was looked up"
    );
}

#[tokio::test]
async fn the_form_keeps_the_case_on_error_and_the_pages_show_it_with_a_caution() {
    let (issuer, service, browser) = officer().await;
    let k = issuer.demo_key("W2025000001").clone();
    let (number, key) = (k.certificate_number.as_str(), k.auth_key.as_str());
    let long = "い".repeat(101);

    let res = browser
        .verify(
            number,
            key,
            &[("case_number", "R7-001"), ("case_title", &long)],
        )
        .await;
    assert_eq!(res.status(), 422);
    let page = Html::of(res).await;
    assert!(
        page.text("#case_title-error")
            .starts_with("案件名は100文字以内"),
        "{page}"
    );
    assert_eq!(page.field("case_number").as_deref(), Some("R7-001"));
    assert_eq!(page.field("case_title").as_deref(), Some(long.as_str()));
    assert_eq!(page.field("certificate_number").as_deref(), Some(number));
    assert_eq!(page.field("auth_key").as_deref(), Some(""), "never the key");
    assert_eq!(service.count("SELECT COUNT(*) AS n FROM verifications"), 0);

    let res = browser
        .verify(
            number,
            key,
            &[("case_number", "R7-001"), ("case_title", "県道改良工事")],
        )
        .await;
    assert_eq!(res.status(), 200);
    let page = Html::of(res).await;
    assert_eq!(page.text("#case-number"), "R7-001");
    assert_eq!(page.text("#case-title"), "県道改良工事");
    assert!(!page.has("#duplicate-use"), "first use: no caution");
    // The banner counts every 注意 the page shows, the duplicate use's included.
    let counted = |page: &Html| match page.has(".caution-count") {
        true => page.text(".caution-count"),
        false => "注意 0 件".to_owned(),
    };
    let first_count = counted(&page);

    let res = browser
        .verify(number, key, &[("case_number", "R7-002")])
        .await;
    let id = kakunin_testkit::client::verification_id(&res);
    let page = Html::of(res).await;
    assert_eq!(page.text("#case-number"), "R7-002");
    assert_eq!(page.text("#case-title"), "（未入力）");
    let caution = page.text("#duplicate-use");
    assert!(
        caution.contains("別の案件") && caution.contains("R7-001"),
        "{caution}"
    );
    let n = |c: String| -> usize {
        c.trim_start_matches("注意 ")
            .trim_end_matches(" 件")
            .parse()
            .unwrap()
    };
    assert_eq!(n(counted(&page)), n(first_count) + 1, "{page}");

    let print = browser.page(&format!("/verifications/{id}/print")).await;
    assert_eq!(print.text("#print-case-number"), "R7-002");
    assert!(
        print.text("#print-duplicate-use").contains("R7-001"),
        "{print}"
    );

    let history = browser.page("/verifications").await;
    let cases = super::column(&history, "table.history", 6);
    assert_eq!(cases, ["R7-002", "R7-001県道改良工事"], "{history}");
    let duplicates = super::column(&history, "table.history", 7);
    assert_eq!(duplicates[0], "注意: 別案件 R7-001");
    assert_eq!(duplicates[1], "注意: 別案件 R7-002");
    // After a 該当なし, the form offered again keeps the 案件 for the next try.
    let res = browser
        .verify(number, &unknown_key(2), &[("case_number", "R7-003")])
        .await;
    let page = Html::of(res).await;
    assert!(page.has("#retry"), "{page}");
    assert_eq!(page.field("case_number").as_deref(), Some("R7-003"));
    assert!(
        !page.has("#duplicate-use"),
        "no guarantee was shown, so none was used twice: {page}"
    );
    // ...and the 照合 values typed with it: the retry sends them again, and says so.
    let res = browser
        .verify(
            number,
            &unknown_key(3),
            &[
                ("expected_contract_amount", "1,000"),
                ("expected_contractor", "株式会社X"),
            ],
        )
        .await;
    let page = Html::of(res).await;
    assert!(page.text("#retry-expected").contains("株式会社X"), "{page}");
    let mut retry: Vec<(String, String)> = page
        .all("#retry form input")
        .into_iter()
        .filter_map(|e| Some((e.attr("name")?.to_owned(), e.attr("value")?.to_owned())))
        .collect();
    for (name, value) in retry.iter_mut() {
        if name == "auth_key" {
            *value = key.to_owned();
        }
    }
    let retry: Vec<(&str, &str)> = retry
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let page = Html::of(browser.post("/verify", &retry).await).await;
    for rule in ["expected_contract_amount", "expected_contractor"] {
        assert_eq!(
            super::rule_status(&page, rule).as_deref(),
            Some("fail"),
            "{rule} was checked against what the officer typed first: {page}"
        );
    }
    // Searchable by 案件番号, typed as the form takes it.
    let one = browser
        .page(&format!("/verifications?case={}", full_width("R7-001")))
        .await;
    assert_eq!(
        super::column(&one, "table.history", 6),
        ["R7-001県道改良工事"]
    );
}

#[tokio::test]
async fn the_batch_csv_takes_case_columns_and_writes_the_case_and_its_duplicate_use() {
    let (issuer, service) = start();
    let token = service.create_token("batch-cli", OFFICE, "verify");
    let k = issuer.demo_key("W2025000001");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    let output = dir.path().join("out.csv");
    std::fs::write(
        &input,
        format!(
            "保証契約番号,認証キー,案件番号,案件名\r\n{n},{k},R7-001,県道改良工事\r\n{n},{k},R7-002,\r\n{n},{k},{long},\r\n",
            n = k.certificate_number,
            k = k.auth_key,
            long = "x".repeat(101)
        ),
    )
    .unwrap();
    let out = super::batch_cli::run(&service, &input, &output, Some(&token));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let rows = super::batch_cli::read_output(&output);
    let cell = |row, name| super::batch_cli::column(&rows, row, name).to_owned();
    assert_eq!(cell(1, "case_number"), "R7-001");
    assert_eq!(cell(1, "case_title"), "県道改良工事");
    // One batch: each item counts the others of the office.
    assert_eq!(cell(1, "duplicate_cases"), "R7-002");
    assert_eq!(cell(2, "duplicate_cases"), "R7-001");
    assert_eq!(cell(2, "duplicate_other_offices"), "なし");
    assert_eq!(cell(3, "outcome"), "input_error");
    // The field named once (the API's detail starts with it already).
    assert!(
        cell(3, "detail").starts_with("case_number は100文字以内"),
        "{rows:?}"
    );
}

#[tokio::test]
async fn watch_lists_accepted_guarantees_that_need_a_look_and_exits_0_1_or_2() {
    let (issuer, service) = start();
    let api = service.api("keiyaku", "verify");
    let watch = |days: &str| {
        let out = service.cli(&["watch", "--office", OFFICE, "--days", days]);
        (out.status.code(), stdout(&out), stderr(&out))
    };

    let out = service.cli(&["watch", "--office", "999999"]);
    assert_eq!(out.status.code(), Some(2), "an unknown office");
    assert!(stderr(&out).contains("999999"), "{}", stderr(&out));
    let (code, lines, err) = watch("30");
    assert_eq!(code, Some(0), "nothing accepted yet: {err}");
    assert!(lines.is_empty());
    assert!(err.contains("ありません"), "{err}");

    // The demo guarantee's period ended in early 2026: nothing to look at.
    let k = issuer.demo_key("W2025000001").clone();
    let v = api
        .verify(&with_case(
            &k.certificate_number,
            &k.auth_key,
            "r-1",
            Some("R7-001"),
            None,
        ))
        .await;
    assert_eq!(v["outcome"], "verified", "{v}");
    assert_eq!(watch("30").0, Some(0));

    // The issuer extends the guarantee to end ten days from today, and the office
    // accepts that revision.
    let end = kakunin_protocol::time::now_jst().date_naive() + chrono::Duration::days(10);
    issuer.amend(
        &k.certificate_number,
        &json!({"guarantee": {"period_end": end.to_string()}, "summary": "保証期間の延長"}),
    );
    let v = api
        .verify(&with_case(
            &k.certificate_number,
            &k.auth_key,
            "r-2",
            Some("R7-001"),
            None,
        ))
        .await;
    assert_eq!(v["outcome"], "verified", "{v}");
    let accepted = v["id"].as_str().unwrap().to_owned();
    let (code, lines, _) = watch("30");
    assert_eq!(code, Some(1), "{lines}");
    assert_eq!(lines.lines().count(), 1, "{lines}");
    assert!(
        lines.contains(&k.certificate_number)
            && lines.contains("案件 R7-001")
            && lines.contains("保証期間は")
            && lines.contains("あと10日"),
        "{lines}"
    );
    assert_eq!(watch("9").0, Some(0), "ten days ahead is beyond 9");

    // Then it is cancelled: the office's next lookup is rejected, and the accepted
    // guarantee is listed for that, whatever its period.
    let out = issuer.cli(&["cancel", &k.certificate_number]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = api
        .verify(&item(&k.certificate_number, &k.auth_key, "r-3"))
        .await;
    assert_eq!(v["outcome"], "rejected", "{v}");
    let (code, lines, _) = watch("0");
    assert_eq!(code, Some(1));
    assert!(
        lines.contains("解約・失効") && lines.contains("第3版"),
        "{lines}"
    );
    assert!(
        lines.contains(&accepted) && !lines.contains(v["id"].as_str().unwrap()),
        "the line names the accepting verification: {lines}"
    );
}

#[tokio::test]
async fn a_case_typed_with_uploaded_notices_goes_with_each_of_their_verifications() {
    let (issuer, service) = start();
    let browser = service.officer().await;
    let pdf = super::intake::notice_pdf(&issuer, "W2025000001");

    // A bad 案件 refuses the upload at its field and keeps what was typed.
    let csrf = browser.csrf("/").await;
    let long = "う".repeat(101);
    let res = browser
        .post_multipart(
            "/verify/upload",
            &[
                ("csrf", &csrf),
                ("case_number", "R7-010"),
                ("case_title", &long),
            ],
            &[("notices", "お知らせ.pdf", &pdf)],
        )
        .await;
    assert_eq!(res.status(), 422);
    let page = Html::of(res).await;
    assert!(
        page.text("#upload_case_title-error")
            .starts_with("案件名は100文字以内"),
        "{page}"
    );
    assert_eq!(
        page.attr("#upload_case_number", "value").as_deref(),
        Some("R7-010")
    );
    assert_eq!(
        page.attr("#upload_case_title", "value").as_deref(),
        Some(long.as_str())
    );

    let csrf = browser.csrf("/").await;
    let res = browser
        .post_multipart(
            "/verify/upload",
            &[("csrf", &csrf), ("case_number", "Ｒ７－０１０")],
            &[("notices", "お知らせ.pdf", &pdf)],
        )
        .await;
    let page = Html::of(res).await;
    assert!(page.text("#upload-case").contains("R7-010"), "{page}");
    let page = Html::of(
        browser
            .submit("/verify/upload", "/verify/upload/all", &[])
            .await,
    )
    .await;
    let result = page.attr("#item-0 a", "href").unwrap();
    let outcome = browser.page(&result).await;
    assert_eq!(outcome.text("#case-number"), "R7-010");
}
