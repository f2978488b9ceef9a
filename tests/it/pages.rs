//! The officer's pages: the verify form, the outcome page, the print view, re-verifying
//! and the history.

use kakunin_testkit::html::Html;
use kakunin_testkit::issuer::full_width;
use serde_json::json;

use super::{banner, column, officer, rule_status};

#[tokio::test]
async fn a_valid_certificate_is_verified_and_shown_with_wareki_dates_and_yen() {
    let (issuer, _service, browser) = officer().await;
    let k = issuer.demo_key("W2025000001");
    let res = browser
        .verify(&k.certificate_number, &k.auth_key, &[])
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.url().path().starts_with("/verifications/"),
        "{}",
        res.url()
    );
    let page = Html::of(res).await;
    assert_eq!(banner(&page), "確認済み", "{page}");
    let contract_date = page.row("当初契約日").expect("当初契約日 row");
    assert!(contract_date.starts_with("令和"), "和暦: {contract_date}");
    let amount = page.row("請負代金額").expect("請負代金額 row");
    assert!(amount.ends_with('円'), "amounts in yen: {amount}");
    assert!(page.texts("dl.meta dt").iter().any(|t| t == "署名鍵"));
    assert_eq!(rule_status(&page, "contract_date").as_deref(), Some("pass"));
    let rule = page
        .all("table.rules tbody tr[data-rule=\"contract_date\"]")
        .into_iter()
        .next()
        .map(kakunin_testkit::html::text_of)
        .unwrap_or_default();
    assert!(
        rule.starts_with("当初契約日"),
        "rules are named in Japanese: {rule}"
    );
}

#[tokio::test]
async fn a_reservation_is_rejected_with_the_flyer_message() {
    let (issuer, _service, browser) = officer().await;
    let k = issuer
        .demo_keys
        .iter()
        .find(|k| k.expected_rules.iter().any(|r| r == "guarantee_kind"))
        .expect("a 契約保証予約 case");
    let (_, page) = browser
        .verify_page(&k.certificate_number, &k.auth_key)
        .await;
    assert_eq!(banner(&page), "不適合");
    let row = page
        .all("table.rules tbody tr[data-rule=\"guarantee_kind\"]")
        .into_iter()
        .next()
        .map(kakunin_testkit::html::text_of)
        .unwrap_or_default();
    assert!(row.contains("契約保証予約は電子保証の対象外です"), "{row}");
}

#[tokio::test]
async fn full_width_spaced_and_hyphenated_input_verifies() {
    let (issuer, _service, browser) = officer().await;
    let k = issuer.demo_key("W2025000001");
    let key = k.auth_key.to_lowercase().replace('-', "　ー ");
    let (_, page) = browser
        .verify_page(&full_width(&k.certificate_number), &key)
        .await;
    assert_eq!(banner(&page), "確認済み", "{page}");
}

#[tokio::test]
async fn bad_input_is_explained_at_the_field_and_keeps_what_was_typed() {
    let (_issuer, service, browser) = officer().await;
    let res = browser
        .verify(
            "W12",
            "7KQ2-M9XD-H4T8",
            &[("expected_contract_amount", "12a")],
        )
        .await;
    assert_eq!(res.status(), 422);
    let page = Html::of(res).await;
    assert!(
        page.text("#certificate_number-error")
            .starts_with("保証契約番号は英大文字と数字で6～24文字です"),
        "{page}"
    );
    assert!(page
        .text("#auth_key-error")
        .contains("認証キーは英数字16文字です"));
    assert!(page
        .text("#expected_contract_amount ~ p.error")
        .contains("請負代金額"));
    assert_eq!(
        page.field("certificate_number").as_deref(),
        Some("W12"),
        "what was typed in other fields is kept"
    );
    assert_eq!(page.field("auth_key").as_deref(), Some(""), "never the key");
    assert_eq!(
        page.field("expected_contract_amount").as_deref(),
        Some("12a")
    );
    assert_eq!(service.count("SELECT COUNT(*) AS n FROM verifications"), 0);
    // The address bar now shows /verify: Enter there leads back to the form.
    let res = browser.get("/verify").await;
    assert_eq!((res.status().as_u16(), res.url().path()), (200, "/"));
    assert!(Html::of(res).await.has("form[action=\"/verify\"]"));
}

