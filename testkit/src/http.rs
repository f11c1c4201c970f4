//! Tiny HTTP servers for tests, on a free port of 127.0.0.1, a thread each: a [`Receiver`]
//! that keeps the body of every request it gets (a webhook receiver), an [`App`] whose
//! `/metrics` the test writes (what a Prometheus scrapes, and 404 to anything else), and a
//! [`Silent`] port that never answers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// Reads one HTTP/1.1 request: (request line, body).
fn read_request(stream: &TcpStream) -> Option<(String, Vec<u8>)> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    Some((line.trim_end().to_owned(), body))
}

fn respond(mut stream: &TcpStream, status: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn serve(handle: impl Fn(String, Vec<u8>) -> (String, String) + Send + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let port = listener.local_addr().expect("an address").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            if let Some((line, body)) = read_request(&stream) {
                let (status, text) = handle(line, body);
                respond(&stream, &status, &text);
            }
        }
    });
    port
}

/// Keeps the body of every `POST` to its own path; answers 200 (404 to anything else).
#[derive(Clone)]
pub struct Receiver {
    /// Its port.
    pub port: u16,
    path: String,
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Receiver {
    /// Starts one. Its path is its own (`/hook-<n>`): a request meant for an endpoint that
    /// held the same port earlier (another test's "dead" URL, retried) is not taken for one.
    pub fn start() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = format!("/hook-{}-{n}", std::process::id());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let (kept, expected) = (bodies.clone(), format!("POST {path} "));
        let port = serve(move |line, body| {
            if !line.starts_with(&expected) {
                return ("404 Not Found".into(), String::new());
            }
            kept.lock().unwrap_or_else(|p| p.into_inner()).push(body);
            ("200 OK".into(), String::new())
        });
        Receiver { port, path, bodies }
    }

    /// `http://127.0.0.1:PORT/hook-…`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}{}", self.port, self.path)
    }

    /// Every body received so far, in order, as text.
    pub fn bodies(&self) -> Vec<String> {
        self.bodies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect()
    }
}

/// An application's `/metrics`, whose text the test sets.
#[derive(Clone)]
pub struct App {
    /// Its port.
    pub port: u16,
    metrics: Arc<Mutex<String>>,
}

impl App {
    /// Starts one with empty metrics.
    pub fn start() -> Self {
        let metrics = Arc::new(Mutex::new(String::new()));
        let shown = metrics.clone();
        let port = serve(move |line, _| {
            if line.starts_with("GET /metrics") {
                let text = shown.lock().unwrap_or_else(|p| p.into_inner()).clone();
                ("200 OK".into(), text)
            } else {
                ("404 Not Found".into(), String::new())
            }
        });
        App { port, metrics }
    }

    /// Replaces the exposition text.
    pub fn set(&self, text: &str) {
        *self.metrics.lock().unwrap_or_else(|p| p.into_inner()) = text.to_owned();
    }
}

/// A port held bound and never answered: a server that takes the connection and says
/// nothing (clients time out). Holding it keeps any other test from getting the port.
pub struct Silent {
    /// Its port.
    pub port: u16,
    _held: TcpListener,
}

impl Silent {
    /// Binds one.
    pub fn start() -> Self {
        let held = TcpListener::bind("127.0.0.1:0").expect("bind a port");
        let port = held.local_addr().expect("an address").port();
        Silent { port, _held: held }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}
