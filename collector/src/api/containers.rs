//! `/api/containers`: every container on the engine, and every removed one
//! whose lines the index still holds (seen now or in an earlier run).
//!
//! Two sources meet here: the Docker source's registry (current name, state,
//! a permanent error) and the index ledger (line counts and time range, which
//! survive restarts through the commit payload). A removed container leaves
//! the list when it leaves the ledger: once retention has deleted its last
//! record (see `crate::ledger`).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::AppState;
use crate::timefmt::format_rfc3339_ns;

pub async fn containers(State(state): State<AppState>) -> Json<Value> {
    let mut ledger = state.ledger.snapshot();
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    for (id, live) in state.registry.snapshot() {
        let stats = ledger.remove(&id);
        if stats.is_none() && live.state == "removed" {
            // Removed, and nothing of it left in the index (or never was).
            continue;
        }
        let stats = stats.unwrap_or_default();
        let has_lines = stats.lines > 0;
        let container_state = if stats.removed {
            "removed"
        } else {
            live.state.as_str()
        };
        let meta = &live.meta;
        out.insert(
            id.clone(),
            json!({
                "id": id,
                "name": meta.name,
                "image": meta.image,
                "service": meta.service,
                "project": meta.project,
                "state": container_state,
                "tty": live.tty,
                "read_from": (!live.read_from.is_empty()).then_some(live.read_from),
                "error": live.error,
                "first_ts": has_lines.then(|| format_rfc3339_ns(stats.first_ts)),
                "last_ts": has_lines.then(|| format_rfc3339_ns(stats.last_ts)),
                "lines": stats.lines,
            }),
        );
    }
    // Containers known only from the index: removed before this run.
    for (id, stats) in ledger {
        out.insert(
            id.clone(),
            json!({
                "id": id,
                "name": stats.name,
                "image": stats.image,
                "service": stats.service,
                "project": stats.project,
                "state": "removed",
                "tty": Value::Null,
                "read_from": Value::Null,
                "error": Value::Null,
                "first_ts": format_rfc3339_ns(stats.first_ts),
                "last_ts": format_rfc3339_ns(stats.last_ts),
                "lines": stats.lines,
            }),
        );
    }
    Json(json!({ "containers": out.into_values().collect::<Vec<_>>() }))
}
