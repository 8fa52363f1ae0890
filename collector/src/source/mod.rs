//! The Docker source: which containers exist, and one follow task for each.
//!
//! The supervisor lists every container (running or not: a container that
//! exited before the collector started still has logs to take), then follows
//! the engine's container events so that containers created, started,
//! restarted, renamed or removed later are picked up at once. The events are
//! requested from a second before the listing, so nothing that happens in
//! between is missed; acting on an event twice is harmless. When the engine
//! connection drops, it reconnects with backoff and lists again.
//!
//! It is also what says a container is gone for good, so that its checkpoint
//! can go (see `crate::ledger`): a `destroy` event, or a container the index
//! knows that a complete, successful list lacks (removed while the collector
//! was down or disconnected) and that the engine, asked about it, says it
//! does not know. A failed or timed-out call says nothing.

pub mod follow;
pub mod logfile;
pub mod registry;
pub mod watch;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use bollard::models::EventMessage;
use bollard::query_parameters::{EventsOptions, InspectContainerOptions, ListContainersOptions};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::config::LogFiles;
use crate::ledger::Ledger;
use crate::metrics::Metrics;
use crate::record::{ContainerMeta, Record};
use follow::Follower;
use registry::Registry;
use watch::Watcher;

/// Longest wait for the engine to answer at start-up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the engine could not be reached at start-up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot use Docker host {host:?}: {source}")]
    Host {
        host: String,
        source: bollard::errors::Error,
    },
    #[error("cannot reach the Docker engine at {host}: {detail}")]
    Unreachable { host: String, detail: String },
}

/// Connects to the engine (`DOCKER_HOST` syntax), negotiates the API version
/// and returns the client with the engine's host name.
pub async fn connect(docker_host: Option<&str>) -> Result<(Docker, String), ConnectError> {
    let host = docker_host
        .unwrap_or("unix:///var/run/docker.sock")
        .to_owned();
    let docker = Docker::connect_with_host(&host).map_err(|source| ConnectError::Host {
        host: host.clone(),
        source,
    })?;
    let unreachable = |detail: String| ConnectError::Unreachable {
        host: host.clone(),
        detail,
    };
    let docker = tokio::time::timeout(CONNECT_TIMEOUT, docker.negotiate_version())
        .await
        .map_err(|_| unreachable("no answer within 10 s".into()))?
        .map_err(|e| unreachable(e.to_string()))?;
    let info = tokio::time::timeout(CONNECT_TIMEOUT, docker.info())
        .await
        .map_err(|_| unreachable("no answer within 10 s".into()))?
        .map_err(|e| unreachable(e.to_string()))?;
    Ok((docker, info.name.unwrap_or_else(|| "localhost".into())))
}

/// The inotify watcher that lets follow tasks read `json-file` logs from
/// disk; `None` (everything through the API) when told so or when inotify
/// is not available.
pub fn file_watcher(mode: LogFiles) -> Option<Arc<Watcher>> {
    if mode == LogFiles::Api {
        return None;
    }
    match Watcher::start() {
        Ok(watcher) => Some(watcher),
        Err(e) => {
            tracing::warn!(error = %e, "inotify unavailable; reading every log through the Docker API");
            None
        }
    }
}

/// A list of every container: ID and name, and whether every entry had an
/// ID (only a complete list may say a container is gone).
struct List {
    containers: Vec<(String, String)>,
    complete: bool,
}

impl List {
    /// The containers of `known` (the ledger's, taken before the list was
    /// asked for) that the list lacks: removed while the collector was down
    /// or its engine connection was. None unless the list is complete.
    fn absent<'a>(&self, known: &'a [String]) -> Vec<&'a str> {
        if !self.complete {
            return Vec::new();
        }
        let listed: HashSet<&str> = self.containers.iter().map(|(id, _)| id.as_str()).collect();
        known
            .iter()
            .map(String::as_str)
            .filter(|id| !listed.contains(id))
            .collect()
    }
}

/// Marks removed those of `ids` (absent from a complete list) that the
/// engine, asked one by one, says it does not know (404): a list that hides
/// a container some other way (a filtering proxy) must not cost it its
/// checkpoint. Any other answer, or none within the time limit, leaves the
/// container be; the next list asks again.
async fn confirm_removed(docker: Docker, ledger: Arc<Ledger>, ids: Vec<String>) {
    let mut gone = Vec::new();
    for id in ids {
        let inspect = docker.inspect_container(&id, None::<InspectContainerOptions>);
        if let Ok(Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        })) = tokio::time::timeout(CONNECT_TIMEOUT, inspect).await
        {
            gone.push(id);
        }
    }
    if gone.is_empty() {
        return;
    }
    tracing::info!(
        containers = gone.len(),
        "containers in the index are no longer on the engine; their checkpoints go"
    );
    ledger.mark_removed(gone.iter().map(String::as_str));
}

/// The supervisor of all follow tasks.
pub struct DockerSource {
    pub docker: Docker,
    pub host: String,
    pub registry: Arc<Registry>,
    pub ledger: Arc<Ledger>,
    pub records: mpsc::Sender<Record>,
    pub metrics: Arc<Metrics>,
    pub max_line_bytes: usize,
    /// Join stack traces into one record (`--multiline=auto`).
    pub multiline: bool,
    /// Reads `json-file` logs from disk when set (see [`logfile`]).
    pub watcher: Option<Arc<Watcher>>,
}

