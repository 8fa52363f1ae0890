//! The ledger: what has been taken per container so far (checkpoint, line
//! counts, names), as of the records handed to the index, committed or about
//! to be. The indexer writes it; the sources read where to resume; the API
//! reads it for `/api/containers` and `/metrics`. It sits between the stages
//! so that neither end of the pipeline depends on the other.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::checkpoint::ContainerState;

/// What the index holds per container, as of the records added so far
/// (committed or about to be): shared by the writer thread, the sources
/// (where to resume) and `/api/containers`.
#[derive(Debug, Default)]
pub struct Ledger {
    containers: Mutex<BTreeMap<String, ContainerState>>,
}

impl Ledger {
    pub fn new(containers: BTreeMap<String, ContainerState>) -> Ledger {
        Ledger {
            containers: Mutex::new(containers),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ContainerState>> {
        // A panic while holding this lock cannot leave the map half-updated
        // in a way that matters more than losing the collector: keep going.
        self.containers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn snapshot(&self) -> BTreeMap<String, ContainerState> {
        self.lock().clone()
    }

    pub fn get(&self, container_id: &str) -> Option<ContainerState> {
        self.lock().get(container_id).cloned()
    }

    /// Applies `f` to the map under the lock.
    pub fn update<T>(&self, f: impl FnOnce(&mut BTreeMap<String, ContainerState>) -> T) -> T {
        f(&mut self.lock())
    }
}