/// The key is never sent back, so whenever the form returns with an error after a key
/// was given, the 認証キー field says it was cleared (read out with the field), even
/// when every mistake was elsewhere; a key never typed is not said to be cleared.
#[tokio::test]
async fn after_any_error_the_key_field_says_the_key_was_cleared() {
    let (issuer, _service, browser) = officer().await;
    let k = issuer.demo_key("W2025000001");
    let cleared = "安全のため認証キーは消去しました。もう一度入力してください。";
    let describedby = |page: &Html| page.attr("#auth_key", "aria-describedby").unwrap();

    // Only the number is wrong; the key was right.
    let res = browser.verify("W20", &k.auth_key, &[]).await;
    assert_eq!(res.status(), 422);
    let page = Html::of(res).await;
    assert!(page.has("#certificate_number-error"), "{page}");
    assert!(!page.has("#auth_key-error"), "{page}");
    assert_eq!(page.text("#auth_key-cleared"), cleared);
    assert_eq!(describedby(&page), "auth_key-cleared auth_key-help");
    assert_eq!(page.field("auth_key").as_deref(), Some(""), "never the key");

    // A mistake in a 照合 field, and one in the key itself: both said at the key.
    let res = browser
        .verify(
            &k.certificate_number,
            "7KQ2-M9XD",
            &[("expected_contract_amount", "12a")],
        )
        .await;
    let page = Html::of(res).await;
    assert!(page
        .text("#auth_key-error")
        .contains("認証キーは英数字16文字です"));
    assert_eq!(page.text("#auth_key-cleared"), cleared);
    assert_eq!(
        describedby(&page),
        "auth_key-error auth_key-cleared auth_key-help"
    );

    // A key in scanned QR text goes too: the number field shows only the number.
    let scanned = format!(
        "SURETY/1;wjcs;{};{}",
        k.certificate_number,
        k.auth_key.replace('-', "")
    );
    let long = "い".repeat(101);
    let res = browser
        .verify(&scanned, "", &[("case_title", long.as_str())])
        .await;
    let page = Html::of(res).await;
    assert!(page.has("#case_title-error"), "{page}");
    assert_eq!(page.text("#auth_key-cleared"), cleared);

    // No key typed: the field's own message, and nothing said to be cleared.
    let res = browser.verify("W20", "", &[]).await;
    let page = Html::of(res).await;
    assert!(page.text("#auth_key-error").contains("入力されていません"));
    assert!(!page.has("#auth_key-cleared"), "{page}");
    // Nor on the fresh form.
    assert!(!browser.page("/").await.has("#auth_key-cleared"));
}

/// The key typed into 保証契約番号 with 認証キー left empty is a valid number too (16
/// letters and digits), so the number field comes back empty; it says why instead of
/// leaving the officer to wonder where the typing went.
#[tokio::test]
async fn a_number_field_not_shown_again_says_why() {
    let (issuer, _service, browser) = officer().await;
    let k = issuer.demo_key("W2025000001");
    let res = browser.verify(&k.auth_key.replace('-', ""), "", &[]).await;
    assert_eq!(res.status(), 422);
    let page = Html::of(res).await;
    assert_eq!(page.field("certificate_number").as_deref(), Some(""));
    assert!(
        page.text("#certificate_number-cleared")
            .contains("認証キーと同じ形"),
        "{page}"
    );
    assert_eq!(
        page.attr("#certificate_number", "aria-describedby")
            .as_deref(),
        Some("certificate_number-cleared certificate_number-help")
    );
    assert!(
        !page.source().contains(&k.auth_key.replace('-', "")),
        "{page}"
    );
    // A number shown again needs no such word.
    let page = Html::of(browser.verify("W2025000001", "", &[]).await).await;
    assert!(!page.has("#certificate_number-cleared"), "{page}");
}

