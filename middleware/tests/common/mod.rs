//! Shared harness for the loopback tests: real axum services, each on its own
//! thread with its own runtime and its own tracing subscriber, as if each
//! were a separate process, writing JSON lines into a buffer the test reads.

#![allow(dead_code)] // each test file uses part of the harness

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use serde_json::Value;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use wakeline_middleware::{JsonLayer, PropagateRequestId, RequestIdLayer};

/// Collects a service's log output.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("capture lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The fields every line written by the JSON layer inside a request has.
pub const REQUIRED_KEYS: [&str; 7] = [
    "ts",
    "level",
    "msg",
    "target",
    "request_id",
    "trace_id",
    "span_id",
];

impl Capture {
    pub fn raw(&self) -> String {
        String::from_utf8(self.0.lock().expect("capture lock").clone())
            .expect("log output is UTF-8")
    }

    /// Every line, parsed; panics on a line that is not a JSON object.
    pub fn lines(&self) -> Vec<Value> {
        self.raw()
            .lines()
            .map(|l| {
                let v: Value =
                    serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
                assert!(v.is_object(), "not an object: {l}");
                v
            })
            .collect()
    }

    /// Lines whose `msg` is `msg`.
    pub fn with_msg(&self, msg: &str) -> Vec<Value> {
        self.lines()
            .into_iter()
            .filter(|l| l["msg"] == msg)
            .collect()
    }
}

/// A running service.
pub struct Service {
    pub name: &'static str,
    pub addr: SocketAddr,
    pub logs: Capture,
}

impl Service {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// A reqwest client that propagates the request ID.
pub fn propagating_client() -> reqwest_middleware::ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(PropagateRequestId::new())
        .build()
}

/// Serves `app` (with the default [`RequestIdLayer`] outermost) on a
/// loopback port, on its own thread, runtime and subscriber.
pub fn spawn_service(name: &'static str, app: Router) -> Service {
    spawn_service_with(name, app.layer(RequestIdLayer::new()))
}

/// Serves `app` as given (the caller adds the layer).
pub fn spawn_service_with(name: &'static str, app: Router) -> Service {
    let logs = Capture::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let addr = listener.local_addr().expect("local address");
    let writer = logs.clone();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            // `info`, like `log::init`'s default: hyper and axum trace
            // connection events below that.
            let subscriber = tracing_subscriber::registry()
                .with(LevelFilter::INFO)
                .with(JsonLayer::new().with_writer(writer));
            let _guard = tracing::subscriber::set_default(subscriber);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("service runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                axum::serve(listener, app).await.expect("serve");
            });
        })
        .expect("service thread");
    Service { name, addr, logs }
}

/// Polls `check` until it returns `Some`, or panics with `what` after 10 s.
pub fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A runtime for the test's own client side.
pub fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("client runtime")
}

/// Whether `s` is a hyphenated UUIDv7.
pub fn is_uuid_v7(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::parse_str(s).is_ok_and(|u| u.get_version_num() == 7)
}
