//! `switchyard-server --check-live`: asks the server listening on the configured address for
//! `/health/live`, so a container health check needs no curl in the image. Exit 0 when live.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// How long the probe may take.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Whether the server at `listen` (the configured address; an unspecified IP means this
/// host) answers `/health/live` with 200.
pub fn check_live(listen: &str) -> bool {
    let Ok(mut addr) = listen.parse::<SocketAddr>() else {
        return false;
    };
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, TIMEOUT) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(TIMEOUT));
    let _ = stream.set_write_timeout(Some(TIMEOUT));
    let request = b"GET /health/live HTTP/1.0\r\nHost: localhost\r\n\r\n";
    let mut head = [0u8; 12];
    stream.write_all(request).is_ok()
        && stream.read_exact(&mut head).is_ok()
        && head.starts_with(b"HTTP/1.")
        && &head[9..12] == b"200"
}