#[tokio::test]
async fn a_number_no_registered_issuer_answers_for_is_refused_without_asking_anyone() {
    let (issuer, service, browser) = officer().await;
    let res = browser.verify("X1234567", "7KQ2-M9XD-H4T8-RB3N", &[]).await;
    let page = Html::of(res).await;
    assert!(
        page.text("#certificate_number-error")
            .contains("保証事業会社が登録されていません"),
        "{page}"
    );
    assert_eq!(service.count("SELECT COUNT(*) AS n FROM verifications"), 0);
    assert!(
        !issuer.log().contains("X1234567"),
        "the issuer was not asked:\n{}",
        issuer.log()
    );
    // The issuer does log every lookup it gets, so the line above can fail.
    let k = issuer.demo_key("W2025000001");
    browser
        .verify(&k.certificate_number, &k.auth_key, &[])
        .await;
    assert!(issuer.log().contains(&k.certificate_number));
}

/// Standard error of both programs goes to a file here, as under `make run` and
/// systemd: the lines carry no terminal colour codes.
#[tokio::test]
async fn logs_written_to_a_file_are_plain_text() {
    let (issuer, service, browser) = officer().await;
    let k = issuer.demo_key("W2025000001");
    browser
        .verify(&k.certificate_number, &k.auth_key, &[])
        .await;
    for (name, log) in [("kakunin", service.log()), ("kakunin-issuer", issuer.log())] {
        assert!(log.lines().count() > 1, "{name} logged nothing:\n{log}");
        assert!(
            !log.contains('\u{1b}'),
            "{name}: colour codes in a file:\n{log}"
        );
    }
}

#[tokio::test]
async fn five_wrong_keys_in_a_row_lock_the_number_across_restarts() {
    let (issuer, mut service, browser) = officer().await;
    let k = issuer.demo_key("W2025000002");
    for _ in 0..5 {
        let (_, page) = browser
            .verify_page(&k.certificate_number, "0000-0000-0000-0000")
            .await;
        assert_eq!(banner(&page), "該当なし");
    }
    let (_, page) = browser
        .verify_page(&k.certificate_number, &k.auth_key)
        .await;
    assert_eq!(
        banner(&page),
        "ロック中",
        "the service's own guard locks the number"
    );
    service.restart();
    let browser = service.sign_in("officer1").await;
    let (_, page) = browser
        .verify_page(&k.certificate_number, &k.auth_key)
        .await;
    assert_eq!(
        banner(&page),
        "ロック中",
        "the lock is kept in the database"
    );
    let other = issuer.demo_key("W2025000001");
    let (_, page) = browser
        .verify_page(&other.certificate_number, &other.auth_key)
        .await;
    assert_eq!(banner(&page), "確認済み", "other numbers are not affected");
    assert_eq!(
        service.count("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'lockout'"),
        1
    );
}

#[tokio::test]
async fn the_print_view_is_a4_without_navigation_and_names_the_verification() {
    let (issuer, _service, browser) = officer().await;
    let k = issuer.demo_key("W2025000001");
    let (id, _) = browser
        .verify_page(&k.certificate_number, &k.auth_key)
        .await;
    let print = browser.page(&format!("/verifications/{id}/print")).await;
    let head = print.text("header.paper-head");
    assert!(head.contains(&id), "{head}");
    assert!(head.contains("確認日時"), "{head}");
    assert_eq!(print.count("nav"), 0, "no navigation on paper");
    let css = browser.text("/static/app.css").await;
    assert!(css.contains("@page { size: A4"));
}

