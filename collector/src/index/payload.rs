//! The commit payload: what every tantivy commit says besides its
//! documents — the next `seq`, each container's [`ContainerState`]
//! (checkpoint and line counts) and the container versions the documents'
//! keys name (`super::containers`). Written in the same atomic commit as the
//! documents, read back when the index is opened. Removed containers leave it
//! once the index holds none of their records (`crate::ledger`); fields added
//! since the first version are optional, so older data dirs open.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::containers::StoredContainer;
use crate::checkpoint::ContainerState;

/// The commit payload.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CommitPayload {
    pub version: u32,
    /// The seq the next record gets.
    pub next_seq: u64,
    /// Per container ID.
    pub containers: BTreeMap<String, ContainerState>,
    /// Container versions, as documents name them by key (see
    /// `super::containers`: a version's key is its position unless it says
    /// otherwise).
    #[serde(default)]
    pub container_versions: Vec<StoredContainer>,
    /// The key the next container version gets (0 in payloads from before
    /// pruning: one past the last version).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub next_container_key: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl CommitPayload {
    pub const VERSION: u32 = 1;

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a payload; `Err` names what is wrong with it.
    pub fn from_json(text: &str) -> Result<CommitPayload, String> {
        let mut payload: CommitPayload =
            serde_json::from_str(text).map_err(|e| format!("unreadable commit payload: {e}"))?;
        if payload.version != Self::VERSION {
            return Err(format!(
                "commit payload version {} (expected {})",
                payload.version,
                Self::VERSION
            ));
        }
        for state in payload.containers.values_mut() {
            state.upgrade();
        }
        Ok(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_from_before_pruning_opens_as_it_was() {
        // As the previous version wrote it: no removed flag, no host, every
        // container with its checkpoint, versions keyed by their position.
        let old = r#"{"version":1,"next_seq":7,"containers":{"abc":{"position":{"stdout":
            {"ts_ns":5,"at_ts":1},"stderr":{"ts_ns":3,"at_ts":1}},"lines":6,"first_ts":1,
            "last_ts":5,"name":"web","image":"img","service":null,"project":null}},
            "container_versions":[{"host":"h","id":"abc","name":"web-old","image":"img"},
            {"host":"h","id":"abc","name":"web","image":"img"}]}"#;
        let payload = CommitPayload::from_json(old).unwrap();
        let state = &payload.containers["abc"];
        assert!(!state.removed);
        assert_eq!(state.position.stdout.ts_ns, 5);
        assert_eq!(payload.next_container_key, 0);
        let table = super::super::containers::ContainerTable::new(
            payload.container_versions.clone(),
            payload.next_container_key,
        );
        assert_eq!(table.get(0).name, "web-old");
        assert_eq!(table.get(1).name, "web");
        assert_eq!(table.next_key(), 2);
        // Written again, it reads back the same.
        let again = CommitPayload::from_json(&payload.to_json()).unwrap();
        assert_eq!(again, payload);
    }

    #[test]
    fn payload_round_trips_and_rejects_garbage() {
        let mut p = CommitPayload {
            version: CommitPayload::VERSION,
            next_seq: 9,
            ..Default::default()
        };
        p.containers.insert("abc".into(), ContainerState::default());
        assert_eq!(CommitPayload::from_json(&p.to_json()), Ok(p));
        assert!(CommitPayload::from_json("{").is_err());
        assert!(
            CommitPayload::from_json(r#"{"version":99,"next_seq":0,"containers":{}}"#).is_err()
        );
    }
}
