//! The bytes on the wire, for the few answers the HTTP layer writes before any route or
//! middleware runs: a request it cannot parse (400), headers over its limit (431), headers
//! that never finish arriving (408). actix-http writes those with an empty body and offers no
//! hook, so every connection's writes pass through [`ProblemBodies`], which turns exactly
//! those heads (`content-length: 0`, written by the framework) into problem+json answers like
//! every other error (docs/api.md). Everything else passes through untouched.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use switchyard_core::ProblemDetails;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The heads actix-http writes for its own errors, and what each means to a client.
const FRAMEWORK_ERRORS: [(&[u8], &str, &str); 3] = [
    (
        b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n",
        "400 Bad Request",
        "the request is not valid HTTP/1.1 (a malformed request line or header)",
    ),
    (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n",
        "431 Request Header Fields Too Large",
        "the request's headers are larger than the server accepts",
    ),
    (
        b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n",
        "408 Request Timeout",
        "the request's headers did not arrive in time",
    ),
];

/// A connection whose framework error answers carry a problem+json body.
pub struct ProblemBodies<T> {
    io: T,
    /// Rewritten bytes not yet written to `io` (the caller was told they were).
    pending: Vec<u8>,
    written: usize,
}

impl<T> ProblemBodies<T> {
    /// Wraps a connection.
    pub fn new(io: T) -> Self {
        ProblemBodies {
            io,
            pending: Vec::new(),
            written: 0,
        }
    }
}

/// A framework error head as a complete problem+json response.
fn problem_response(status_line: &str, detail: &str) -> Vec<u8> {
    let (code, title) = status_line.split_once(' ').unwrap_or((status_line, ""));
    let slug = title.to_ascii_lowercase().replace(' ', "-");
    let status = code.parse::<u16>().unwrap_or(400);
    let body = ProblemDetails::new(status, &slug, title, detail);
    let body = serde_json::to_string(&body).expect("a problem body serialises");
    format!(
        "HTTP/1.1 {status_line}\r\ncontent-type: application/problem+json\r\n\
         content-length: {}\r\nconnection: close\r\nx-content-type-options: nosniff\r\n\
         x-frame-options: DENY\r\nreferrer-policy: no-referrer\r\n\
         content-security-policy: default-src 'none'; frame-ancestors 'none'\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// `buf` with its framework error head (up to the blank line) replaced, or `None`. Only a
/// write that starts with one is looked at: the framework writes its error answer on its own
/// (it closes the connection after it), and every other write costs one prefix comparison.
fn rewrite(buf: &[u8]) -> Option<Vec<u8>> {
    if !buf.starts_with(b"HTTP/1.1 4") {
        return None;
    }
    let (_, status_line, detail) = FRAMEWORK_ERRORS
        .iter()
        .find(|(head, _, _)| buf.starts_with(head))?;
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(buf.len(), |i| i + 4);
    let mut out = problem_response(status_line, detail);
    out.extend_from_slice(&buf[end..]);
    Some(out)
}

impl<T: AsyncWrite + Unpin> ProblemBodies<T> {
    /// Writes what was rewritten before anything else.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ProblemBodies<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ProblemBodies<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        match rewrite(buf) {
            None => Pin::new(&mut this.io).poll_write(cx, buf),
            Some(rewritten) => {
                this.pending = rewritten;
                // Whatever is not written now goes first on the next write or flush.
                if let Poll::Ready(Err(e)) = this.poll_pending(cx) {
                    return Poll::Ready(Err(e));
                }
                Poll::Ready(Ok(buf.len()))
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn only_the_frameworks_empty_error_heads_are_rewritten() {
        let head = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\
                     date: Sun, 22 Nov 2026 14:06:18 GMT\r\n\r\n";
        let out = String::from_utf8(rewrite(head).unwrap()).unwrap();
        assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{out}");
        assert!(
            out.contains("content-type: application/problem+json"),
            "{out}"
        );
        let (_, body) = out.split_once("\r\n\r\n").unwrap();
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["status"], 400);
        assert!(out.contains(&format!("content-length: {}\r\n", body.len())));
        // An answer of the app's own, even a 400, passes untouched.
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 57\r\n\r\n{\"detail\":\"x\"}";
        assert!(rewrite(ours).is_none());
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert!(rewrite(ok).is_none());
    }
}
