//! The bug zoo's manifest (`zoo/zoo.json`): per entry, the module, the classes to run (a
//! mutant and its corrected twin, or a negative control), the methods clients call, the
//! bindings and back-end, the citation it is modelled on, and what is expected of it.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Features of dosim an entry may need beyond what `calls` has always had. An entry whose
/// needs are not all in this build is reported as skipped, not as a survivor.
/// `objects`: `run.objects[binding][id]` (every object's storage) in the invariant hook.
pub(super) const FEATURES: &[&str] = &["objects", "horizons"];

/// Every feature name a manifest may ask for. `horizons`: workloads spanning hours, faults
/// (outages, late alarms) over the whole horizon.
pub(super) const KNOWN_FEATURES: &[&str] = &["objects", "horizons"];

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Manifest {
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Entry {
    /// Short, unique, `[a-z0-9-]`.
    pub name: String,
    /// What kind of mistake (interleaving, crash, output-gate, alarm, hibernation, storage-fault,
    /// ambiguous-call, block-concurrency, stale-cache, ...).
    pub category: String,
    /// Path of the module, relative to the manifest's folder.
    pub module: String,
    /// The class with the bug (absent for a negative control).
    #[serde(default)]
    pub mutant: Option<String>,
    /// The corrected twin of the mutant.
    #[serde(default)]
    pub twin: Option<String>,
    /// A class that looks racy but is right (a negative control).
    #[serde(default)]
    pub control: Option<String>,
    /// Method specs, as `--method` takes them.
    pub methods: Vec<String>,
    /// `BINDING=Class` pairs, as `--bind` takes them.
    #[serde(default)]
    pub bind: Vec<String>,
    /// `NAME=value` pairs, as `--env` takes them.
    #[serde(default)]
    pub env: Vec<String>,
    /// `sqlite` or `kv`.
    pub backend: String,
    /// Features beyond today's `calls` the entry needs (see [`FEATURES`]).
    #[serde(default)]
    pub needs: Vec<String>,
    /// Schedulers the mutant is expected to be killed under (empty: any).
    #[serde(default)]
    pub schedulers: Vec<String>,
    /// The public report, fix or documentation page it is modelled on.
    pub citation: String,
    /// What the mistake is, in one or two sentences.
    pub about: String,
    /// Where dosim is known to disagree with workerd on this entry (what the entry expects is
    /// workerd's behaviour): reported, but not counted in the exit status, as `#[ignore]`.
    #[serde(default)]
    pub divergence: Option<String>,
}

/// The role a class plays in its entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Role {
    /// Has the bug: some seed must fail within the budget.
    Mutant,
    /// The mutant corrected: every seed must pass.
    Twin,
    /// Looks racy, is right: every seed must pass.
    Control,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Mutant => "mutant",
            Role::Twin => "twin",
            Role::Control => "control",
        }
    }
}

impl Entry {
    /// The classes to run, with their roles.
    pub fn roles(&self) -> Vec<(Role, &str)> {
        let mut out = Vec::new();
        if let Some(m) = &self.mutant {
            out.push((Role::Mutant, m.as_str()));
        }
        if let Some(t) = &self.twin {
            out.push((Role::Twin, t.as_str()));
        }
        if let Some(c) = &self.control {
            out.push((Role::Control, c.as_str()));
        }
        out
    }

    /// The needs neither this build nor `assumed` provides.
    pub fn missing(&self, assumed: &[String]) -> Vec<&str> {
        self.needs
            .iter()
            .map(String::as_str)
            .filter(|n| !FEATURES.contains(n) && !assumed.iter().any(|a| a == n))
            .collect()
    }

    fn check(&self) -> Result<(), String> {
        let bad = |why: &str| Err(format!("zoo entry {:?}: {why}", self.name));
        if self.name.is_empty() || !self.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return bad("a name is [a-z0-9-]");
        }
        match (&self.mutant, &self.twin, &self.control) {
            (Some(_), Some(_), None) | (None, None, Some(_)) => {}
            _ => return bad("give `mutant` and `twin`, or `control` alone"),
        }
        if self.methods.is_empty() {
            return bad("no methods");
        }
        if self.citation.trim().is_empty() {
            return bad("no citation");
        }
        if let Some(n) = self.needs.iter().find(|n| !KNOWN_FEATURES.contains(&n.as_str())) {
            return bad(&format!("unknown need {n:?}; known: {}", KNOWN_FEATURES.join(", ")));
        }
        Ok(())
    }
}

/// Reads and checks a manifest; module paths come back resolved against its folder.
pub(super) fn load(path: &Path) -> Result<(Manifest, PathBuf), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| format!("{}: line {} column {}: {}", path.display(), e.line(), e.column(), short(&e)))?;
    let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut names = std::collections::BTreeSet::new();
    for e in &manifest.entries {
        e.check()?;
        if !names.insert(e.name.as_str()) {
            return Err(format!("zoo entry {:?} appears twice", e.name));
        }
        let module = folder.join(&e.module);
        if !module.is_file() {
            return Err(format!("zoo entry {:?}: no module {}", e.name, module.display()));
        }
    }
    Ok((manifest, folder))
}

/// serde's message without the location (given separately) or any quoted input.
fn short(e: &serde_json::Error) -> String {
    let text = e.to_string();
    text.split(" at line ").next().unwrap_or(&text).to_owned()
}
