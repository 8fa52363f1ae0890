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
//!
//! A container's versions leave the table once it is removed from Docker
//! and retention has deleted all its records (see `crate::ledger`): while
//! any is in the index, hits resolve their container from here. Keys are
//! never reused, so a key the table no longer has names nothing rather than
//! another container; a payload from before pruning (keys were positions)
//! opens as it did.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};

use serde::{Deserialize, Serialize};

use crate::record::ContainerMeta;

/// A container version as the commit payload stores it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredContainer {
    /// Its key, when it is not its position in the stored list (versions
    /// before it were pruned); absent in payloads from before pruning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<u64>,
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
            key: None,
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

/// The versions by key. Keys are never reused: a pruned version's key may
/// still be on deleted documents that a merge has not dropped yet.
#[derive(Debug, Default)]
pub struct ContainerTable {
    versions: RwLock<Versions>,
}

#[derive(Debug, Default)]
struct Versions {
    by_key: BTreeMap<u64, Arc<ContainerMeta>>,
    /// The key the next new version gets.
    next_key: u64,
}

impl ContainerTable {
    /// The table a payload stores: `stored` in key order (each without a key
    /// is keyed by its position, as before pruning existed), and the next key
    /// (0 in payloads from before pruning: one past the last).
    pub fn new(stored: Vec<StoredContainer>, next_key: u64) -> ContainerTable {
        let by_key: BTreeMap<u64, Arc<ContainerMeta>> = stored
            .into_iter()
            .enumerate()
            .map(|(i, s)| (s.key.unwrap_or(i as u64), Arc::new(ContainerMeta::from(s))))
            .collect();
        let next_key = by_key
            .last_key_value()
            .map_or(0, |(key, _)| key + 1)
            .max(next_key);
        ContainerTable {
            versions: RwLock::new(Versions { by_key, next_key }),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Versions> {
        self.versions.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Versions> {
        self.versions
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The version a key names; an unknown key (which a live document
    /// cannot have) gives an empty one rather than failing a search.
    pub fn get(&self, key: u64) -> Arc<ContainerMeta> {
        self.read().by_key.get(&key).cloned().unwrap_or_default()
    }

    /// Every version, for the commit payload: in key order, the key written
    /// only where it is not the position (after a pruned one).
    pub fn to_stored(&self) -> Vec<StoredContainer> {
        self.read()
            .by_key
            .iter()
            .enumerate()
            .map(|(i, (key, meta))| StoredContainer {
                key: (*key != i as u64).then_some(*key),
                ..StoredContainer::from(&**meta)
            })
            .collect()
    }

    /// The key the next new version gets (for the commit payload).
    pub fn next_key(&self) -> u64 {
        self.read().next_key
    }

    pub fn len(&self) -> usize {
        self.read().by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every version of the containers `ids` names, and returns how
    /// many went. Only for containers no live document refers to (see
    /// `crate::ledger::prunable`); the writer's [`KeyCache`] must be cleared
    /// after, so that a late line of one gets its version again, under a
    /// new key.
    pub fn prune(&self, ids: &HashSet<&str>) -> usize {
        let mut versions = self.write();
        let before = versions.by_key.len();
        versions
            .by_key
            .retain(|_, meta| !ids.contains(meta.id.as_str()));
        before - versions.by_key.len()
    }

    /// The key of `meta`'s version, added to the table if it is new.
    fn key_or_insert(&self, meta: &ContainerMeta) -> u64 {
        let mut versions = self.write();
        // Newest first: a container's current version is usually the last.
        if let Some((key, _)) = versions.by_key.iter().rev().find(|(_, v)| ***v == *meta) {
            return *key;
        }
        let key = versions.next_key;
        versions.next_key += 1;
        versions.by_key.insert(key, Arc::new(meta.clone()));
        key
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
    /// Forgets every key (after versions were pruned).
    pub fn clear(&mut self) {
        self.by_address.clear();
    }

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
        let reopened = ContainerTable::new(back, 0);
        assert_eq!(reopened.len(), 2);
        assert_eq!(*reopened.get(1), *meta("b", "api"));
    }

    #[test]
    fn pruning_drops_every_version_of_a_container_and_keys_stay_put() {
        let table = ContainerTable::default();
        let mut cache = KeyCache::default();
        let a = cache.key(&table, &meta("a", "web"));
        let a2 = cache.key(&table, &meta("a", "web-renamed"));
        let b = cache.key(&table, &meta("b", "api"));
        let c = cache.key(&table, &meta("c", "db"));
        assert_eq!(table.prune(&HashSet::from(["a", "c"])), 3);
        assert_eq!(table.len(), 1);
        for gone in [a, a2, c] {
            assert_eq!(table.get(gone).name, "", "key {gone}");
        }
        assert_eq!(table.get(b).name, "api", "the kept version keeps its key");

        // Through the payload: the kept version's key is written (it is no
        // longer its position), and a new version never reuses a pruned key.
        let json = serde_json::to_string(&table.to_stored()).unwrap();
        assert!(json.contains(&format!("\"key\":{b}")), "{json}");
        let reopened = ContainerTable::new(serde_json::from_str(&json).unwrap(), table.next_key());
        assert_eq!(*reopened.get(b), *meta("b", "api"));
        assert_eq!(reopened.get(a).name, "");
        cache.clear();
        let d = cache.key(&reopened, &meta("d", "new"));
        assert!(d > c, "new key {d} after {c}");
        // A late line of a pruned container gets its version again, anew.
        let again = cache.key(&reopened, &meta("a", "web"));
        assert!(again > d);
        assert_eq!(reopened.get(again).name, "web");
    }

    #[test]
    fn a_table_from_before_pruning_is_keyed_by_position() {
        let old = r#"[{"host":"h","id":"a","name":"web","image":"img"},
                      {"host":"h","id":"b","name":"api","image":"img"}]"#;
        let table = ContainerTable::new(serde_json::from_str(old).unwrap(), 0);
        assert_eq!(table.get(0).name, "web");
        assert_eq!(table.get(1).name, "api");
        assert_eq!(table.next_key(), 2);
        let written = serde_json::to_string(&table.to_stored()).unwrap();
        assert!(!written.contains("\"key\""), "unchanged: {written}");
    }
}
