//! What survives a restart, so restarting never spends quota again: the cache, each
//! deployment's last call (the rate limiter is rebuilt from them), the day's budget, models
//! found retired, each deployment's memory and the placeholder map. It never holds the API
//! key: no type stored here has a field for it. It is kept in SQLite (`shared.rs`); this file
//! also reads the JSON file older versions kept, so upgrading loses nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::anonymize::Anonymizer;
use super::budget::Budget;
use super::cache::CachedAdvice;
use super::history::DeploymentMemory;
use crate::model::UnixSeconds;

/// The JSON state file of versions before the shared SQLite state.
pub const LEGACY_FILE_NAME: &str = "llm-state.json";
pub const VERSION: u32 = 1;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Persisted {
    pub version: u32,
    /// Least recently used first.
    pub cache: Vec<(String, CachedAdvice)>,
    pub last_calls: BTreeMap<String, UnixSeconds>,
    /// Wall time of the same calls (older states have none).
    pub last_call_walls: BTreeMap<String, UnixSeconds>,
    pub budget: Budget,
    /// Models the server said are unknown or decommissioned.
    pub retired_models: Vec<String>,
    pub memory: BTreeMap<String, DeploymentMemory>,
    pub anonymizer: Anonymizer,
}

pub fn legacy_path_in(data_dir: &Path) -> PathBuf {
    data_dir.join(LEGACY_FILE_NAME)
}

/// What the legacy JSON file held.
#[derive(Debug, PartialEq)]
pub enum Legacy {
    Absent,
    Found(Box<Persisted>),
    /// Unreadable, corrupt or from another version: why.
    Unusable(String),
}

pub fn read_legacy(path: &Path) -> Legacy {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Legacy::Absent,
        Err(e) => return Legacy::Unusable(format!("unreadable: {e}")),
    };
    match serde_json::from_str::<Persisted>(&text) {
        Ok(p) if p.version == VERSION => Legacy::Found(Box::new(p)),
        Ok(p) => Legacy::Unusable(format!("from another version ({})", p.version)),
        Err(e) => Legacy::Unusable(format!("corrupt: {e}")),
    }
}

/// `Persisted` as JSON (the version set).
pub fn to_json(state: &Persisted) -> serde_json::Result<String> {
    serde_json::to_string(&Persisted {
        version: VERSION,
        ..state.clone()
    })
}

/// `Persisted` from JSON written by [`to_json`].
pub fn from_json(text: &str) -> Result<Persisted, String> {
    match serde_json::from_str::<Persisted>(text) {
        Ok(p) if p.version == VERSION => Ok(p),
        Ok(p) => Err(format!("from another version ({})", p.version)),
        Err(e) => Err(format!("corrupt: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_files_read_as_found_absent_or_unusable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = legacy_path_in(dir.path());
        assert_eq!(read_legacy(&path), Legacy::Absent);
        let mut s = Persisted::default();
        s.last_calls.insert("ns/app".into(), 42);
        s.budget.cluster_used = 3;
        std::fs::write(&path, to_json(&s).expect("json")).expect("write");
        let Legacy::Found(back) = read_legacy(&path) else {
            panic!("not read back")
        };
        assert_eq!(
            (back.last_calls, back.budget.cluster_used),
            (s.last_calls, 3)
        );

        std::fs::write(&path, "{ not json").expect("write");
        assert!(matches!(read_legacy(&path), Legacy::Unusable(r) if r.starts_with("corrupt")));
        std::fs::write(&path, r#"{"version": 7}"#).expect("write");
        assert!(matches!(read_legacy(&path), Legacy::Unusable(r) if r.contains("version")));
        assert!(from_json("[]").is_err());
    }
}
