//! The connection under the router: hyper's own answers get the API's JSON.
//!
//! A request hyper cannot take never reaches the router: a URI over 64 KiB
//! (414), a request head beyond its buffer (about 400 KiB) or with more than
//! 100 headers (431), bytes that are not HTTP (400). For those hyper writes a
//! bare status line with `content-length: 0` and closes the connection, and
//! offers no hook to change it. Every answer of the router to a bad request
//! has a JSON body, so such a head can only be hyper's; this wrapper around
//! each accepted connection recognizes it as it is written and sends it with
//! the body every other error has: `{"error": "...", "detail": "..."}`.
//! Anything else passes through untouched (one prefix check per write).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::serve::Listener;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Accepts from `L`, and wraps each connection in [`JsonErrorIo`].
#[derive(Debug)]
pub struct JsonErrorListener<L>(pub L);

impl<L: Listener> Listener for JsonErrorListener<L> {
    type Io = JsonErrorIo<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = self.0.accept().await;
        (
            JsonErrorIo {
                inner: io,
                pending: Vec::new(),
                written: 0,
            },
            addr,
        )
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// A connection whose automatic error answers are given a JSON body.
#[derive(Debug)]
pub struct JsonErrorIo<T> {
    inner: T,
    /// A rewritten answer still to be written, from `written` on.
    pending: Vec<u8>,
    written: usize,
}

impl<T: AsyncWrite + Unpin> JsonErrorIo<T> {
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending = Vec::new();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for JsonErrorIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for JsonErrorIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.drain(cx))?;
        if let Some(answer) = with_json_body(buf) {
            self.pending = answer;
            // The caller's bytes are taken; the rest goes out on flush.
            let _ = self.drain(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut filled = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (filled.next(), filled.next())
            && looks_automatic(only)
        {
            return self.poll_write(cx, only);
        }
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A write that starts with an HTTP/1 error status line: the cheap test.
fn looks_automatic(buf: &[u8]) -> bool {
    buf.len() > 12
        && (buf.starts_with(b"HTTP/1.1 ") || buf.starts_with(b"HTTP/1.0 "))
        && matches!(buf[9], b'4' | b'5')
}

/// The same answer with a JSON body, if `buf` is exactly one bodiless error
/// head (what hyper writes when it cannot parse a request).
fn with_json_body(buf: &[u8]) -> Option<Vec<u8>> {
    if !looks_automatic(buf) || !buf.ends_with(b"\r\n\r\n") {
        return None;
    }
    let head = std::str::from_utf8(buf).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let bodiless = lines.any(|l| l.eq_ignore_ascii_case("content-length: 0"));
    if !bodiless || head.matches("\r\n\r\n").count() != 1 {
        return None;
    }
    let code = status_line.get(9..12)?;
    let (error, detail) = match code {
        "400" => (
            "bad request",
            "the request could not be read as HTTP/1.1 (malformed request line or header)",
        ),
        "414" => (
            "uri too long",
            "expected a path and query of at most 64 KiB; a search query is at most 5000 bytes",
        ),
        "431" => (
            "request header fields too large",
            "expected a request line and headers of at most about 400 KiB, and at most 100 headers",
        ),
        _ => ("bad request", "the request could not be read"),
    };
    let body = json!({ "error": error, "detail": detail }).to_string();
    let mut answer = String::with_capacity(head.len() + body.len() + 64);
    for line in head.trim_end_matches("\r\n").split("\r\n") {
        if line.eq_ignore_ascii_case("content-length: 0") {
            continue;
        }
        answer.push_str(line);
        answer.push_str("\r\n");
    }
    answer.push_str("content-type: application/json\r\n");
    answer.push_str("x-content-type-options: nosniff\r\n");
    answer.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    answer.push_str(&body);
    Some(answer.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypers_bodiless_error_heads_get_the_json_body() {
        let head = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: Fri, 04 Dec 2026 21:33:40 GMT\r\n\r\n";
        let answer = String::from_utf8(with_json_body(head).unwrap()).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 "), "{head}");
        assert!(head.contains("connection: close\r\n"), "{head}");
        assert!(head.contains("content-type: application/json"), "{head}");
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"], "request header fields too large");
        assert!(json["detail"].as_str().unwrap().contains("400 KiB"));
    }

    #[test]
    fn everything_else_passes_untouched() {
        for write in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 40\r\n\r\n",
            b"HTTP/1.1 304 Not Modified\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n{\"x\":1}",
            b"{\"ts\":\"HTTP/1.1 400 \"}",
            b"\x81\x05hello",
        ] {
            assert!(with_json_body(write).is_none(), "{}", String::from_utf8_lossy(write));
        }
    }
}