impl DockerSource {
    /// Runs until the task is aborted; aborting it aborts every follow task.
    pub async fn run(self) {
        let mut tasks = JoinSet::new();
        let mut backoff = Duration::from_millis(200);
        let mut logged_down = false;
        loop {
            let since = crate::timefmt::now_ns() / 1_000_000_000 - 1;
            // Containers with lines in the index before the list was asked
            // for: one the list lacks was removed (a container created later
            // is not among them).
            let known = self.ledger.ids_on(&self.host);
            match self.list().await {
                Ok(list) => {
                    let absent: Vec<String> =
                        list.absent(&known).into_iter().map(str::to_owned).collect();
                    if !absent.is_empty() {
                        let (docker, ledger) = (self.docker.clone(), Arc::clone(&self.ledger));
                        tasks.spawn(confirm_removed(docker, ledger, absent));
                    }
                    for (id, name) in list.containers {
                        self.track(&id, &name, &mut tasks);
                    }
                    self.metrics.docker_outage.end();
                    backoff = Duration::from_millis(200);
                    if logged_down {
                        tracing::info!("Docker engine reachable again");
                        logged_down = false;
                    }
                }
                Err(e) => {
                    self.metrics
                        .docker_outage
                        .begin(format!("cannot list containers: {e}"));
                    if !logged_down {
                        tracing::warn!(error = %e, "cannot list containers; retrying with backoff");
                        logged_down = true;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    continue;
                }
            }
            let options = EventsOptions {
                since: Some(since.to_string()),
                until: None,
                filters: Some(HashMap::from([(
                    "type".to_owned(),
                    vec!["container".to_owned()],
                )])),
            };
            let mut events = self.docker.events(Some(options));
            while let Some(event) = events.next().await {
                match event {
                    Ok(event) => self.on_event(event, &mut tasks),
                    Err(e) => {
                        tracing::warn!(error = %e, "Docker events stream dropped; reconnecting");
                        break;
                    }
                }
                while tasks.try_join_next().is_some() {}
            }
            // Not down yet: the list that follows says whether the engine
            // answers (a dropped stream alone flipped `/healthz` for 200 ms).
            Metrics::add(&self.metrics.docker_reconnects, 1);
            tokio::time::sleep(backoff).await;
        }
    }

    async fn list(&self) -> Result<List, bollard::errors::Error> {
        let options = ListContainersOptions {
            all: true,
            ..Default::default()
        };
        let list = self.docker.list_containers(Some(options)).await?;
        let listed = list.len();
        let containers: Vec<(String, String)> = list
            .into_iter()
            .filter_map(|c| {
                let name = c
                    .names
                    .and_then(|n| n.into_iter().next())
                    .unwrap_or_default();
                Some((c.id?, name.trim_start_matches('/').to_owned()))
            })
            .collect();
        Ok(List {
            complete: containers.len() == listed,
            containers,
        })
    }

    fn on_event(&self, event: EventMessage, tasks: &mut JoinSet<()>) {
        let Some(actor) = event.actor else { return };
        let Some(id) = actor.id else { return };
        let attributes = actor.attributes.unwrap_or_default();
        let name = attributes
            .get("name")
            .map(String::as_str)
            .unwrap_or_default();
        match event.action.as_deref().unwrap_or_default() {
            "create" | "start" | "restart" => self.track(&id, name, tasks),
            "rename" => {
                if let Some(handle) = self.registry.get(&id) {
                    handle.rename(name);
                }
            }
            // The container stopped (its log is complete) or is gone: a
            // follow task reading its file flushes a last line without a
            // newline, or finishes.
            "die" => {
                if let Some(handle) = self.registry.get(&id) {
                    handle.wake.notify_one();
                }
            }
            // Gone for good (IDs are never reused): its checkpoint goes, and
            // the registry forgets it (the ledger lists it while the index
            // holds its lines). Its follow task keeps its own handle and
            // sends what it still reads.
            "destroy" => {
                if let Some(handle) = self.registry.remove(&id) {
                    handle.update(|s| s.state = "removed".into());
                    handle.wake.notify_one();
                }
                self.ledger.mark_removed([id.as_str()]);
            }
            _ => {}
        }
    }

    /// Starts following a container, or wakes its task if it has one.
    fn track(&self, id: &str, name: &str, tasks: &mut JoinSet<()>) {
        let (handle, new) = self.registry.get_or_insert(id, || ContainerMeta {
            host: self.host.clone(),
            id: id.to_owned(),
            name: name.to_owned(),
            ..ContainerMeta::default()
        });
        if !new {
            handle.wake.notify_one();
            return;
        }
        let position = self.ledger.get(id).map(|s| s.position).unwrap_or_default();
        tracing::debug!(container = %name, "following");
        let follower = Follower {
            docker: self.docker.clone(),
            id: id.to_owned(),
            handle,
            records: self.records.clone(),
            position,
            max_line_bytes: self.max_line_bytes,
            multiline: self.multiline,
            watcher: self.watcher.clone(),
            metrics: Arc::clone(&self.metrics),
        };
        tasks.spawn(follower.run());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_complete_list_says_which_known_containers_are_gone() {
        let known: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let mut list = List {
            containers: vec![("a".into(), "web".into()), ("new".into(), "db".into())],
            complete: true,
        };
        assert_eq!(list.absent(&known), ["b", "c"]);
        // An entry without an ID might have been any of them.
        list.complete = false;
        assert!(list.absent(&known).is_empty());
    }
}
