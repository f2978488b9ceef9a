//! The contractor sign-in throttle and the pages' security headers (issue K6 §6).

use kakunin_testkit::issuer::IssuerProcess;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn csrf(http: &reqwest::Client, base: &str) -> String {
    let page = http
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    regex::Regex::new(r#"name="csrf" value="([^"]+)""#)
        .unwrap()
        .captures(&page)
        .expect("csrf field")[1]
        .to_owned()
}

async fn sign_in(http: &reqwest::Client, base: &str, login: &str, password: &str) -> u16 {
    let csrf = csrf(http, base).await;
    http.post(format!("{base}/login"))
        .form(&[("login", login), ("password", password), ("csrf", &csrf)])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn wrong_passwords_in_a_row_lock_the_contractor_sign_in_even_for_the_right_one() {
    let iss = IssuerProcess::start();
    let http = client();
    for _ in 0..5 {
        assert_eq!(
            sign_in(&http, &iss.base_url, "bungo", "wrong-password").await,
            401
        );
    }
    // The sixth attempt is refused before the password is looked at: the right one too.
    assert_eq!(
        sign_in(&http, &iss.base_url, "bungo", "bungo-demo-pass").await,
        429
    );
    // Another contractor from the same address is not locked out by this login's failures.
    assert_eq!(
        sign_in(&client(), &iss.base_url, "yufu", "yufu-demo-pass").await,
        303
    );
    let log = iss.log();
    assert!(
        !log.contains("wrong-password"),
        "no typed password in the log"
    );
    assert!(
        !log.contains("login=bungo") && !log.contains("login=\"bungo\""),
        "no typed login name in the log: {log}"
    );
}

/// A contractor types the login from paper as the service's officers do: in capitals or
/// full width it is the same account.
#[tokio::test]
async fn a_login_typed_in_capitals_or_full_width_signs_in() {
    let iss = IssuerProcess::start();
    for typed in ["BUNGO", "ＢＵＮＧＯ", " Bungo "] {
        assert_eq!(
            sign_in(&client(), &iss.base_url, typed, "bungo-demo-pass").await,
            303,
            "{typed:?}"
        );
    }
}

/// A login stored before logins were folded (`contractor add` took any spelling) is
/// folded when the issuer opens its database, full width included, so its contractor
/// still signs in; one whose folded form another contractor has is left and named in
/// the log for the operator.
#[tokio::test]
async fn a_login_stored_in_full_width_before_folding_still_signs_in() {
    let mut iss = IssuerProcess::start();
    let mut db = kakunin_testkit::sql::open(&iss.db_path());
    kakunin_testkit::sql::exec(
        &mut db,
        "UPDATE contractors SET login = 'ＢＵＮＧＯ\u{3000}' WHERE login = 'bungo'",
    );
    kakunin_testkit::sql::exec(
        &mut db,
        "INSERT INTO contractors (login, name, password_hash, created_at) \
         SELECT 'Yufu', name, password_hash, created_at FROM contractors WHERE login = 'yufu'",
    );
    drop(db);
    iss.restart();
    assert_eq!(
        sign_in(&client(), &iss.base_url, "bungo", "bungo-demo-pass").await,
        303
    );
    let mut db = kakunin_testkit::sql::open(&iss.db_path());
    let logins =
        kakunin_testkit::sql::texts(&mut db, "SELECT login AS t FROM contractors ORDER BY login");
    assert_eq!(
        logins,
        ["Yufu", "bungo", "yufu"],
        "the clash is left as it was"
    );
    assert!(
        iss.log()
            .contains("ログインIDを小文字の半角にそろえられない"),
        "{}",
        iss.log()
    );
}

#[tokio::test]
async fn contractor_pages_carry_the_security_headers() {
    let iss = IssuerProcess::start();
    let res = client()
        .get(format!("{}/login", iss.base_url))
        .send()
        .await
        .unwrap();
    let h = res.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"));
    let page = res.text().await.unwrap();
    assert!(
        !page.contains("<style"),
        "no inline style the policy would block"
    );
    let css = client()
        .get(format!("{}/static/issuer.css", iss.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
}

/// A login typed by mistake may be a password: neither the wrong attempts nor the
/// throttled ones put it into the log.
#[tokio::test]
async fn typed_login_names_never_reach_the_log_even_when_throttled() {
    let iss = IssuerProcess::start();
    let http = client();
    let typed = "bungo-demo-pass-typed-as-login";
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(sign_in(&http, &iss.base_url, typed, "x").await);
    }
    assert!(
        statuses.contains(&429),
        "throttled by the end: {statuses:?}"
    );
    assert!(!iss.log().contains(typed), "{}", iss.log());
}

/// `HEAD` answers as `GET` does, without the body.
#[tokio::test]
async fn head_answers_like_get() {
    let iss = IssuerProcess::start();
    for path in ["/login", "/static/issuer.css", "/no-such-page"] {
        let url = format!("{}{path}", iss.base_url);
        let get = client().get(&url).send().await.unwrap().status();
        let head = client().head(&url).send().await.unwrap();
        assert_eq!(head.status(), get, "{path}");
        assert!(head.bytes().await.unwrap().is_empty());
    }
}

/// A page asked with a method it does not serve: 405 with `Allow` (RFC 9110 §15.5.6)
/// on a Japanese error page, not a 404; every method `Allow` lists is served.
#[tokio::test]
async fn wrong_methods_on_pages_get_405_with_allow() {
    let iss = IssuerProcess::start();
    for (method, path, allow) in [
        ("POST", "/", "GET, HEAD"),
        ("DELETE", "/login", "GET, HEAD, POST"),
        ("GET", "/logout", "POST"),
        ("POST", "/certificates", "GET, HEAD"),
        ("POST", "/certificates/W2025000001", "GET, HEAD"),
        ("POST", "/certificates/W2025000001/key", "GET, HEAD"),
        ("PUT", "/certificates/W2025000001/rekey", "GET, HEAD, POST"),
        ("GET", "/certificates/W2025000001/notice", "POST"),
        ("POST", "/static/issuer.css", "GET, HEAD"),
    ] {
        let url = format!("{}{path}", iss.base_url);
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let res = client().request(m, &url).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 405, "{method} {path}");
        assert_eq!(
            res.headers().get("allow").map(|v| v.to_str().unwrap()),
            Some(allow),
            "{method} {path}"
        );
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{method} {path}"
        );
        let page = res.text().await.unwrap();
        assert!(page.contains(allow), "{method} {path}: {page}");
        for served in allow.split(", ") {
            let m = reqwest::Method::from_bytes(served.as_bytes()).unwrap();
            let res = client().request(m, &url).send().await.unwrap();
            assert_ne!(res.status().as_u16(), 405, "{served} {path} is served");
        }
    }
}
