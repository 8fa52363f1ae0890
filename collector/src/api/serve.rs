//! The server loop: hyper serves the router on each accepted connection,
//! with the limits a server open to clients it does not control needs and
//! `axum::serve` does not set.
//!
//! - **A request head must arrive within [`HEADER_READ_TIMEOUT`]** of the
//!   connection opening (or of the previous answer, on a kept-alive
//!   connection), or the connection is closed. hyper has this timeout
//!   (30 s by default) but it only runs with a timer, and `axum::serve`
//!   gives its connections none: a client that sends a header byte every few
//!   seconds and never ends its head (slowloris) held its connection, a task
//!   and a file descriptor for ever, and held up a graceful shutdown too.
//!   10 s because a real client (a browser, curl, a script) writes its head
//!   in one go: 10 s is far above any round trip, and it is how long an idle
//!   kept-alive connection stays open (a browser opens another one then).
//! - **At most [`MAX_CONNECTIONS`] open at a time**, WebSockets included;
//!   more wait in the kernel's accept queue until one closes. Each holds a
//!   file descriptor, and the collector needs its own for the index's
//!   segment files, the containers' log files and Docker: a flood of
//!   connections must not make a commit or a log read fail (1,024 is a
//!   systemd service's default limit).
//! - A request body has its own deadline where one is read (`/api/login`,
//!   see `api/mod.rs`); a body nobody reads does not keep the connection
//!   alive: hyper closes it after the answer.
//! - **Graceful shutdown**: on the signal, stop accepting, let every
//!   connection finish its request in flight (an idle one closes at once)
//!   and wait for them. A WebSocket leaves hyper at its upgrade; the live
//!   feeds end themselves on the shutdown signal (`api/live.rs`).

use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::serve::Listener;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

/// How long a client has to send a whole request head.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections open at once (each one file descriptor).
pub const MAX_CONNECTIONS: usize = 512;

/// Serves `router` on connections from `listener` until `signal` completes,
/// then drains them (see the module doc).
pub async fn serve<L: Listener>(
    listener: L,
    router: Router,
    signal: impl Future<Output = ()> + Send + 'static,
) {
    let mut listener = Limited::new(listener, MAX_CONNECTIONS);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    // `stop` tells the connections to finish; each holds a `running`
    // receiver until it has, so the sender sees when all are done.
    let (stop_tx, stop_rx) = watch::channel(());
    let (running_tx, running_rx) = watch::channel(());
    let mut signal = pin!(signal);
    loop {
        let io = tokio::select! {
            (io, _addr) = listener.accept() => io,
            () = &mut signal => break,
        };
        let service = TowerToHyperService::new(router.clone());
        let conn = http
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades();
        let mut stop = stop_rx.clone();
        let running = running_rx.clone();
        tokio::spawn(async move {
            let mut conn = pin!(conn);
            let result = tokio::select! {
                result = conn.as_mut() => result,
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                // A client gone, a head too slow or malformed: theirs.
                tracing::debug!(error = %e, "connection ended");
            }
            drop(running);
        });
    }
    drop(listener);
    let _ = stop_tx.send(());
    drop(running_rx);
    running_tx.closed().await;
}

/// A listener that hands out at most `max` connections at a time: each
/// holds a permit until it is dropped (after hyper, or after a WebSocket).
struct Limited<L> {
    inner: L,
    permits: Arc<Semaphore>,
    /// Whether the last accept had to wait (logged once per episode).
    full: bool,
}

impl<L: Listener> Limited<L> {
    fn new(inner: L, max: usize) -> Self {
        Limited {
            inner,
            permits: Arc::new(Semaphore::new(max)),
            full: false,
        }
    }

    async fn accept(&mut self) -> (Counted<L::Io>, L::Addr) {
        let permit = match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => {
                self.full = false;
                permit
            }
            Err(_) => {
                if !std::mem::replace(&mut self.full, true) {
                    tracing::warn!(
                        max = MAX_CONNECTIONS,
                        "connection limit reached: new connections wait until one closes"
                    );
                }
                Arc::clone(&self.permits)
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed")
            }
        };
        let (io, addr) = self.inner.accept().await;
        (
            Counted {
                io,
                _permit: permit,
            },
            addr,
        )
    }
}

/// A connection that gives its permit back when it is dropped.
struct Counted<T> {
    io: T,
    _permit: OwnedSemaphorePermit,
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
