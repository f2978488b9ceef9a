//! Intake: a key notice's QR text typed by a scanner into either field, on the form and
//! in the API (`issuer-protocol.md` §7), and key notices uploaded as PDF, scan or photo;
//! kept out of pages, logs and the database.

use kakunin_testkit::chrome::Chrome;
use kakunin_testkit::client::problem;
use kakunin_testkit::html::Html;
use kakunin_testkit::issuer::{DemoKey, IssuerProcess};
use kakunin_testkit::service::{ServiceProcess, OFFICE, PASSWORD};
use serde_json::json;

use super::{banner, start};

/// The QR text of the demo notice of `k`, as the issuer prints it (issuer id `wjcs`).
fn qr(k: &DemoKey) -> String {
    format!(
        "SURETY/1;wjcs;{};{}",
        k.certificate_number,
        k.auth_key.replace('-', "")
    )
}

/// Neither the QR text nor the key in any form reached the log or the database file.
fn assert_secret_kept(service: &ServiceProcess, k: &DemoKey) {
    let stored = service.stored_text();
    let log = service.log();
    let canonical = k.auth_key.replace('-', "");
    for secret in [canonical.as_str(), k.auth_key.as_str(), "SURETY/1"] {
        assert!(!stored.contains(secret), "{secret} in the database");
        assert!(!log.contains(secret), "{secret} in the log");
    }
}

#[tokio::test]
async fn the_api_verifies_qr_text_given_in_either_field() {
    let (issuer, service) = start();
    let api = service.api("keiyaku", "verify");
    let k = issuer.demo_key("W2025000001");
    let v = api
        .verify(&json!({"certificate_number": format!("{}\r\n", qr(k))}))
        .await;
    assert_eq!(v["certificate_number"], "W2025000001", "{v}");
    assert_eq!(v["outcome"], "verified", "{v}");

    let full_width: String = qr(k)
        .chars()
        .map(|c| char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap())
        .collect();
    let results = api
        .batch(&[
            json!({"certificate_number": "", "auth_key": qr(k), "ref": "a"}),
            json!({"certificate_number": k.certificate_number, "auth_key": full_width, "ref": "b"}),
        ])
        .await;
    for r in &results {
        assert_eq!(r["certificate_number"], "W2025000001", "{r}");
        assert_eq!(r["outcome"], "verified", "{r}");
    }
    assert_secret_kept(&service, k);
}

#[tokio::test]
async fn qr_text_naming_another_issuer_or_another_number_is_refused_by_field() {
    let (issuer, service) = start();
    let api = service.api("keiyaku", "verify");
    let k = issuer.demo_key("W2025000001");
    let foreign = qr(k).replace(";wjcs;", ";nise;");
    let res = api
        .post(
            "/api/v1/verifications",
            &json!({"certificate_number": foreign}),
        )
        .await;
    let p = problem(res, 422).await;
    assert_eq!(p["field"], "certificate_number", "{p}");
    assert!(p.to_string().contains("保証事業会社"), "{p}");

    let res = api
        .post(
            "/api/v1/verifications",
            &json!({"certificate_number": "W2025000002", "auth_key": qr(k)}),
        )
        .await;
    let p = problem(res, 422).await;
    assert_eq!(p["field"], "certificate_number", "{p}");
    assert!(!p.to_string().contains(&k.auth_key.replace('-', "")), "{p}");
    assert_eq!(service.count("SELECT COUNT(*) AS n FROM verifications"), 0);
    assert_secret_kept(&service, k);
}

#[tokio::test]
async fn the_form_takes_a_scan_and_never_shows_the_qr_text_again() {
    let (issuer, service) = start();
    let browser = service.officer().await;
    let k = issuer.demo_key("W2025000001");
    let scanned = format!("{}\r\n", qr(k));
    let res = browser.verify(&scanned, "", &[]).await;
    assert!(
        res.url().path().starts_with("/verifications/"),
        "{}",
        res.url()
    );
    assert_eq!(banner(&Html::of(res).await), "確認済み");

    // A scan of a forged notice: the error is on the field, the number stays, the
    // QR text (and so the key) is not sent back.
    let foreign = qr(k).replace(";wjcs;", ";nise;");
    let res = browser.verify(&foreign, "", &[]).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    let page = Html::parse(&body);
    assert!(page
        .text("#certificate_number-error")
        .contains("保証事業会社"));
    assert_eq!(
        page.attr("#certificate_number", "value").as_deref(),
        Some("W2025000001")
    );
    assert!(!body.contains("SURETY"), "QR text echoed");
    assert!(!body.contains(&k.auth_key.replace('-', "")), "key echoed");
    assert_secret_kept(&service, k);
}