#[tokio::test]
async fn reverify_shows_what_changed_since_the_last_verification() {
    let (issuer, _service, browser) = officer().await;
    let k = issuer.demo_key("W2025000001");
    let (first, _) = browser
        .verify_page(&k.certificate_number, &k.auth_key)
        .await;
    let form = browser
        .page(&format!("/verifications/{first}/reverify"))
        .await;
    assert_eq!(
        form.field("certificate_number").as_deref(),
        Some(k.certificate_number.as_str()),
        "the number is filled in"
    );
    issuer.amend(
        &k.certificate_number,
        &json!({"guarantee": {"amount_yen": 99_000_000}, "summary": "保証金額の変更"}),
    );
    let (_, page) = browser
        .verify_page(&k.certificate_number, &k.auth_key)
        .await;
    let diff = page.one("table.diff");
    let diff = kakunin_testkit::html::text_of(diff);
    assert!(
        page.text("section.card h2").contains("前回の照会"),
        "{page}"
    );
    assert!(diff.contains("99,000,000円"), "{diff}");
    assert!(page
        .row("変更履歴")
        .unwrap_or_default()
        .contains("保証金額の変更"));
}

#[tokio::test]
async fn history_names_who_verified_and_is_searchable_by_number_date_and_outcome() {
    let (issuer, _service, browser) = officer().await;
    let a = issuer.demo_key("W2025000001");
    let b = issuer.demo_key("W2025000002");
    browser
        .verify(&a.certificate_number, &a.auth_key, &[])
        .await;
    browser
        .verify(&b.certificate_number, "0000-0000-0000-0000", &[])
        .await;
    let numbers = |page: &Html| column(page, "table.history", 2);
    let all = browser.page("/verifications").await;
    assert_eq!(
        numbers(&all),
        [b.certificate_number.clone(), a.certificate_number.clone()],
        "newest first"
    );
    assert_eq!(
        column(&all, "table.history", 5),
        ["officer1 太郎（officer1）"; 2],
        "each row names who verified"
    );
    let by_number = browser
        .page(&format!("/verifications?number={}", a.certificate_number))
        .await;
    assert_eq!(
        numbers(&by_number),
        std::slice::from_ref(&a.certificate_number)
    );
    let by_outcome = browser.page("/verifications?outcome=not_found").await;
    assert_eq!(
        numbers(&by_outcome),
        std::slice::from_ref(&b.certificate_number)
    );
    let today = chrono::Utc::now()
        .with_timezone(&kakunin_protocol::time::jst())
        .date_naive();
    let by_date = browser
        .page(&format!("/verifications?from={today}&to={today}"))
        .await;
    assert!(numbers(&by_date).contains(&a.certificate_number));
    let past = browser
        .page("/verifications?from=2025-04-01&to=2025-04-02")
        .await;
    assert!(!numbers(&past).contains(&a.certificate_number));
    let bad = browser.page("/verifications?from=2025/04/01").await;
    assert_eq!(
        bad.text("p.error"),
        "開始日は 2025-04-01 の形で入力してください"
    );
    let reversed = browser
        .page(&format!("/verifications?from={today}&to=2025-04-01"))
        .await;
    assert_eq!(
        reversed.text("p.error"),
        "終了日が開始日より前になっています。開始日以降の日付にしてください",
        "not an empty list that reads as no verification"
    );
    // Every mistake at once, each at its field.
    let all_wrong = browser
        .page("/verifications?number=%21%21&case=a%0Ab&from=2025/04/01&to=x&outcome=nope")
        .await;
    let fields = [
        ("number", "保証契約番号"),
        ("case", "案件番号"),
        ("from", "開始日は"),
        ("to", "終了日は"),
        ("outcome", "結果の指定"),
    ];
    super::assert_field_errors(&all_wrong, &fields);
    for (field, _) in fields {
        let invalid = all_wrong.attrs(&format!("[name={field}]"), "aria-invalid");
        assert_eq!(invalid, ["true"], "{field}");
        let focused = all_wrong.attrs(&format!("[name={field}]"), "autofocus");
        assert_eq!(focused.len(), usize::from(field == "number"), "{field}");
    }
}
