//! A headless Chromium driven over WebDriver (Debian's `chromium` and `chromium-driver`), for
//! the console tests. Elements are found the way a screen reader finds them: by role and
//! accessible name, as Chromium computes them (WebDriver's computed role and label), so the
//! tests hold the console to docs/api.md#console's names. WebDriver is JSON over HTTP; the handful of
//! commands used here are sent with reqwest, already in the tree (the computed label and role
//! commands are what a test needs most, and not every client crate has them).

use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn installed(name: &str, package: &str) -> String {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output();
    match found {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        _ => panic!(
            "{name} is not installed: the console tests drive a real headless Chromium. Install \
             it with `apt-get install -y {package}` (scripts/test does this when it is missing)"
        ),
    }
}

/// A chromedriver process and one browser session, both ended when dropped.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver leads a process group of its own, with the Chromium it started: the
        // whole group goes, or every test would leave a browser's processes behind.
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// An element found by role and name.
#[derive(Clone)]
pub struct Element(String);

impl Browser {
    /// A fresh headless Chromium, `width` × 900 pixels (narrower than a desktop window can
    /// be: a phone's viewport, emulated).
    pub async fn start(width: u32) -> Browser {
        let chromium = installed("chromium", "chromium");
        let driver_bin = installed("chromedriver", "chromium-driver");
        let port = switchyard_testkit::free_port();
        let driver = Command::new(driver_bin)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let mut options = json!({"binary": chromium, "args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            format!("--window-size={},900", width.max(800)),
        ]});
        if width < 800 {
            options["mobileEmulation"] =
                json!({"deviceMetrics": {"width": width, "height": 844, "pixelRatio": 1}});
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": options,
        }}});
        let deadline = Instant::now() + Duration::from_secs(20);
        let session = loop {
            if let Ok(res) = http
                .post(format!("{base}/session"))
                .json(&capabilities)
                .send()
                .await
                && let Ok(body) = res.json::<Value>().await
                && let Some(id) = body["value"]["sessionId"].as_str()
            {
                break id.to_owned();
            }
            assert!(Instant::now() < deadline, "chromedriver gave no session");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        Browser {
            driver,
            base,
            session,
            http,
        }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request
            .send()
            .await
            .expect("chromedriver answers")
            .json()
            .await
            .expect("JSON");
        answer["value"].clone()
    }

    async fn get(&self, path: &str) -> Value {
        self.command(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.command(reqwest::Method::POST, path, Some(body)).await
    }

    /// Opens `url`.
    pub async fn open(&self, url: &str) {
        self.post("/url", json!({"url": url})).await;
    }

    /// The elements of `role` named `name` now shown (computed by Chromium).
    pub async fn all(&self, role: &str, name: &str) -> Vec<Element> {
        let xpath = match role {
            "button" => "//button",
            "textbox" => "//input[@type='text' or @type='password' or not(@type)] | //textarea",
            "checkbox" => "//input[@type='checkbox']",
            "slider" => "//input[@type='range']",
            "table" => "//table",
            "link" => "//a",
            "dialog" => "//dialog",
            _ => "//*[@role]",
        };
        let found = self
            .post("/elements", json!({"using": "xpath", "value": xpath}))
            .await;
        let mut matching = Vec::new();
        for e in found.as_array().into_iter().flatten() {
            let Some(id) = e[ELEMENT].as_str() else {
                continue;
            };
            let path = format!("/element/{id}");
            if self.get(&format!("{path}/displayed")).await != json!(true) {
                continue;
            }
            let (r, n) = (
                self.get(&format!("{path}/computedrole")).await,
                self.get(&format!("{path}/computedlabel")).await,
            );
            if r == role && n == name {
                matching.push(Element(id.to_owned()));
            }
        }
        matching
    }

    /// The one element of `role` named `name`, waiting up to 5 s for it to show.
    pub async fn find(&self, role: &str, name: &str) -> Element {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(e) = self.all(role, name).await.into_iter().next() {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "no {role} named {name:?} on the page"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits up to `limit` for `check` on the page's text to hold.
    pub async fn wait_for_text(&self, limit: Duration, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let text = self.text().await;
            if check(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "the page never showed it; it reads:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// All the text shown.
    pub async fn text(&self) -> String {
        let body = self
            .post(
                "/element",
                json!({"using": "css selector", "value": "body"}),
            )
            .await;
        let id = body[ELEMENT].as_str().unwrap_or_default().to_owned();
        self.get(&format!("/element/{id}/text"))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Clicks `e`.
    pub async fn click(&self, e: &Element) {
        self.post(&format!("/element/{}/click", e.0), json!({}))
            .await;
    }

    /// Types `text` into `e` (after clearing it).
    pub async fn type_into(&self, e: &Element, text: &str) {
        self.post(&format!("/element/{}/clear", e.0), json!({}))
            .await;
        self.post(&format!("/element/{}/value", e.0), json!({"text": text}))
            .await;
    }

    /// Sends the keys `text` to `e` as typed, without clearing it first (arrow keys on a
    /// slider: `\u{E014}` is the right arrow).
    pub async fn keys(&self, e: &Element, text: &str) {
        self.post(&format!("/element/{}/value", e.0), json!({"text": text}))
            .await;
    }

    /// A property of `e` (e.g. `value`, `checked`).
    pub async fn property(&self, e: &Element, name: &str) -> Value {
        self.get(&format!("/element/{}/property/{name}", e.0)).await
    }

    /// Accepts the page's `confirm()`.
    pub async fn accept_alert(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.get("/alert/text").await.is_object() {
            assert!(Instant::now() < deadline, "no confirmation was asked");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.post("/alert/accept", json!({})).await;
    }

    /// Runs `script` in the page (for what a person does without a named control, e.g.
    /// forcing a request the console does not offer).
    pub async fn run(&self, script: &str) -> Value {
        self.post("/execute/async", json!({"script": script, "args": []}))
            .await
    }

    /// A PNG of the window, saved to `path`.
    pub async fn screenshot(&self, path: &std::path::Path) {
        use base64::Engine as _;
        self.post(
            "/execute/sync",
            json!({"script": "window.scrollTo(0, 0)", "args": []}),
        )
        .await;
        let png = self.get("/screenshot").await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap_or_default())
            .expect("a base64 screenshot");
        std::fs::write(path, bytes).expect("write the screenshot");
    }
}
