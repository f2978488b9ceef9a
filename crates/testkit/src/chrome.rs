//! Test harness: Debian's headless Chromium driven through `chromedriver` (WebDriver) with
//! fantoccini. Each [`Chrome`] owns its own driver process (on a loopback port the driver
//! picks itself, `--port=0`, and names on its standard output) and its own throw-away
//! profile; [`Chrome::run`] closes the browser and the driver whether
//! the scenario passes or panics.
//!
//! ```ignore
//! Chrome::start(&service.base_url).await.run(|page| async move {
//!     page.goto("/login").await;
//!     page.fill("login", "officer1").await;
//! }).await;
//! ```

use std::future::Future;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use futures::FutureExt;
use serde_json::json;
use tempfile::TempDir;

use crate::process::try_spawn_until_line;

/// How long any single wait for an element, a page or the driver may take.
pub const WAIT: Duration = Duration::from_secs(15);
/// The bound on a whole browser scenario, so a hung browser fails the test instead of
/// hanging it.
pub const SCENARIO: Duration = Duration::from_secs(180);

/// Flags Chromium needs as root on a machine without outside network (see
/// `shared/crates.md`); the window is tall enough for a whole outcome page.
const CHROMIUM_ARGS: [&str; 10] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--window-size=1280,1600",
    "--lang=ja",
];

const MISSING: &str = "run `make test` (scripts/install-test-deps.sh installs the Debian packages \
                       chromium and chromium-driver), or set CHROMIUM / CHROMEDRIVER";

/// The Chromium binary: `$CHROMIUM`, else `/usr/bin/chromium`. Panics when it is missing:
/// a browser test that silently skips would hide a broken page.
pub fn chromium_binary() -> PathBuf {
    let path = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.is_file(),
        "Chromium not found at {}: {MISSING}",
        path.display()
    );
    path
}

/// The driver: `$CHROMEDRIVER`, else `/usr/bin/chromedriver`, else `chromedriver` on `PATH`.
pub fn chromedriver_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMEDRIVER") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "CHROMEDRIVER={} is not a file: {MISSING}",
            path.display()
        );
        return path;
    }
    let default = Path::new("/usr/bin/chromedriver");
    if default.is_file() {
        return default.to_owned();
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("chromedriver"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("chromedriver not found: {MISSING}"))
}

/// A running `chromedriver`, in its own process group so that nothing it starts can
/// outlive the test.
pub struct Driver {
    pub url: String,
    port: u16,
    child: Option<Child>,
    dir: PathBuf,
}