/// The fields swapped (the key, as printed, typed into 保証契約番号) are refused on the
/// number field by the form and the API alike; the key is not shown again, not looked
/// up as a number, not stored.
#[tokio::test]
async fn a_key_typed_into_the_number_field_is_refused_and_never_echoed() {
    let (issuer, service) = start();
    let k = issuer.demo_key("W2025000001");
    let canonical = k.auth_key.replace('-', "");
    let browser = service.officer().await;
    let res = browser.verify(&k.auth_key, &k.auth_key, &[]).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    let page = Html::parse(&body);
    assert!(
        page.text("#certificate_number-error")
            .contains("認証キーの形（XXXX-XXXX-XXXX-XXXX）"),
        "{body}"
    );
    assert_eq!(
        page.attr("#certificate_number", "value").as_deref(),
        Some("")
    );
    assert!(
        !body.contains(&canonical) && !body.contains(&k.auth_key),
        "key echoed"
    );

    // Without hyphens it cannot be told from a 16-character number: it is looked up as
    // one (no issuer is routed to it), but neither quoted nor shown again.
    let res = browser
        .verify(&canonical.to_lowercase(), &k.auth_key, &[])
        .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(
        !body.to_uppercase().contains(&canonical),
        "key echoed: {body}"
    );
    assert!(
        body.contains("保証契約番号の欄に認証キーを入力していないか"),
        "{body}"
    );

    let api = service.api("keiyaku", "verify");
    let res = api
        .post(
            "/api/v1/verifications",
            &json!({"certificate_number": k.auth_key, "auth_key": k.auth_key}),
        )
        .await;
    let p = problem(res, 422).await;
    assert_eq!(p["field"], "certificate_number", "{p}");
    assert!(!p.to_string().contains(&canonical), "{p}");
    assert_eq!(service.count("SELECT COUNT(*) AS n FROM verifications"), 0);
    assert_secret_kept(&service, k);
}

#[tokio::test]
async fn a_scanner_typing_into_the_number_field_and_pressing_enter_verifies() {
    let (issuer, service) = start();
    service.add_user("officer1", "officer", OFFICE);
    let k = issuer.demo_key("W2025000001").clone();
    Chrome::start(&service.base_url)
        .await
        .run(|page| async move {
            page.goto("/login").await;
            page.fill("#login", "officer1").await;
            page.fill("#password", PASSWORD).await;
            let login = page.find("html").await;
            page.click("form[action=\"/login\"] button[type=\"submit\"]")
                .await;
            page.wait_gone(login).await;
            let form = page.find("html").await;
            // What a USB scanner sends: the QR text, then Enter (WebDriver's U+E007).
            page.fill("#certificate_number", &format!("{}\u{E007}", qr(&k)))
                .await;
            page.wait_gone(form).await;
            assert!(
                page.path().await.starts_with("/verifications/"),
                "the scan alone submits the form: at {}",
                page.path().await
            );
            page.wait_text("section.banner h1", "確認済み").await;
        })
        .await;
}

// ---- Uploaded key notices (PDF, scans and photos) ------------------------------------

/// The key notice PDF the issuer rendered for `number` at `demo-seed`.
pub(super) fn notice_pdf(issuer: &IssuerProcess, number: &str) -> Vec<u8> {
    std::fs::read(issuer.demo_dir().join(format!("notices/{number}.pdf"))).expect("notice PDF")
}

