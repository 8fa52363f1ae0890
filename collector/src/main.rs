//! The `wakeline` binary: wires the pipeline together and runs it until
//! SIGTERM or Ctrl-C, then commits what is pending and exits.
//!
//! Source tasks → bounded channel → sequencer (→ live hub) → bounded
//! channel → indexer thread → index;
//! the HTTP server reads the index and the hub. Errors reach the user as one
//! line on stderr and a non-zero exit code.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::serve::ListenerExt as _;
use clap::Parser as _;
use clap::error::ErrorKind;
use tokio::sync::mpsc;

use wakeline::api::serve::serve;
use wakeline::api::wire::JsonErrorListener;
use wakeline::api::{AppState, app};
use wakeline::config::Config;
use wakeline::index::LogIndex;
use wakeline::index::retention::{Retainer, Retention};
use wakeline::index::writer::Indexer;
use wakeline::ledger::Ledger;
use wakeline::live::{DEFAULT_RING, LiveHub};
use wakeline::metrics::Metrics;
use wakeline::sequence::{INDEXER_QUEUE, Sequencer, index_queue};
use wakeline::source::registry::Registry;
use wakeline::source::{DockerSource, connect, file_watcher};

/// jemalloc, not glibc's malloc: a record is made on a reader's thread and
/// freed a second later on another, and glibc kept growing and trimming its
/// arenas for that (`sysmalloc` and `mprotect` were 14% of the collector's
/// CPU at 10k lines/s); jemalloc keeps freed pages for reuse for a while.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Records in flight between the Docker readers and the indexer.
const INGEST_CHANNEL: usize = 8192;

fn main() -> ExitCode {
    let mut config = match Config::try_parse() {
        Ok(config) => config,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            e.exit()
        }
        Err(e) => {
            // clap's message spans several lines; the contract is one.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            eprintln!("wakeline: {} (see wakeline --help)", first.trim());
            return ExitCode::from(2);
        }
    };
    if let Err(message) = config.read_token_file().and_then(|()| config.check()) {
        eprintln!("wakeline: {message} (see wakeline --help)");
        return ExitCode::from(2);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("wakeline: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(config));
    // Do not wait on a worker stuck in I/O (say, a vanished data dir): what
    // could be committed was committed, or the error below says it was not.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wakeline: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    let (index, payload) = LogIndex::open(&config.data_dir)?;
    let index = Arc::new(index);
    let (docker, host) = connect(Some(&config.docker_host)).await?;

    let metrics = Arc::new(Metrics::new());
    let ledger = Arc::new(Ledger::new(payload.containers.clone()));
    let registry = Arc::new(Registry::default());
    let hub = Arc::new(LiveHub::new(
        DEFAULT_RING,
        payload.next_seq.saturating_sub(1),
    ));
    let (records, receiver) = mpsc::channel(INGEST_CHANNEL);

    let (batches, batch_receiver) = index_queue(INDEXER_QUEUE);
    let first_seq = payload.next_seq.max(1);
    let indexer = Indexer {
        index: Arc::clone(&index),
        ledger: Arc::clone(&ledger),
        hub: Arc::clone(&hub),
        metrics: Arc::clone(&metrics),
        commit_interval: config.commit_interval,
        next_seq: first_seq,
        retention: Retainer::new(
            Retention {
                max_age: config.retention.0,
                max_bytes: config.max_disk.resolve(&config.data_dir),
            },
            config.data_dir.clone(),
        ),
    }
    .spawn(batch_receiver, tokio::runtime::Handle::current())?;
    let sequencer = Sequencer {
        hub: Arc::clone(&hub),
        metrics: Arc::clone(&metrics),
        next_seq: first_seq,
        redact: config.redact,
    };
    let sequencer = tokio::spawn(sequencer.run(receiver, batches));

    let source = DockerSource {
        docker,
        host,
        registry: Arc::clone(&registry),
        ledger: Arc::clone(&ledger),
        records,
        metrics: Arc::clone(&metrics),
        max_line_bytes: config.max_line_bytes,
        multiline: config.multiline == wakeline::config::Multiline::Auto,
        watcher: file_watcher(config.log_files),
    };
    let source = tokio::spawn(source.run());

    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let metrics_at_stop = Arc::clone(&metrics);
    let state = AppState {
        index,
        hub,
        ledger,
        registry,
        metrics,
        auth_token: config.auth_token.as_deref().map(Arc::from),
        allowed_origins: config.allowed_origins.clone().into(),
        loopback_only: config.listen.ip().is_loopback(),
        shutdown: shutdown_rx,
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let local = listener
        .local_addr()
        .context("cannot read the listening address")?;
    tracing::info!(addr = %local, data_dir = %config.data_dir.display(), "serving");
    // The first line on stdout tells scripts (and tests) where we listen.
    println!("listening on http://{local}");
    let _ = std::io::stdout().flush();

    // No Nagle: a live frame must leave at once, not wait for an ACK (with
    // delayed ACKs that cost ~40 ms per burst of small frames).
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    // hyper's own answers to requests it cannot take get the API's JSON body.
    let listener = JsonErrorListener(listener);
    // Not axum::serve: it sets no header read timeout (see api/serve.rs).
    serve(listener, app(state), async move {
        shutdown_signal().await;
        // Live feeds end themselves so the server can finish.
        let _ = shutdown_tx.send(true);
    })
    .await;

    // Stop reading Docker: dropping the source drops every sender, so the
    // sequencer and then the indexer drain what is in flight; the indexer
    // commits it and ends.
    source.abort();
    let _ = source.await;
    // The sequencer ends once it has queued what is in flight, unless the
    // indexer has stopped taking batches because commits fail (a full
    // disk): then it is stopped where it is, which closes the queue and
    // lets the indexer end. What it held is not checkpointed, so the next
    // start reads it again.
    let stuck = async move {
        while metrics_at_stop.index_outage.get().is_none() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let sequencer_abort = sequencer.abort_handle();
    tokio::select! {
        _ = sequencer => {}
        () = stuck => {
            sequencer_abort.abort();
            tracing::warn!("the index cannot be written: stopping without queuing the last lines");
        }
    }
    let joined = tokio::task::spawn_blocking(move || indexer.join());
    match tokio::time::timeout(Duration::from_secs(30), joined).await {
        Ok(Ok(Ok(()))) => tracing::info!("stopped cleanly"),
        _ => anyhow::bail!("the indexer did not finish its last commit"),
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down: committing what is pending");
}