impl Driver {
    /// Starts the driver with its logs in `dir` and waits until `/status` says it is ready.
    pub fn start(dir: &Path) -> Self {
        // With `--port=0` chromedriver picks a free port and binds it afterwards; when
        // another process takes the port in between (the suite starts many servers at
        // once) it exits with "IPv4 port not available". That is the one failure tried
        // again, with a new pick.
        let mut attempts = 0;
        let (child, port) = loop {
            attempts += 1;
            let mut cmd = Command::new(chromedriver_binary());
            cmd.arg("--port=0")
                .arg(format!(
                    "--log-path={}",
                    dir.join("chromedriver.log").display()
                ))
                .process_group(0);
            // "ChromeDriver was started successfully on port 36795."
            match try_spawn_until_line(cmd, &dir.join("chromedriver.out"), |line| {
                let (_, rest) = line.split_once("started successfully on port ")?;
                let port = rest.trim_end_matches('.').trim();
                port.parse::<u16>().ok().map(|p| p.to_string())
            }) {
                Ok(started) => break started,
                Err(e) if attempts < 5 && e.contains("port not available") => continue,
                Err(e) => panic!("{e}"),
            }
        };
        let port: u16 = port.parse().expect("a port number");
        let mut me = Driver {
            url: format!("http://127.0.0.1:{port}"),
            port,
            child: Some(child),
            dir: dir.to_owned(),
        };
        let deadline = Instant::now() + WAIT;
        while !me.ready() {
            if let Some(Ok(Some(status))) = me.child.as_mut().map(Child::try_wait) {
                panic!("chromedriver exited ({status}):\n{}", me.log());
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready:\n{}",
                me.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        me
    }

    /// The end of the driver's output and log, for failure messages.
    pub fn log(&self) -> String {
        ["chromedriver.out", "chromedriver.log"]
            .iter()
            .map(|name| {
                let text = std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
                let cut = text.len().saturating_sub(4000);
                let cut = (cut..=text.len())
                    .find(|&i| text.is_char_boundary(i))
                    .unwrap_or(0);
                format!("--- {name} (end) ---\n{}", &text[cut..])
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn ready(&self) -> bool {
        http_get(self.port, "/status").is_some_and(|body| body.contains("\"ready\":true"))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // `/shutdown` ends every session and its browser; then the driver exits.
        let _ = http_get(self.port, "/shutdown");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Chromium runs in the driver's process group: end the group this harness made.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A driver plus one browser session on a fresh profile.
pub struct Chrome {
    page: Page,
    // Field order matters: the driver (and with it the browser) stops before the profile
    // directory is removed.
    driver: Driver,
    dir: TempDir,
}

impl Chrome {
    /// Starts the driver and a headless Chromium whose relative URLs resolve against `base_url`.
    pub async fn start(base_url: &str) -> Self {
        let chromium = chromium_binary();
        let dir = tempfile::tempdir().expect("temporary directory");
        let profile = dir.path().join("profile");
        std::fs::create_dir(&profile).expect("profile directory");
        let driver = Driver::start(dir.path());
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|s| (*s).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let caps = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": args,
            },
        });
        let caps = match caps {
            serde_json::Value::Object(map) => map,
            _ => unreachable!("a JSON object literal"),
        };
        let client = tokio::time::timeout(
            WAIT * 2,
            ClientBuilder::native()
                .capabilities(caps)
                .connect(&driver.url),
        )
        .await
        .unwrap_or_else(|_| panic!("Chromium did not start in time:\n{}", driver.log()))
        .unwrap_or_else(|e| panic!("Chromium did not start ({e}); {MISSING}\n{}", driver.log()));
        let page = Page {
            client,
            base: base_url.trim_end_matches('/').to_owned(),
        };
        let timeouts =
            fantoccini::wd::TimeoutConfiguration::new(Some(WAIT), Some(WAIT), Some(Duration::ZERO));
        page.client
            .update_timeouts(timeouts)
            .await
            .expect("set WebDriver timeouts");
        Chrome { page, driver, dir }
    }

    /// Runs `scenario` within [`SCENARIO`], then closes the browser and the driver, and
    /// only then re-raises a failure, so a failed assertion leaves no process behind.
    pub async fn run<F, Fut>(self, scenario: F)
    where
        F: FnOnce(Page) -> Fut,
        Fut: Future<Output = ()>,
    {
        let Chrome { page, driver, dir } = self;
        let outcome = AssertUnwindSafe(tokio::time::timeout(SCENARIO, scenario(page.clone())))
            .catch_unwind()
            .await;
        let _ = tokio::time::timeout(WAIT, page.client.close()).await;
        let log = driver.log();
        drop(driver);
        drop(dir);
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(_)) => panic!("the browser scenario took longer than {SCENARIO:?}\n{log}"),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

/// One browser tab, with the few gestures the tests need. Every wait is bounded by [`WAIT`]
/// and every failure names what was expected and the page it was on.
#[derive(Clone)]
pub struct Page {
    pub client: Client,
    base: String,
}

impl Page {
    /// Opens `path` (relative to the service) or an absolute URL.
    pub async fn goto(&self, path: &str) {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        self.client
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    pub async fn path(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("current URL")
            .path()
            .to_owned()
    }

    /// Waits for the first element matching `css`.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => e,
            Err(e) => panic!(
                "no `{css}` within {WAIT:?} ({e}) on {}:\n{}",
                self.url().await,
                self.source().await
            ),
        }
    }

    /// Waits for the first element matching the XPath `xpath`.
    pub async fn find_xpath(&self, xpath: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::XPath(xpath))
            .await
        {
            Ok(e) => e,
            Err(e) => panic!(
                "no `{xpath}` within {WAIT:?} ({e}) on {}:\n{}",
                self.url().await,
                self.source().await
            ),
        }
    }

    /// Every element matching `css` now (no wait).
    pub async fn all(&self, css: &str) -> Vec<fantoccini::elements::Element> {
        self.client
            .find_all(Locator::Css(css))
            .await
            .expect("find_all")
    }

    /// Waits until the first `css` element's visible text is `text`, and returns it.
    pub async fn wait_text(&self, css: &str, text: &str) -> fantoccini::elements::Element {
        let deadline = Instant::now() + WAIT;
        loop {
            let e = self.find(css).await;
            let seen = e.text().await.unwrap_or_default();
            if seen.trim() == text {
                return e;
            }
            if Instant::now() >= deadline {
                panic!(
                    "`{css}` shows {seen:?}, not {text:?}, on {}:\n{}",
                    self.url().await,
                    self.source().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The visible text of the first `css` element.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("element text")
    }

    /// Types `value` into the field `css` (say `#login`), as a user would.
    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.find(css).await;
        field
            .clear()
            .await
            .unwrap_or_else(|e| panic!("clear `{css}`: {e}"));
        field
            .send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("type into `{css}`: {e}"));
    }

    /// Chooses the `<option value=…>` of the `<select>` at `css`.
    pub async fn select(&self, css: &str, value: &str) {
        let select = self.find(css).await;
        select
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("select `{css}` = {value}: {e}"));
    }

    /// Clicks the first `css` element.
    pub async fn click(&self, css: &str) {
        let e = self.find(css).await;
        e.click()
            .await
            .unwrap_or_else(|e| panic!("click `{css}`: {e}"));
    }

    /// Clicks `css` and waits until the browser has left the current page.
    pub async fn click_and_wait(&self, css: &str) {
        let before = self.find("html").await;
        self.click(css).await;
        self.wait_gone(before).await;
    }

    /// Waits until `element`'s document has been replaced by a new one.
    pub async fn wait_gone(&self, element: fantoccini::elements::Element) {
        let deadline = Instant::now() + WAIT;
        // A stale element reference means the old document is gone.
        while element.tag_name().await.is_ok() {
            assert!(
                Instant::now() < deadline,
                "the page did not change within {WAIT:?}: {}",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.find("body").await;
    }

    /// Goes back in history and waits for the previous page to load.
    pub async fn back(&self) {
        let before = self.find("html").await;
        self.client.back().await.expect("history back");
        self.wait_gone(before).await;
    }

    /// The `href` of the first `css` link, resolved to an absolute URL.
    pub async fn href(&self, css: &str) -> String {
        let link = self.find(css).await;
        link.prop("href")
            .await
            .expect("href")
            .unwrap_or_else(|| panic!("`{css}` has no href"))
    }

    /// The document's `<title>`.
    pub async fn title(&self) -> String {
        self.client.title().await.unwrap_or_default()
    }

    pub async fn source(&self) -> String {
        self.client.source().await.unwrap_or_default()
    }

    pub async fn url(&self) -> String {
        self.client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    /// The page printed to PDF by Chromium (WebDriver "Print Page", W3C §18.2), on
    /// paper of `width_cm` × `height_cm` with no margins of WebDriver's own, so the
    /// page's CSS `@page` rules decide margins and margin boxes.
    pub async fn print_pdf(&self, width_cm: f64, height_cm: f64) -> Vec<u8> {
        self.print_pdf_scaled(width_cm, height_cm, 1.0).await
    }

    /// [`Self::print_pdf`] at a zoom (WebDriver's `scale`, 0.1 to 2): a page's own
    /// `@page { size }` wins over the requested paper in Chromium, so a zoom is how a
    /// test makes content longer than its paper.
    pub async fn print_pdf_scaled(&self, width_cm: f64, height_cm: f64, scale: f64) -> Vec<u8> {
        use base64::Engine as _;
        let answer = self
            .client
            .issue_cmd(PrintPage {
                body: serde_json::json!({
                    "page": { "width": width_cm, "height": height_cm },
                    "margin": { "top": 0, "bottom": 0, "left": 0, "right": 0 },
                    "background": true,
                    "shrinkToFit": false,
                    "scale": scale,
                }),
            })
            .await
            .unwrap_or_else(|e| panic!("print to PDF: {e}"));
        let b64 = answer.as_str().expect("print answers base64 text");
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("print answers base64")
    }

    /// axe-core's serious and critical findings on the current page, one line each
    /// (`rule-id (impact): help — selectors`). The engine is npm's `axe-core`, put in
    /// `target/axe/` by `make test` (`scripts/install-test-deps.sh`).
    pub async fn axe_serious(&self) -> Vec<String> {
        let path =
            crate::bins::workspace_root().join("target/axe/node_modules/axe-core/axe.min.js");
        let source = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run scripts/install-test-deps.sh, which installs axe-core from npm)",
                path.display()
            )
        });
        self.client
            .execute(&source, vec![])
            .await
            .expect("inject axe-core");
        let result = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];\n\
                 axe.run(document, { resultTypes: ['violations'] })\n\
                   .then(r => done(r.violations\n\
                     .filter(v => v.impact === 'serious' || v.impact === 'critical')\n\
                     .map(v => v.id + ' (' + v.impact + '): ' + v.help + ' — '\n\
                       + v.nodes.map(n => n.target.join(' ')).join(', '))))\n\
                   .catch(e => done(['axe failed: ' + e]));",
                vec![],
            )
            .await
            .expect("run axe-core");
        result
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Saves a PNG of the whole page under `target/screenshots/`, for people to look at.
    /// The window grows to the page's height for the shot and then shrinks back.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = crate::bins::workspace_root()
            .join("target")
            .join("screenshots");
        std::fs::create_dir_all(&dir).expect("target/screenshots");
        let (width, height) = self.client.get_window_size().await.expect("window size");
        let page = self
            .client
            .execute(
                "return Math.ceil(document.documentElement.scrollHeight) \
                 + (window.outerHeight - window.innerHeight);",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_u64())
            .unwrap_or(height)
            .clamp(height, 12_000);
        let px = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        let resized = self
            .client
            .set_window_size(px(width), px(page))
            .await
            .is_ok();
        let png = self.client.screenshot().await;
        if resized {
            let _ = self.client.set_window_size(px(width), px(height)).await;
        }
        let path = dir.join(name);
        std::fs::write(&path, png.expect("screenshot"))
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }
}

/// A plain HTTP/1.1 GET on loopback; `None` if nothing answered.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.starts_with("HTTP/1.1 200").then_some(buf)
}

/// WebDriver's `POST /session/{id}/print`, which fantoccini 0.21 has no method for.
#[derive(Debug)]
struct PrintPage {
    body: serde_json::Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for PrintPage {
    fn endpoint(
        &self,
        base_url: &reqwest::Url,
        session_id: Option<&str>,
    ) -> Result<reqwest::Url, url::ParseError> {
        base_url.join(&format!("session/{}/print", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &reqwest::Url) -> (reqwest::Method, Option<String>) {
        (reqwest::Method::POST, Some(self.body.to_string()))
    }
}
