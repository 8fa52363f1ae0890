//! What the Docker source knows about each container right now: its current
//! metadata (a rename changes it), its state, and a permanent error such as
//! a log driver with no logs API. Shared with the follow tasks, which read
//! the metadata for every batch, and with `/api/containers` and `/healthz`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use crate::record::ContainerMeta;

/// One container, as the source sees it.
#[derive(Debug, Default)]
pub struct ContainerHandle {
    inner: Mutex<HandleState>,
    /// Wakes the follow task: the container (re)started or was removed.
    pub wake: Notify,
}

#[derive(Debug, Default, Clone)]
pub struct HandleState {
    pub meta: Arc<ContainerMeta>,
    pub state: String,
    pub tty: bool,
    /// Why this container's logs cannot be read (permanent).
    pub error: Option<String>,
    /// Its log driver (`json-file`, `local`, `none`, …).
    pub log_driver: String,
    /// Its `json-file` log on this host, once it has one (Docker names the
    /// file when the container first starts).
    pub log_file: Option<PathBuf>,
    /// How its log is being read: "file" or "api" (empty before the first read).
    pub read_from: &'static str,
}

impl ContainerHandle {
    pub fn new(meta: ContainerMeta) -> ContainerHandle {
        ContainerHandle {
            inner: Mutex::new(HandleState {
                meta: Arc::new(meta),
                ..HandleState::default()
            }),
            wake: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HandleState> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn meta(&self) -> Arc<ContainerMeta> {
        Arc::clone(&self.lock().meta)
    }

    pub fn state(&self) -> HandleState {
        self.lock().clone()
    }

    pub fn update(&self, f: impl FnOnce(&mut HandleState)) {
        f(&mut self.lock());
    }

    /// Renames the container for the lines read from now on.
    pub fn rename(&self, name: &str) {
        let mut state = self.lock();
        if state.meta.name != name {
            let mut meta = (*state.meta).clone();
            meta.name = name.to_owned();
            state.meta = Arc::new(meta);
        }
    }
}

/// Every container seen by this process.
#[derive(Debug, Default)]
pub struct Registry {
    containers: Mutex<BTreeMap<String, Arc<ContainerHandle>>>,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Arc<ContainerHandle>>> {
        self.containers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub fn get(&self, id: &str) -> Option<Arc<ContainerHandle>> {
        self.lock().get(id).cloned()
    }

    /// Forgets a container (removed from Docker) and returns its handle.
    pub fn remove(&self, id: &str) -> Option<Arc<ContainerHandle>> {
        self.lock().remove(id)
    }

    /// The handle for `id`, and whether it was just created.
    pub fn get_or_insert(
        &self,
        id: &str,
        meta: impl FnOnce() -> ContainerMeta,
    ) -> (Arc<ContainerHandle>, bool) {
        let mut map = self.lock();
        if let Some(handle) = map.get(id) {
            return (Arc::clone(handle), false);
        }
        let handle = Arc::new(ContainerHandle::new(meta()));
        map.insert(id.to_owned(), Arc::clone(&handle));
        (handle, true)
    }

    pub fn snapshot(&self) -> Vec<(String, HandleState)> {
        self.lock()
            .iter()
            .map(|(id, h)| (id.clone(), h.state()))
            .collect()
    }
}
