//! A TCP proxy in front of a server that a test can freeze: while frozen, nothing the server
//! sends reaches the client (the connections stay open, as with a stuck middlebox), so a
//! client's stream is cut without either end noticing.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A proxy on a free port of 127.0.0.1, forwarding to `127.0.0.1:upstream`.
pub struct Proxy {
    /// Its port.
    pub port: u16,
    frozen: Arc<AtomicBool>,
}

fn pipe(mut from: TcpStream, mut to: TcpStream, frozen: Option<Arc<AtomicBool>>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        while frozen.as_ref().is_some_and(|f| f.load(Ordering::Acquire)) {
            std::thread::sleep(Duration::from_millis(10));
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

impl Proxy {
    /// Starts forwarding (a thread per direction per connection).
    pub fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a proxy port");
        let port = listener.local_addr().expect("an address").port();
        let frozen = Arc::new(AtomicBool::new(false));
        let held = frozen.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let (c2, s2) = match (client.try_clone(), server.try_clone()) {
                    (Ok(c), Ok(s)) => (c, s),
                    _ => continue,
                };
                std::thread::spawn(move || pipe(client, server, None));
                let held = held.clone();
                std::thread::spawn(move || pipe(s2, c2, Some(held)));
            }
        });
        Proxy { port, frozen }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Holds (true) or releases (false) everything the server sends.
    pub fn freeze(&self, frozen: bool) {
        self.frozen.store(frozen, Ordering::Release);
    }
}
