//! The officer's day (K12) in headless Chromium: paper that can be filed (the print
//! view printed to PDF and read back with poppler), the banner that tells the truth,
//! the wrong-key retry and lock, and administration and audit pages without traps.
//! Command-line help of both programs is read from the real binaries.

use std::path::Path;
use std::process::Command;

use kakunin_testkit::chrome::Page;
use kakunin_testkit::service::{OFFICE, PASSWORD};

use super::start;

use super::browser::{mistyped, signed_in};

/// Verifies through the form from wherever the page is; returns the verification id.
async fn verify(page: &Page, number: &str, key: &str) -> String {
    page.goto("/").await;
    super::browser::verify(page, number, key).await
}

/// The PDF's page count (`pdfinfo`) and each page's text (`pdftotext -layout`).
fn pdf_pages(pdf: &[u8], dir: &Path, name: &str) -> Vec<String> {
    let path = dir.join(name);
    std::fs::write(&path, pdf).expect("write PDF");
    let info = Command::new("pdfinfo")
        .arg(&path)
        .output()
        .expect("pdfinfo");
    let info = String::from_utf8_lossy(&info.stdout).into_owned();
    let pages: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap_or_else(|| panic!("pdfinfo names the page count: {info}"))
        .trim()
        .parse()
        .expect("page count");
    (1..=pages)
        .map(|n| {
            let out = Command::new("pdftotext")
                .args(["-layout", "-f", &n.to_string(), "-l", &n.to_string()])
                .arg(&path)
                .arg("-")
                .output()
                .expect("pdftotext");
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
        .collect()
}

/// Text with every run of white space removed, so that a layout's line breaks and
/// spacing do not decide a match.
fn squeeze(s: &str) -> String {
    s.split_whitespace().collect()
}

#[tokio::test]
async fn a_verified_performance_guarantee_prints_on_one_a4_page_ready_to_file() {
    let (issuer, service) = start();
    service.add_user("officer1", "officer", OFFICE);
    // A 契約保証 with two changes: the longest certificate of the demo.
    let k = issuer.demo_key("W2025000015").clone();
    let dir = service.dir().to_owned();

    signed_in(&service, "officer1", |page| async move {
        let id = verify(&page, &k.certificate_number, &k.auth_key).await;
        page.goto(&format!("/verifications/{id}/print")).await;
        page.find("body.print").await;
        assert_eq!(
            page.text("button[data-print]").await,
            "印刷する",
            "a print button on screen"
        );
        assert!(page.text("#print-title").await.contains("確認済み"));

        let pages = pdf_pages(&page.print_pdf(21.0, 29.7).await, &dir, "a4.pdf");
        assert_eq!(pages.len(), 1, "one A4 page:\n{}", pages.join("\n\x0c\n"));
        let text = squeeze(&pages[0]);
        for needle in [
            "確認日時",
            "確認者",
            "officer1太郎",
            id.as_str(),
            "確認印",
            "決裁印",
            "1/1ページ",
            "確認事項",
        ] {
            assert!(text.contains(needle), "{needle} on paper:\n{}", pages[0]);
        }
        // 確認日時 and the id sit at the top, above the certificate.
        let top = text.find("確認日時").expect("確認日時");
        assert!(top < text.find("保証金額").expect("保証金額"));
        // Rules that do not apply take one line, not one row each.
        assert_eq!(text.matches("対象外").count(), 1, "{}", pages[0]);

        // When it does not fit (here: printed at twice the size), every page names
        // the certificate and its page.
        let pages = pdf_pages(
            &page.print_pdf_scaled(21.0, 29.7, 2.0).await,
            &dir,
            "zoomed.pdf",
        );
        let m = pages.len();
        assert!(m > 1, "at twice the size it needs several pages");
        for (i, p) in pages.iter().enumerate() {
            let p = squeeze(p);
            assert!(
                p.contains(&k.certificate_number),
                "page {} names the certificate: {p}",
                i + 1
            );
            assert!(
                p.contains(&format!("{}/{m}ページ", i + 1)),
                "page {} says {}/{m} ページ: {p}",
                i + 1,
                i + 1
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_rejected_result_never_prints_under_an_acceptance_title() {
    let (issuer, service) = start();
    service.add_user("officer1", "officer", OFFICE);
    // Cancelled in its second revision.
    let k = issuer.demo_key("W2025000007").clone();
    let dir = service.dir().to_owned();

    signed_in(&service, "officer1", |page| async move {
        let id = verify(&page, &k.certificate_number, &k.auth_key).await;
        // The banner names the failed item and the advice that fits a cancellation.
        let banner = page.text("#banner").await;
        assert!(banner.contains("不適合"), "{banner}");
        assert!(
            banner.contains("保証の状態") && banner.contains("解約されていて効力がありません"),
            "the banner names the item and its next step: {banner}"
        );

        page.goto(&format!("/verifications/{id}/print")).await;
        let title = page.text("#print-title").await;
        assert!(
            title.contains("不適合") && !title.contains("確認済み"),
            "{title}"
        );
        let pages = pdf_pages(&page.print_pdf(21.0, 29.7).await, &dir, "rejected.pdf");
        let text = squeeze(&pages.concat());
        assert!(text.contains("受理を示すものではありません"), "{text}");
        assert!(!text.contains("確認済み"), "{text}");
    })
    .await;
}

#[tokio::test]
async fn the_banner_shows_cautions_and_advice_that_fit_the_failed_item() {
    let (issuer, service) = start();
    service.add_user("officer1", "officer", OFFICE);
    let warned = issuer.demo_key("W2025000013").clone(); // 約款 (注意のみ)
    let reserved = issuer.demo_key("W2025000005").clone(); // 契約保証予約

    signed_in(&service, "officer1", |page| async move {
        verify(&page, &warned.certificate_number, &warned.auth_key).await;
        let banner = page.text("#banner").await;
        assert!(banner.contains("確認済み"), "{banner}");
        assert!(
            banner.contains("注意（約款）"),
            "a warn result is in the banner, not only in the table: {banner}"
        );

        verify(&page, &reserved.certificate_number, &reserved.auth_key).await;
        let banner = page.text("#banner").await;
        assert!(
            banner.contains("保証の種類") && banner.contains("契約保証（本契約）"),
            "a 契約保証予約 is told to bring the contract guarantee: {banner}"
        );
        assert!(!banner.contains("解約"), "{banner}");
    })
    .await;
}

#[tokio::test]
async fn a_wrong_key_keeps_the_number_counts_the_tries_and_the_lock_says_when_it_lifts() {
    let (issuer, service) = start();
    service.add_user("officer1", "officer", OFFICE);
    let k = issuer.demo_key("W2025000001").clone();

    signed_in(&service, "officer1", |page| async move {
        let wrong = mistyped(&k.auth_key);
        verify(&page, &k.certificate_number, &wrong).await;
        page.wait_text("section.banner h1", "該当なし").await;
        // The form again: the number kept, the cursor in 認証キー.
        let number = page
            .find("#retry #certificate_number")
            .await
            .prop("value")
            .await
            .expect("value");
        assert_eq!(number.as_deref(), Some(k.certificate_number.as_str()));
        let focused = page
            .client
            .execute("return document.activeElement.id;", vec![])
            .await
            .expect("active element");
        assert_eq!(focused, "auth_key", "focus in 認証キー");
        // The service's default: 5 misses in the window lock the number.
        let left = page.text("#tries-left").await;
        assert!(left.contains("あと 4 回"), "{left}");
        for left in (1..4).rev() {
            page.fill("#retry #auth_key", &wrong).await;
            page.click_and_wait("#retry button[type=\"submit\"]").await;
            page.wait_text("section.banner h1", "該当なし").await;
            let text = page.text("#tries-left").await;
            assert!(text.contains(&format!("あと {left} 回")), "{text}");
        }
        page.fill("#retry #auth_key", &wrong).await;
        page.click_and_wait("#retry button[type=\"submit\"]").await;
        page.find("section.banner h1").await;
        // The fifth miss locks; the next attempt is refused with when it lifts.
        verify(&page, &k.certificate_number, &k.auth_key).await;
        page.wait_text("section.banner h1", "ロック中").await;
        let lock = page.text("#lock").await;
        assert!(
            lock.contains("令和") && lock.contains("自動で解除"),
            "the lock page says when it lifts and who can lift it: {lock}"
        );
        let meta = page.text("dl.meta").await;
        assert!(
            meta.contains("照会日時") && !meta.contains("確認日時"),
            "an attempt that did not verify is not labelled 確認日時: {meta}"
        );
    })
    .await;
}

fn help_of(program: &Path, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .expect("run the program");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    text
}

/// The subcommands a help text lists under コマンド.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("コマンド:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

#[test]
fn both_programs_help_and_complain_in_japanese() {
    let service = kakunin_testkit::bins::kakunin();
    let issuer = kakunin_testkit::bins::kakunin_issuer();
    let english = [
        "Usage:",
        "Commands:",
        "Options:",
        "Arguments:",
        "Print help",
        "Print version",
        "error:",
        "tip:",
        "[OPTIONS]",
        "[COMMAND]",
        "[default:",
        "[possible values:",
        "[env:",
        "[aliases:",
    ];
    // A placeholder in capitals is clap's default (`<TARGET>`); URL and ID are written so
    // in Japanese too.
    let placeholder = regex::Regex::new(r"<([A-Z][A-Z_]*)>").unwrap();
    // Every command and subcommand of both programs, found from their own help.
    let mut runs: Vec<(&std::path::PathBuf, Vec<String>)> = Vec::new();
    for program in [&service, &issuer] {
        let mut todo = vec![Vec::<String>::new()];
        while let Some(path) = todo.pop() {
            let mut args = path.clone();
            args.push("--help".into());
            let text = help_of(
                program,
                &args.iter().map(String::as_str).collect::<Vec<_>>(),
            );
            for sub in subcommands(&text) {
                let mut next = path.clone();
                next.push(sub);
                todo.push(next);
            }
            runs.push((program, args));
        }
    }
    assert!(runs.len() > 30, "{} help texts", runs.len());
    for (program, args) in [
        (&service, vec!["user", "add"]),
        (&service, vec!["user", "ad"]),
        (&service, vec!["user"]),
        (&issuer, vec!["keygen"]),
    ] {
        runs.push((program, args.into_iter().map(str::to_owned).collect()));
    }
    for (program, args) in &runs {
        let text = help_of(
            program,
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        assert!(text.contains("使い方"), "{args:?}: {text}");
        for word in english {
            assert!(!text.contains(word), "{word} in {args:?}:\n{text}");
        }
        for found in placeholder.captures_iter(&text) {
            assert!(
                ["URL", "ID"].contains(&&found[1]),
                "{} in {args:?}:\n{text}",
                &found[0]
            );
        }
    }
    let text = help_of(&service, &["user", "add"]);
    assert!(
        text.contains("--login") && text.contains("指定してください"),
        "{text}"
    );
    let text = help_of(&service, &["token", "create", "--help"]);
    assert!(
        text.contains("使い方: kakunin token create [オプション]"),
        "{text}"
    );
    assert!(text.contains("【既定: verify】"), "{text}");
}

#[tokio::test]
async fn administration_refuses_unknown_offices_confirms_disabling_and_enables_again() {
    let (_issuer, service) = start();
    service.add_user("admin1", "admin", OFFICE);
    service.add_user("officer1", "officer", OFFICE);
    // The CLI refuses a code that is not an office instead of creating one.
    let out = service.cli_with_stdin(
        &[
            "user",
            "add",
            "--login",
            "typo",
            "--name",
            "誤入力",
            "--role",
            "officer",
            "--office",
            "44OOO1",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("44OOO1") && err.contains("登録されていません"),
        "{err}"
    );

    signed_in(&service, "admin1", |page| async move {
        page.goto("/admin/users").await;
        // Offices are chosen by name.
        let options = page.text("#create-user #office_code").await;
        assert!(
            options.contains(&kakunin_testkit::service::office_name(OFFICE)),
            "{options}"
        );
        page.click_and_wait("tr[data-login=\"officer1\"] form[action$=\"/disable\"] button")
            .await;
        page.find("#confirm").await;
        assert!(
            page.text("#confirm").await.contains("officer1"),
            "the confirmation names whom it disables"
        );
        // やめる leaves the account as it was.
        page.click_and_wait("#confirm-cancel").await;
        let row = page.text("tr[data-login=\"officer1\"]").await;
        assert!(row.contains("有効") && !row.contains("無効 "), "{row}");
        page.click_and_wait("tr[data-login=\"officer1\"] form[action$=\"/disable\"] button")
            .await;
        page.click_and_wait("#confirm-submit").await;
        let row = page.text("tr[data-login=\"officer1\"]").await;
        assert!(row.contains("無効"), "{row}");
        page.click_and_wait("tr[data-login=\"officer1\"] form[action$=\"/enable\"] button")
            .await;
        let row = page.text("tr[data-login=\"officer1\"]").await;
        assert!(
            !row.contains("有効にする") && row.contains("無効にする"),
            "{row}"
        );
    })
    .await;
    // And at the command line.
    let out = service.cli(&["user", "disable", "--login", "officer1"]);
    assert!(out.status.success());
    let out = service.cli(&["user", "enable", "--login", "officer1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = String::from_utf8_lossy(&service.cli(&["user", "list"]).stdout).into_owned();
    let line = list
        .lines()
        .find(|l| l.starts_with("officer1"))
        .expect("officer1");
    assert!(line.ends_with("有効"), "{line}");
}

#[tokio::test]
async fn a_reversed_date_range_is_an_error_at_the_dates_and_lists_nothing() {
    let (issuer, service) = start();
    service.add_user("super1", "supervisor", OFFICE);
    let k = issuer.demo_key("W2025000001").clone();

    signed_in(&service, "super1", |page| async move {
        verify(&page, &k.certificate_number, &k.auth_key).await;
        page.goto("/audit?from=2026-12-31&to=2025-04-01").await;
        let error = page.text("#to-error").await;
        assert!(error.contains("終了日"), "{error}");
        let invalid = page
            .find("#to")
            .await
            .attr("aria-invalid")
            .await
            .expect("attr");
        assert_eq!(invalid.as_deref(), Some("true"));
        assert!(
            page.all("table.audit tbody tr[data-seq]").await.is_empty(),
            "a filter in error lists nothing"
        );
        // The chart follows the table's filters: another person's events count none.
        page.goto("/audit?actor=nobody").await;
        let caption = page.text("figure.chart figcaption").await;
        assert!(
            caption.contains("計 0 件") && caption.contains("令和"),
            "{caption}"
        );
    })
    .await;
}

/// Every page an officer, supervisor or administrator reads, and the contractor's
/// pages of the reference issuer, at a desktop and a phone size: nothing axe-core
/// rates serious or critical, and no page wider than the screen.
#[tokio::test]
async fn every_page_passes_axe_at_desktop_and_phone_sizes() {
    let (issuer, service) = start();
    service.add_user("admin1", "admin", OFFICE);
    let k = issuer.demo_key("W2025000015").clone();
    let issuer_url = issuer.base_url.clone();

    signed_in(&service, "admin1", |page| async move {
        let id = verify(&page, &k.certificate_number, &k.auth_key).await;
        let miss = verify(&page, &k.certificate_number, &mistyped(&k.auth_key)).await;
        let mut findings = Vec::new();
        for (w, h) in [(1280, 1000), (390, 844)] {
            page.client
                .set_window_size(w, h)
                .await
                .expect("window size");
            for path in [
                "/".to_owned(),
                format!("/verifications/{id}"),
                format!("/verifications/{id}/print"),
                format!("/verifications/{miss}"),
                "/verifications".to_owned(),
                "/check".to_owned(),
                "/audit".to_owned(),
                // The filters in error: every message tied to its field.
                "/audit?from=2025/04/01&actor=a%09b&outcome=nope".to_owned(),
                "/verifications?from=2025/04/01&outcome=nope".to_owned(),
                "/admin/users".to_owned(),
                "/admin/offices".to_owned(),
                "/admin/clients".to_owned(),
                "/password".to_owned(),
                format!("{issuer_url}/login"),
            ] {
                page.goto(&path).await;
                page.find("main").await;
                for f in page.axe_serious().await {
                    findings.push(format!("{w}×{h} {path}: {f}"));
                }
                let overflow = page
                    .client
                    .execute(
                        "return document.documentElement.scrollWidth > window.innerWidth + 1;",
                        vec![],
                    )
                    .await
                    .expect("scroll width");
                if overflow == serde_json::Value::Bool(true) {
                    findings.push(format!("{w}×{h} {path}: the page is wider than the screen"));
                }
            }
        }
        assert!(findings.is_empty(), "{}", findings.join("\n"));
    })
    .await;
}
