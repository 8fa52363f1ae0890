//! Per-request cost of the layer, side by side with a bare axum router and
//! with tower-http's `SetRequestId` + `PropagateRequestId`, in one run.
//!
//! Each router is called in-process (no sockets) with a request that has no
//! `X-Request-ID`, so every variant generates an ID. The handler is ready at
//! once, so the response future is polled exactly once (`now_or_never`) and
//! no runtime is involved: what is measured is the middleware, not a
//! scheduler. All variants run under the same global subscriber (JSON lines
//! at `info` into `io::sink`), as a service using `log::init` would.
//!
//! Each variant runs twice: as built (`Router::call` on the router as the
//! code builds it, which is what the README's table has always quoted), and
//! "served", after `Router::with_state(())`, which is what `axum::serve`
//! calls once per connection: the handlers are then already routes, so a
//! request no longer pays for turning its handler into a route and applying
//! the layers to it (one boxed clone and one `Layer::layer` call per request
//! in the first form).
//!
//! Criterion reports each variant; then an interleaved run (variants
//! alternate, many rounds, median per variant) prints the ratio and the
//! overhead of each against the bare router of its form, which is what the
//! README quotes.

use std::hint::black_box;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use criterion::Criterion;
use futures_util::FutureExt;
use http::Request;
use tower::{Service, ServiceBuilder};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use wakeline_middleware::{JsonLayer, RequestIdLayer};

fn bare() -> Router {
    Router::new().route("/", get(|| async { "ok" }))
}

/// The variants as built, then the same served (see the module docs).
fn variants() -> Vec<(&'static str, Router)> {
    let served = [
        "bare axum router, served",
        "tower-http SetRequestId + PropagateRequestId, served",
        "wakeline RequestIdLayer, request lines off, served",
        "wakeline RequestIdLayer, JSON request lines on, served",
    ];
    let built = built();
    let served: Vec<_> = built
        .iter()
        .zip(served)
        .map(|((_, router), name)| (name, router.clone().with_state(())))
        .collect();
    built.into_iter().chain(served).collect()
}

/// How many variants each form has; the first of each is its bare router.
const FORM: usize = 4;

fn built() -> Vec<(&'static str, Router)> {
    vec![
        ("bare axum router", bare()),
        (
            "tower-http SetRequestId + PropagateRequestId",
            bare().layer(
                ServiceBuilder::new()
                    .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                    .layer(PropagateRequestIdLayer::x_request_id()),
            ),
        ),
        (
            "wakeline RequestIdLayer, request lines off",
            bare().layer(RequestIdLayer::new().request_lines(false)),
        ),
        (
            "wakeline RequestIdLayer, JSON request lines on",
            bare().layer(RequestIdLayer::new()),
        ),
    ]
}

/// One request through `router`, start to response.
fn one_request(router: &mut Router) {
    let req = Request::get("/")
        .body(Body::empty())
        .expect("static request");
    let response = router
        .call(req)
        .now_or_never()
        .expect("the handler is ready at once");
    black_box(response.expect("infallible"));
}

fn criterion_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("per request");
    for (name, mut router) in variants() {
        group.bench_function(name, |b| b.iter(|| one_request(&mut router)));
    }
    group.finish();
}

/// Nanoseconds per request for each variant: `rounds` rounds, each running
/// every variant for `iters` requests in turn; (best round, median round).
/// On a shared machine the best round is the least disturbed by other work.
fn interleaved(rounds: usize, iters: u32) -> Vec<(&'static str, f64, f64)> {
    let mut variants = variants();
    let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); variants.len()];
    for round in 0..rounds {
        // Rotate the order so no variant always runs first.
        for k in 0..variants.len() {
            let i = (round + k) % variants.len();
            let router = &mut variants[i].1;
            let start = Instant::now();
            for _ in 0..iters {
                one_request(router);
            }
            samples[i].push(start.elapsed().as_nanos() as f64 / f64::from(iters));
        }
    }
    variants
        .iter()
        .zip(samples)
        .map(|((name, _), mut s)| {
            s.sort_by(f64::total_cmp);
            (*name, s[0], s[s.len() / 2])
        })
        .collect()
}

fn main() {
    let subscriber = tracing_subscriber::registry()
        .with(LevelFilter::INFO)
        .with(JsonLayer::new().with_writer(std::io::sink));
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    // `WAKELINE_BENCH_ONLY=<variant index>[:<requests>]` runs only that
    // variant and exits: for `valgrind --tool=callgrind` or `perf`, whose
    // counts (instructions per request) do not depend on the machine's load.
    if let Ok(only) = std::env::var("WAKELINE_BENCH_ONLY") {
        let (index, count) = only.split_once(':').unwrap_or((&only, "1000000"));
        let (Ok(index), Ok(count)) = (index.parse::<usize>(), count.parse::<u32>()) else {
            eprintln!("WAKELINE_BENCH_ONLY: expected <index>[:<requests>], found {only:?}");
            std::process::exit(2);
        };
        let mut variants = variants();
        let Some((name, router)) = variants.get_mut(index) else {
            eprintln!("WAKELINE_BENCH_ONLY: no variant {index}");
            std::process::exit(2);
        };
        for _ in 0..count {
            one_request(router);
        }
        println!("{name}: {count} requests");
        return;
    }

    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--test");
    let profiling = args.iter().any(|a| a == "--profile-time");
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    criterion_benches(&mut criterion);
    criterion.final_summary();
    if profiling {
        return;
    }

    let (rounds, iters) = if quick { (1, 10) } else { (101, 5_000) };
    let results = interleaved(rounds, iters);
    println!("\nside by side ({rounds} interleaved rounds of {iters} requests each):");
    for form in results.chunks(FORM) {
        let (bare_best, bare_median) = (form[0].1, form[0].2);
        for (name, best, median) in form {
            println!(
                "  {name:<55} best {:>6.3} µs  ratio vs bare: {:.2}x  overhead: {:+.3} µs   \
                 | median {:>6.3} µs  ratio vs bare: {:.2}x  overhead: {:+.3} µs",
                best / 1e3,
                best / bare_best,
                (best - bare_best) / 1e3,
                median / 1e3,
                median / bare_median,
                (median - bare_median) / 1e3,
            );
        }
    }
}