/// The notice as a 200 dpi FAX would send it: `pdftoppm -r 200`, black and white, turned
/// by `degrees`.
fn fax_scan(issuer: &IssuerProcess, number: &str, degrees: f32) -> image::GrayImage {
    let pdf = issuer.demo_dir().join(format!("notices/{number}.pdf"));
    let out = issuer.dir().join(format!("fax-{number}"));
    let status = std::process::Command::new("pdftoppm")
        .args(["-r", "200", "-gray", "-png", "-singlefile"])
        .arg(&pdf)
        .arg(&out)
        .status()
        .expect("pdftoppm (poppler-utils, scripts/install-test-deps.sh)");
    assert!(status.success());
    let page = image::open(out.with_extension("png")).unwrap().to_luma8();
    let (w, h) = page.dimensions();
    let (sin, cos) = degrees.to_radians().sin_cos();
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    image::GrayImage::from_fn(w, h, |x, y| {
        let (dx, dy) = (x as f32 - cx, y as f32 - cy);
        let (sx, sy) = (cos * dx + sin * dy + cx, -sin * dx + cos * dy + cy);
        let inside = sx >= 0.0 && sy >= 0.0 && (sx as u32) < w && (sy as u32) < h;
        let v = if inside {
            page.get_pixel(sx as u32, sy as u32)[0]
        } else {
            255
        };
        image::Luma([if v < 128 { 0 } else { 255 }])
    })
}

