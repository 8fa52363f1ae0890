//! A tiny HTTP/1.1 client over one kept-alive connection, for timing API
//! calls of a millisecond or less.
//!
//! The harness's `reqwest::blocking` client hands every request to a runtime
//! on another thread and back, which adds tens of microseconds and their
//! jitter to what is measured. This writes a `GET`, reads the status line
//! and headers, and the body by `Content-Length` or chunks, on a socket with
//! no Nagle delay: what a browser's fetch on a warm connection pays, without
//! the browser. No `Accept-Encoding` is sent, so bodies come uncompressed.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One connection to `127.0.0.1:port`, reopened after an error.
pub struct Http {
    port: u16,
    conn: Option<BufReader<TcpStream>>,
}

/// Status and body of one response.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

impl Http {
    pub fn new(port: u16) -> Http {
        Http { port, conn: None }
    }

    /// `GET path_and_query`; one retry on a fresh connection if the kept one
    /// was closed meanwhile.
    pub fn get(&mut self, path_and_query: &str) -> io::Result<Reply> {
        match self.try_get(path_and_query) {
            Ok(reply) => Ok(reply),
            Err(_) => {
                self.conn = None;
                self.try_get(path_and_query)
            }
        }
    }

    fn try_get(&mut self, path_and_query: &str) -> io::Result<Reply> {
        if self.conn.is_none() {
            let stream = TcpStream::connect(("127.0.0.1", self.port))?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(Duration::from_secs(60)))?;
            self.conn = Some(BufReader::with_capacity(64 * 1024, stream));
        }
        let conn = self.conn.as_mut().expect("connected above");
        let request = format!(
            "GET {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n",
            self.port
        );
        conn.get_mut().write_all(request.as_bytes())?;
        let reply = read_reply(conn);
        if reply.is_err() {
            self.conn = None;
        }
        reply
    }
}

fn read_reply(conn: &mut BufReader<TcpStream>) -> io::Result<Reply> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let mut line = String::new();
    if conn.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    let mut length = None;
    let mut chunked = false;
    loop {
        line.clear();
        conn.read_line(&mut line)?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse::<usize>().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            conn.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| bad("bad chunk size"))?;
            if size == 0 {
                line.clear();
                conn.read_line(&mut line)?;
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            conn.read_exact(&mut body[start..])?;
            line.clear();
            conn.read_line(&mut line)?;
        }
    } else {
        let length = length.ok_or_else(|| bad("no Content-Length and not chunked"))?;
        body.resize(length, 0);
        conn.read_exact(&mut body)?;
    }
    Ok(Reply { status, body })
}

/// `text` percent-encoded for a query string value.
pub fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
