//! A test's regression file (`dosim-regressions/TARGET.TEST.json` next to the test
//! crate): every failure the test found, shrunk, with all it needs to run again (seed,
//! gates, fault plan, crash times, draws). `cargo test` replays these cases before any
//! new seed, as proptest does with `proptest-regressions/`.

use super::Case;
use crate::scenarios::regression::Recorded;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One saved failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedCase {
    /// The run (seed, gates, faults, crash times, draws).
    #[serde(flatten)]
    pub case: Case,
    /// What it violated when it was saved.
    pub violation: Recorded,
    /// The command that replays the original, unshrunk seed with its trace.
    pub replay: String,
}

/// The file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressionFile {
    /// dosim version that last wrote it.
    pub dosim_version: String,
    /// The test it belongs to.
    pub test: String,
    /// Its failures, oldest first.
    pub cases: Vec<SavedCase>,
}

impl RegressionFile {
    /// The file at `path`: `Ok(None)` when there is none, an error naming the file when it
    /// cannot be read or is not a dosim regression file.
    pub fn load(path: &Path) -> Result<Option<RegressionFile>, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            format!("{} is not a dosim regression file ({e}); fix it or delete it to start afresh", path.display())
        })
    }

    /// Adds `saved` to the file at `path` (created with its folder if missing) unless the
    /// same case is there already.
    pub fn append(path: &Path, test: &str, saved: SavedCase) -> Result<PathBuf, String> {
        let mut file = RegressionFile::load(path)?.unwrap_or(RegressionFile {
            dosim_version: String::new(),
            test: test.to_owned(),
            cases: Vec::new(),
        });
        file.dosim_version = crate::scenarios::regression::VERSION.to_owned();
        if !file.cases.iter().any(|c| c.case == saved.case) {
            file.cases.push(saved);
        }
        let text = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())? + "\n";
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(path, text)
        };
        write().map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(path.to_path_buf())
    }
}
