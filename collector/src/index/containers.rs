//! The container table: each container version once, a small key per document.
//!
//! Every line of a container carries the same host, ID, name, image, service
//! and project. Storing them with each document made them a good part of the
//! index, so a document stores only a key into this table, and a hit gets its
//! container back from it at read time. A key names a container *version*:
//! when a container is renamed (or its labels change), its later lines get a
//! new key, so a record keeps the name it had when it was written.
//!
//! The writer thread adds versions before it adds the documents that use
//! them; the table goes into every commit's payload, in the same atomic commit
//! as those documents, so a committed document's key is always known, also
//! after a restart. Readers share the table's entries (`Arc`), so a page of
//! hits costs no copies of the container's strings.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use serde::{Deserialize, Serialize};

use crate::record::ContainerMeta;

/// A container version as the commit payload stores it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredContainer {
    pub host: String,
    pub id: String,
    pub name: String,
    pub image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

impl From<&ContainerMeta> for StoredContainer {
    fn from(meta: &ContainerMeta) -> StoredContainer {
        StoredContainer {
            host: meta.host.clone(),
            id: meta.id.clone(),
            name: meta.name.clone(),
            image: meta.image.clone(),
            service: meta.service.clone(),
            project: meta.project.clone(),
        }
    }
}

impl From<StoredContainer> for ContainerMeta {
    fn from(stored: StoredContainer) -> ContainerMeta {
        ContainerMeta {
            host: stored.host,
            id: stored.id,
            name: stored.name,
            image: stored.image,
            service: stored.service,
            project: stored.project,
        }
    }
}

/// The versions, keyed by their position (the key stored on documents).
#[derive(Debug, Default)]
pub struct ContainerTable {
    versions: RwLock<Vec<Arc<ContainerMeta>>>,
}

impl ContainerTable {
    pub fn new(stored: Vec<StoredContainer>) -> ContainerTable {
        ContainerTable {
            versions: RwLock::new(
                stored
                    .into_iter()
                    .map(|s| Arc::new(ContainerMeta::from(s)))
                    .collect(),
            ),
        }
    }

    /// The version a key names; an unknown key (which a committed document
    /// cannot have) gives an empty one rather than failing a search.
    pub fn get(&self, key: u64) -> Arc<ContainerMeta> {
        let versions = self.versions.read().unwrap_or_else(PoisonError::into_inner);
        usize::try_from(key)
            .ok()
            .and_then(|i| versions.get(i))
            .cloned()
            .unwrap_or_default()
    }

    /// Every version, for the commit payload.
    pub fn to_stored(&self) -> Vec<StoredContainer> {
        let versions = self.versions.read().unwrap_or_else(PoisonError::into_inner);
        versions
            .iter()
            .map(|m| StoredContainer::from(&**m))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.versions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key of `meta`'s version, added to the table if it is new.
    fn key_or_insert(&self, meta: &ContainerMeta) -> u64 {
        let mut versions = self
            .versions
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        // Newest first: a container's current version is usually the last.
        if let Some(i) = versions.iter().rposition(|v| **v == *meta) {
            return i as u64;
        }
        versions.push(Arc::new(meta.clone()));
        (versions.len() - 1) as u64
    }
}

/// The writer's fast path to keys: records of one container version share
/// one `Arc<ContainerMeta>`, so its address finds the key without comparing
/// strings. Each entry holds its `Arc`, so an address cannot be reused by
/// another version while it is here.
#[derive(Debug, Default)]
pub struct KeyCache {
    by_address: HashMap<usize, (Arc<ContainerMeta>, u64)>,
}

/// Entries kept before the cache starts over (sources make a new `Arc` when
/// they follow a container again; the table itself keeps no duplicates).
const KEY_CACHE_MAX: usize = 4096;

impl KeyCache {
    pub fn key(&mut self, table: &ContainerTable, meta: &Arc<ContainerMeta>) -> u64 {
        let address = Arc::as_ptr(meta) as usize;
        if let Some((_, key)) = self.by_address.get(&address) {
            return *key;
        }
        let key = table.key_or_insert(meta);
        if self.by_address.len() >= KEY_CACHE_MAX {
            self.by_address.clear();
        }
        self.by_address.insert(address, (Arc::clone(meta), key));
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(id: &str, name: &str) -> Arc<ContainerMeta> {
        Arc::new(ContainerMeta {
            host: "h".into(),
            id: id.into(),
            name: name.into(),
            image: "img".into(),
            service: Some("svc".into()),
            project: None,
        })
    }

    #[test]
    fn a_version_gets_one_key_and_a_rename_a_new_one() {
        let table = ContainerTable::default();
        let mut cache = KeyCache::default();
        let web = meta("a", "web");
        let same_values = meta("a", "web");
        let renamed = meta("a", "web-2");
        let k1 = cache.key(&table, &web);
        assert_eq!(cache.key(&table, &web), k1);
        assert_eq!(cache.key(&table, &same_values), k1);
        let k2 = cache.key(&table, &renamed);
        assert_ne!(k1, k2);
        assert_eq!(table.get(k1).name, "web");
        assert_eq!(table.get(k2).name, "web-2");
        assert_eq!(table.get(99).name, "");
    }

    #[test]
    fn the_table_survives_its_payload_form() {
        let table = ContainerTable::default();
        let mut cache = KeyCache::default();
        cache.key(&table, &meta("a", "web"));
        cache.key(&table, &meta("b", "api"));
        let stored = table.to_stored();
        let json = serde_json::to_string(&stored).unwrap();
        let back: Vec<StoredContainer> = serde_json::from_str(&json).unwrap();
        let reopened = ContainerTable::new(back);
        assert_eq!(reopened.len(), 2);
        assert_eq!(*reopened.get(1), *meta("b", "api"));
    }
}
