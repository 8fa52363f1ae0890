//! One link of a demo service chain: serves `GET /`, logs a line, and calls
//! the next service if there is one, all with the request ID.
//!
//! Run three of them to see a request's wake across services (each line on
//! stdout is what the Wakeline collector reads from a container):
//!
//! ```text
//! SERVICE=tokens LISTEN=127.0.0.1:8083                                cargo run -p wakeline-middleware --example chain_service &
//! SERVICE=users  LISTEN=127.0.0.1:8082 NEXT=http://127.0.0.1:8083/   cargo run -p wakeline-middleware --example chain_service &
//! SERVICE=edge   LISTEN=127.0.0.1:8081 NEXT=http://127.0.0.1:8082/   cargo run -p wakeline-middleware --example chain_service &
//! curl -i http://127.0.0.1:8081/
//! ```
//!
//! Configuration is by environment so that the same static binary can run in
//! every container of a demo stack: `SERVICE` (a name for the logs),
//! `LISTEN` (default `0.0.0.0:8080`), `NEXT` (optional URL to call).

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use reqwest_middleware::ClientWithMiddleware;
use wakeline_middleware::{PropagateRequestId, RequestId, RequestIdLayer};

#[derive(Clone)]
struct Link {
    service: String,
    next: Option<String>,
    client: ClientWithMiddleware,
}

async fn handle(State(link): State<Link>, request_id: RequestId) -> String {
    tracing::info!(service = %link.service, "handling");
    let Some(next) = &link.next else {
        return format!("{} done for {request_id}\n", link.service);
    };
    match link.client.get(next).send().await {
        Ok(response) => {
            let body = response.text().await.unwrap_or_default();
            format!("{} -> {body}", link.service)
        }
        Err(error) => {
            tracing::error!(service = %link.service, %error, "next service failed");
            format!("{} -> error\n", link.service)
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    wakeline_middleware::log::init()?;
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "0.0.0.0:8080".to_owned());
    let link = Link {
        service: std::env::var("SERVICE").unwrap_or_else(|_| "service".to_owned()),
        next: std::env::var("NEXT").ok().filter(|s| !s.is_empty()),
        client: reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(PropagateRequestId::new())
            .build(),
    };
    let app = Router::new()
        .route("/", get(handle))
        .with_state(link)
        .layer(RequestIdLayer::new());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    tracing::info!(%listen, "listening");
    axum::serve(listener, app).await?;
    Ok(())
}