fn encode(img: &image::GrayImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// `(state, number, text)` of each row of the upload list.
fn upload_rows(page: &Html) -> Vec<(String, String, String)> {
    page.attrs("tr[data-state]", "data-state")
        .into_iter()
        .enumerate()
        .map(|(i, state)| {
            let row = format!("#item-{i}");
            (
                state,
                page.text(&format!("{row} td:nth-child(2)")),
                page.text(&row),
            )
        })
        .collect()
}

#[tokio::test]
async fn uploaded_pdf_notices_become_a_list_verified_one_by_one_and_a_stranger_file_is_named() {
    let (issuer, service) = start();
    let browser = service.officer().await;
    let csrf = browser.csrf("/").await;
    let res = browser
        .post_multipart(
            "/verify/upload",
            &[("csrf", &csrf)],
            &[
                (
                    "notices",
                    "お知らせ1.pdf",
                    &notice_pdf(&issuer, "W2025000001"),
                ),
                ("notices", "memo.txt", b"not a notice"),
                (
                    "notices",
                    "W2025000004.pdf",
                    &notice_pdf(&issuer, "W2025000004"),
                ),
            ],
        )
        .await;
    assert_eq!(res.url().path(), "/verify/upload");
    let body = res.text().await.unwrap();
    let rows = upload_rows(&Html::parse(&body));
    assert_eq!(rows.len(), 3, "{body}");
    assert_eq!(
        (rows[0].0.as_str(), rows[0].1.as_str()),
        ("ready", "W2025000001")
    );
    assert_eq!(rows[1].0, "unread");
    assert!(
        rows[1]
            .2
            .contains("「memo.txt」はお知らせとして読み取れませんでした"),
        "{}",
        rows[1].2
    );
    assert_eq!(
        (rows[2].0.as_str(), rows[2].1.as_str()),
        ("ready", "W2025000004")
    );
    for k in [
        issuer.demo_key("W2025000001"),
        issuer.demo_key("W2025000004"),
    ] {
        assert!(!body.contains(&k.auth_key), "key on the page");
        assert!(
            !body.contains(&k.auth_key.replace('-', "")),
            "key on the page"
        );
    }

    // One notice by its own button; the other stays waiting.
    let page = Html::of(
        browser
            .submit("/verify/upload", "/verify/upload/0", &[])
            .await,
    )
    .await;
    let rows = upload_rows(&page);
    assert_eq!(rows[0].0, "done");
    assert!(rows[0].2.contains("確認済み"), "{}", rows[0].2);
    assert_eq!(rows[2].0, "ready");
    let result = page.attr("#item-0 a", "href").unwrap();
    assert_eq!(banner(&browser.page(&result).await), "確認済み");
    // Then the rest in one go.
    let page = Html::of(
        browser
            .submit("/verify/upload", "/verify/upload/all", &[])
            .await,
    )
    .await;
    assert_eq!(upload_rows(&page)[2].0, "done");
    assert_eq!(service.count("SELECT COUNT(*) AS n FROM verifications"), 2);
    assert_secret_kept(&service, issuer.demo_key("W2025000001"));
    assert_secret_kept(&service, issuer.demo_key("W2025000004"));
}

#[tokio::test]
async fn a_rotated_200_dpi_fax_scan_as_png_or_jpeg_is_read_from_its_qr_code() {
    let (issuer, service) = start();
    // Made before signing in: an idle keep-alive connection would be closed meanwhile.
    let png = encode(
        &fax_scan(&issuer, "W2025000001", 2.0),
        image::ImageFormat::Png,
    );
    let jpeg = encode(
        &fax_scan(&issuer, "W2025000004", -1.5),
        image::ImageFormat::Jpeg,
    );
    let browser = service.officer().await;
    let csrf = browser.csrf("/").await;
    let res = browser
        .post_multipart(
            "/verify/upload",
            &[("csrf", &csrf)],
            &[
                ("notices", "fax.png", &png),
                ("notices", "photo.jpg", &jpeg),
            ],
        )
        .await;
    let rows = upload_rows(&Html::of(res).await);
    assert_eq!(
        rows[0],
        ("ready".into(), "W2025000001".into(), rows[0].2.clone())
    );
    assert_eq!(rows[1].0, "ready", "{}", rows[1].2);
    assert_eq!(rows[1].1, "W2025000004");
    let page = Html::of(
        browser
            .submit("/verify/upload", "/verify/upload/all", &[])
            .await,
    )
    .await;
    for (state, _, text) in upload_rows(&page) {
        assert_eq!(state, "done", "{text}");
    }
    assert_secret_kept(&service, issuer.demo_key("W2025000001"));
}

#[tokio::test]
async fn uploads_are_size_limited_need_the_csrf_token_and_are_never_stored() {
    let issuer = IssuerProcess::start();
    let service = ServiceProcess::start_with(
        &issuer.registry_toml,
        Some("[intake]\nupload_limit_kib = 64\nupload_max_files = 2\n"),
    );
    let browser = service.officer().await;
    let csrf = browser.csrf("/").await;
    let big = vec![b'x'; 100 * 1024];
    let res = browser
        .post_multipart(
            "/verify/upload",
            &[("csrf", &csrf)],
            &[("notices", "big.pdf", &big)],
        )
        .await;
    assert_eq!(res.status(), 413);
    let page = Html::of(res).await;
    assert!(
        page.text("#notices-error").contains("合計64 KiBまで"),
        "{}",
        page.text("#notices-error")
    );
    let pdf = notice_pdf(&issuer, "W2025000001");
    let three: Vec<(&str, &str, &[u8])> = vec![
        ("notices", "a.pdf", b"%PDF-1"),
        ("notices", "b.pdf", b"%PDF-1"),
        ("notices", "c.pdf", b"%PDF-1"),
    ];
    let res = browser
        .post_multipart("/verify/upload", &[("csrf", &csrf)], &three)
        .await;
    assert_eq!(res.status(), 413);
    let res = browser
        .post_multipart(
            "/verify/upload",
            &[("csrf", "forged")],
            &[("notices", "n.pdf", &pdf)],
        )
        .await;
    assert_eq!(res.status(), 403);
    // Without a list, the list page sends back to the form.
    let res = browser.get("/verify/upload").await;
    assert_eq!(res.url().path(), "/");
    assert_secret_kept(&service, issuer.demo_key("W2025000001"));
}

/// An upload refused whole (too many files, too large, none chosen) comes back with the
/// 案件 as typed, whether its fields were sent before the files or after them; the page
/// puts them before the file input, so that a browser sends them first.
#[tokio::test]
async fn a_refused_upload_keeps_the_case_typed_with_it() {
    let issuer = IssuerProcess::start();
    let service = ServiceProcess::start_with(
        &issuer.registry_toml,
        Some("[intake]\nupload_limit_kib = 64\n"),
    );
    let browser = service.officer().await;
    let page = browser.page("/").await;
    let at = |id: &str| page.source().find(&format!("id=\"{id}\"")).unwrap();
    assert!(
        at("upload_case_number") < at("notices") && at("upload_case_title") < at("notices"),
        "the 案件 fields are sent before the files"
    );
    let csrf = page.csrf();
    let fields = [
        ("csrf", csrf.as_str()),
        ("case_number", "keep-me"),
        ("case_title", "件名X"),
    ];
    let kept = |page: &Html, what: &str| {
        assert_eq!(
            page.attr("#upload_case_number", "value").as_deref(),
            Some("keep-me"),
            "{what}: {page}"
        );
        assert_eq!(
            page.attr("#upload_case_title", "value").as_deref(),
            Some("件名X"),
            "{what}: {page}"
        );
    };
    let names: Vec<String> = (0..21).map(|i| format!("n{i}.pdf")).collect();
    let many: Vec<(&str, &str, &[u8])> = names
        .iter()
        .map(|n| ("notices", n.as_str(), b"%PDF-1".as_slice()))
        .collect();
    let big = vec![b'x'; 100 * 1024];
    let huge = vec![b'x'; 1024 * 1024];
    let big_file = [("notices", "big.pdf", big.as_slice())];
    let huge_file = [("notices", "huge.pdf", huge.as_slice())];
    let b = &browser;
    for files_first in [false, true] {
        let post = |files| async move {
            if files_first {
                b.post_multipart_files_first("/verify/upload", &fields, files)
                    .await
            } else {
                b.post_multipart("/verify/upload", &fields, files).await
            }
        };
        let what = if files_first {
            "files first"
        } else {
            "fields first"
        };

        let res = post(&many).await;
        assert_eq!(res.status(), 413, "{what}");
        let page = Html::of(res).await;
        assert!(page.text("#notices-error").contains("20件まで"), "{page}");
        kept(&page, what);

        let res = post(&big_file).await;
        assert_eq!(res.status(), 413, "{what}");
        let page = Html::of(res).await;
        assert!(
            page.text("#notices-error").contains("合計64 KiBまで"),
            "{page}"
        );
        kept(&page, what);

        let res = post(&[]).await;
        assert_eq!(res.status(), 422, "{what}");
        let page = Html::of(res).await;
        assert!(
            page.text("#notices-error").contains("選んでください"),
            "{page}"
        );
        kept(&page, what);
    }
    // Far past the limit the body is read only up to a cap: fields sent first are kept.
    let res = browser
        .post_multipart("/verify/upload", &fields, &huge_file)
        .await;
    assert_eq!(res.status(), 413);
    kept(&Html::of(res).await, "far too large");
    // A post without this session's token gets no 案件 back, only the refusal.
    let forged = [("csrf", "forged"), ("case_number", "keep-me")];
    let res = browser
        .post_multipart("/verify/upload", &forged, &many)
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(service.count("SELECT COUNT(*) AS n FROM verifications"), 0);
}

#[tokio::test]
async fn an_officer_uploads_a_notice_through_the_page_and_verifies_it() {
    let (issuer, service) = start();
    service.add_user("officer1", "officer", OFFICE);
    let pdf = issuer.demo_dir().join("notices/W2025000001.pdf");
    Chrome::start(&service.base_url)
        .await
        .run(|page| async move {
            page.goto("/login").await;
            page.fill("#login", "officer1").await;
            page.fill("#password", PASSWORD).await;
            page.click_and_wait("form[action=\"/login\"] button[type=\"submit\"]")
                .await;
            page.find("#notices")
                .await
                .send_keys(pdf.to_str().unwrap())
                .await
                .expect("choose the file");
            page.click_and_wait("form[action=\"/verify/upload\"] button[type=\"submit\"]")
                .await;
            assert_eq!(page.path().await, "/verify/upload");
            page.wait_text("#item-0 td:nth-child(2)", "W2025000001")
                .await;
            assert!(
                page.axe_serious().await.is_empty(),
                "{:?}",
                page.axe_serious().await
            );
            page.click_and_wait("#item-0 button[type=\"submit\"]").await;
            page.wait_text("#item-0 td:nth-child(3)", "確認済み").await;
            page.click_and_wait("#item-0 a").await;
            page.wait_text("section.banner h1", "確認済み").await;
        })
        .await;
}

/// The service's peak resident memory (`VmHWM`), in KiB.
fn peak_kib(service: &ServiceProcess) -> u64 {
    let pid = service.pid().expect("the service runs");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// A PDF of under 1 MiB whose one image inflates to 160 MiB of zeros: what a
/// decompression bomb looks like to the readers (`lopdf` inflates a stream whole).
fn bomb_pdf() -> Vec<u8> {
    use lopdf::{dictionary, Document, Object, Stream};
    let mut doc = Document::with_version("1.5");
    let mut image = Stream::new(
        dictionary! {
            "Type" => "XObject",
            "Subtype" => "Image",
            "Width" => 8000,
            "Height" => 8000,
            "ColorSpace" => "DeviceGray",
            "BitsPerComponent" => 8,
        },
        vec![0; 160 << 20],
    );
    image.compress().unwrap();
    let image = doc.add_object(image);
    let content = doc.add_object(Stream::new(
        dictionary! {},
        b"q 100 0 0 100 0 0 cm /Im0 Do Q".to_vec(),
    ));
    let pages = doc.new_object_id();
    let page = doc.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        "Contents" => content,
        "Resources" => dictionary! { "XObject" => dictionary! { "Im0" => image } },
    });
    doc.objects.insert(
        pages,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => vec![page.into()],
            "Count" => 1,
        }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

/// A PDF that inflates past what its reader may hold is refused by that reader, not
/// the service: its row names it, the service's own memory does not grow by the bomb,
/// and the notice beside it in the same upload is read as ever.
#[tokio::test]
async fn a_decompression_bomb_ends_its_own_reader_and_the_service_goes_on() {
    let issuer = IssuerProcess::start();
    let service = ServiceProcess::start_with(
        &issuer.registry_toml,
        Some("[intake]\nreader_memory_mib = 64\n"),
    );
    let bomb = bomb_pdf();
    assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());
    let browser = service.officer().await;
    let csrf = browser.csrf("/").await;
    let before = peak_kib(&service);
    let res = browser
        .post_multipart(
            "/verify/upload",
            &[("csrf", &csrf)],
            &[
                ("notices", "bomb.pdf", &bomb),
                (
                    "notices",
                    "W2025000001.pdf",
                    &notice_pdf(&issuer, "W2025000001"),
                ),
            ],
        )
        .await;
    assert_eq!(res.url().path(), "/verify/upload");
    let page = Html::of(res).await;
    let rows = upload_rows(&page);
    assert_eq!(rows[0].0, "unread");
    // Its reader stops where its memory ends: the inflated stream is cut short (the
    // decoders give up on an allocation refused) or the reader itself is ended.
    assert!(
        rows[0]
            .2
            .contains("「bomb.pdf」はお知らせとして読み取れませんでした"),
        "{}",
        rows[0].2
    );
    assert_eq!(
        (rows[1].0.as_str(), rows[1].1.as_str()),
        ("ready", "W2025000001")
    );
    let grown = peak_kib(&service).saturating_sub(before);
    assert!(grown < 64 << 10, "the service itself grew by {grown} KiB");
    assert_eq!(browser.get("/readyz").await.status(), 200);
}

