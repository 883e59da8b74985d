//! Regression files: a failure saved as a small JSON file with everything needed to run
//! it again (scenario, seed, the shrunk workload, gate switches, the violated invariant,
//! the dosim version). Seeds alone rot when code changes; the file carries the workload.

use crate::outcome::{check_workload, Outcome};
use crate::workload::Workload;
use crate::{find, Scenario};
use dosim_sim::{GatePolicy, SimConfig};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The version written into new files.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The invariant a regression violated when it was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    /// Checker name.
    pub checker: String,
    /// Its message then.
    pub message: String,
}

/// A saved failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Regression {
    /// dosim version that wrote it.
    pub dosim_version: String,
    /// Scenario name.
    pub scenario: String,
    /// Seed (madsim's scheduler and the harness's draws).
    pub seed: u64,
    /// Input gate policy of the run.
    #[serde(default)]
    pub input_gate: GatePolicy,
    /// Output gate policy of the run.
    #[serde(default)]
    pub output_gate: GatePolicy,
    /// What failed.
    pub violation: Recorded,
    /// The workload.
    pub workload: Workload,
    /// For the generic workload `calls`: the user's module, class and methods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<crate::user::UserRecord>,
}

/// Why a regression file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadFile(pub String);

impl std::fmt::Display for BadFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Regression {
    /// Records a failing outcome.
    pub fn from_outcome(o: &Outcome) -> Option<Regression> {
        let v = o.violations.first()?;
        Some(Regression {
            dosim_version: VERSION.to_owned(),
            scenario: o.scenario.to_owned(),
            seed: o.config.seed,
            input_gate: o.config.input_gate,
            output_gate: o.config.output_gate,
            violation: Recorded { checker: v.checker.clone(), message: v.message.clone() },
            workload: o.workload.clone(),
            module: (o.scenario == crate::user::GENERIC).then(crate::user::loaded).flatten().map(|u| u.record()),
        })
    }

    /// The scenario it belongs to.
    pub fn scenario(&self) -> Result<&'static dyn Scenario, BadFile> {
        if let Some(record) = &self.module {
            // The module this process loaded already, if it is the same one: no recompiling.
            if let Some(loaded) = crate::user::loaded().filter(|u| u.record() == *record) {
                return Ok(loaded);
            }
            let spec = record.spec().map_err(BadFile)?;
            return crate::user::UserScenario::load(spec).map(|s| s as &'static dyn Scenario).map_err(BadFile);
        }
        find(&self.scenario).ok_or_else(|| BadFile(format!("unknown scenario {:?}", self.scenario)))
    }

    /// The configuration it runs with.
    pub fn config(&self) -> SimConfig {
        SimConfig::new(self.seed).input_gate(self.input_gate).output_gate(self.output_gate)
    }

    /// Runs it again.
    pub fn replay(&self) -> Result<Outcome, BadFile> {
        let s = self.scenario()?;
        Ok(check_workload(s, self.config(), self.workload.clone()))
    }

    /// Parses a file's text, checking that it fits its scenario.
    pub fn parse(text: &str, origin: &str) -> Result<Regression, BadFile> {
        let r: Regression =
            serde_json::from_str(text).map_err(|e| BadFile(format!("{origin} is not a dosim regression file: {e}")))?;
        let s = r.scenario().map_err(|e| BadFile(format!("{origin}: {e}")))?;
        r.workload.validate(s).map_err(|e| BadFile(format!("{origin}: {e}")))?;
        Ok(r)
    }

    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<Regression, BadFile> {
        let text =
            std::fs::read_to_string(path).map_err(|e| BadFile(format!("cannot read {}: {e}", path.display())))?;
        Regression::parse(&text, &path.display().to_string())
    }

    /// The file name it is saved under.
    pub fn file_name(&self) -> String {
        format!("{}-seed-{}.json", self.scenario, self.seed)
    }

    /// Writes it into `dir` (created if missing); returns the path.
    pub fn save(&self, dir: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(self.file_name());
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&path, text + "\n")?;
        Ok(path)
    }
}

/// Every `*.json` file in `dir`, sorted (none if the folder does not exist).
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "json")).collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}
