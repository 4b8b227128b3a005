//! What survives a restart, so restarting never spends quota again: the cache, each
//! deployment's last call (the rate limiter is rebuilt from them), the day's budget, models
//! found retired, each deployment's memory and the placeholder map. One JSON file in the data
//! dir, written whole to a temporary file and renamed over the old one, mode 0600. It never
//! holds the API key: no type stored here has a field for it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::anonymize::Anonymizer;
use super::budget::Budget;
use super::cache::CachedAdvice;
use super::history::DeploymentMemory;
use crate::model::UnixSeconds;

pub const FILE_NAME: &str = "llm-state.json";
const VERSION: u32 = 1;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Persisted {
    pub version: u32,
    /// Least recently used first.
    pub cache: Vec<(String, CachedAdvice)>,
    pub last_calls: BTreeMap<String, UnixSeconds>,
    pub budget: Budget,
    /// Models the server said are unknown or decommissioned.
    pub retired_models: Vec<String>,
    pub memory: BTreeMap<String, DeploymentMemory>,
    pub anonymizer: Anonymizer,
}

pub fn path_in(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

/// The saved state; a missing file is a fresh start, an unreadable one is set aside (renamed
/// `.corrupt`) with a warning rather than stopping the app.
pub fn load(path: &Path) -> Persisted {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Persisted::default(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "LLM state unreadable; starting afresh");
            return Persisted::default();
        }
    };
    match serde_json::from_str::<Persisted>(&text) {
        Ok(p) if p.version == VERSION => p,
        Ok(p) => {
            tracing::warn!(
                version = p.version,
                "LLM state from another version; starting afresh"
            );
            Persisted::default()
        }
        Err(e) => {
            let aside = path.with_extension("json.corrupt");
            let _ = std::fs::rename(path, &aside);
            tracing::warn!(path = %path.display(), error = %e, "LLM state corrupt; set aside");
            Persisted::default()
        }
    }
}

/// Write `state` atomically: a reader (or a crash) sees the old file or the new one, never half.
pub fn save(path: &Path, state: &Persisted) -> std::io::Result<()> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let mut state_json = serde_json::to_vec_pretty(&Persisted {
        version: VERSION,
        ..state.clone()
    })
    .map_err(std::io::Error::other)?;
    state_json.push(b'\n');
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!(
        "json.tmp.{}.{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(&state_json)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = path_in(dir.path());
        assert_eq!(load(&path), Persisted::default());
        let mut s = Persisted::default();
        s.last_calls.insert("ns/app".into(), 42);
        s.budget.cluster_used = 3;
        s.retired_models.push("old".into());
        save(&path, &s).expect("save");
        let back = load(&path);
        assert_eq!(back.last_calls, s.last_calls);
        assert_eq!(back.budget.cluster_used, 3);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .expect("ls")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp."))
            .collect();
        assert!(leftovers.is_empty());

        std::fs::write(&path, "{ not json").expect("write");
        assert_eq!(load(&path), Persisted::default());
        assert!(path.with_extension("json.corrupt").exists());
    }
}