/// One upload at a time per account: while an officer's files are being read (here a
/// file that takes its reader seconds of inflating), another upload of theirs, from any
/// session, is refused with a message, and another officer's is read as ever.
#[tokio::test]
async fn an_officer_has_one_upload_read_at_a_time() {
    let (issuer, service) = start();
    let first = service.officer().await;
    let again = service.sign_in("officer1").await;
    service.add_user("officer2", "officer", OFFICE);
    let other = service.sign_in("officer2").await;
    let bomb = bomb_pdf();
    let csrf = first.csrf("/").await;
    let (fields, files) = (
        [("csrf", csrf.as_str())],
        [("notices", "slow.pdf", &bomb[..])],
    );
    let slow = first.post_multipart("/verify/upload", &fields, &files);
    let notice = notice_pdf(&issuer, "W2025000001");
    let (again_csrf, other_csrf) = (again.csrf("/").await, other.csrf("/").await);
    let second = async {
        // The first upload is being read by now (its reader inflates for seconds).
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let refused = again
            .post_multipart(
                "/verify/upload",
                &[("csrf", &again_csrf)],
                &[("notices", "W2025000001.pdf", &notice)],
            )
            .await;
        let read = other
            .post_multipart(
                "/verify/upload",
                &[("csrf", &other_csrf)],
                &[("notices", "W2025000001.pdf", &notice)],
            )
            .await;
        (refused, read)
    };
    let (slow, (refused, read)) = tokio::join!(slow, second);
    assert_eq!(refused.status(), 429);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("前にアップロードしたファイルをまだ読み取っています"),);
    assert_eq!(upload_rows(&Html::of(read).await)[0].0, "ready");
    assert_eq!(upload_rows(&Html::of(slow).await)[0].0, "unread");
}
