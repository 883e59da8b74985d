//! Regression files: a failure saved as a small JSON file with everything needed to run
//! it again (scenario, seed, the shrunk workload, gate switches, the violated invariant,
//! the dosim version). Seeds alone rot when code changes; the file carries the workload.
//!
//! A regression file is input from strangers (a pull request, an artifact): reading one
//! runs no code and echoes none of its content when it is refused; a user module it names
//! is resolved against the file's own folder and must be a JS/TS module; a file from a
//! newer dosim is refused unless the caller allows it. Files are written atomically
//! (a temporary file, then a link or rename) under names that do not collide.

use crate::outcome::{check_workload, Outcome};
use crate::user::UserRecord;
use crate::workload::Workload;
use crate::{find, Scenario};
use dosim_sim::{Budgets, Compatibility, GatePolicy, SimConfig};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

fn is_default_budgets(b: &Budgets) -> bool {
    *b == Budgets::default()
}

/// The version written into new files.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The largest file read as a regression file (real ones are a few KiB).
pub const MAX_FILE_BYTES: u64 = 16 << 20;

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
    /// The scheduler the run was given (`swarm`, the default, is not written).
    #[serde(default, skip_serializing_if = "is_swarm")]
    pub scheduler: dosim_sim::Scheduler,
    /// Budgets changed from their defaults (`--limit`), if any.
    #[serde(default, skip_serializing_if = "is_default_budgets")]
    pub budgets: Budgets,
    /// The compatibility date and flags of the run (a file without them was recorded at
    /// the default date, before files carried it).
    #[serde(default)]
    pub compatibility: Compatibility,
    /// What failed.
    pub violation: Recorded,
    /// The workload.
    pub workload: Workload,
    /// For the generic workload `calls`: the user's module, class and methods. In a file
    /// the module path is relative to the file's folder (or absolute); once read, it is
    /// the module's absolute path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<UserRecord>,
}

fn is_swarm(s: &dosim_sim::Scheduler) -> bool {
    *s == dosim_sim::Scheduler::Swarm
}

/// Why a regression file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadFile(pub String);

impl std::fmt::Display for BadFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a serde_json error says, without the content it may quote (`invalid type: string
/// "SECRET"`): where it happened and a generic reason. Only a missing field is named, as
/// that name comes from dosim's own schema.
pub fn describe_json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let reason = match e.classify() {
        Category::Io => "it could not be read".to_owned(),
        Category::Eof => "the JSON ends too early (truncated?)".to_owned(),
        Category::Syntax => "malformed JSON".to_owned(),
        Category::Data => {
            let text = e.to_string();
            match text.strip_prefix("missing field `").and_then(|r| r.split_once('`')) {
                Some((field, _)) => format!("missing field `{field}`"),
                None => "a field is missing or has the wrong type or value".to_owned(),
            }
        }
    };
    if e.line() == 0 {
        reason
    } else {
        format!("{reason} at line {}, column {}", e.line(), e.column())
    }
}

/// A `MAJOR.MINOR.PATCH[-PRE][+BUILD]` version, compared as semver orders them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    numbers: [u64; 3],
    pre: Vec<String>,
}

impl Version {
    /// Parses a semantic version; `None` if it is not one.
    pub fn parse(text: &str) -> Option<Version> {
        let core = text.split_once('+').map_or(text, |(c, _)| c);
        let (core, pre) = match core.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (core, None),
        };
        let mut numbers = [0u64; 3];
        let mut parts = core.split('.');
        for n in &mut numbers {
            let part = parts.next()?;
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            *n = part.parse().ok()?;
        }
        if parts.next().is_some() {
            return None;
        }
        let pre: Vec<String> = match pre {
            None => Vec::new(),
            Some(p) => p.split('.').map(str::to_owned).collect(),
        };
        let ident = |i: &String| !i.is_empty() && i.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !pre.iter().all(ident) {
            return None;
        }
        Some(Version { numbers, pre })
    }

    /// `MAJOR.MINOR.PATCH`, without the pre-release and build parts (which a file may
    /// fill with anything, so they are never echoed).
    pub fn numbers(&self) -> String {
        let [a, b, c] = self.numbers;
        format!("{a}.{b}.{c}")
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.numbers.cmp(&other.numbers).then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
            // A pre-release comes before its release.
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => {
                for (a, b) in self.pre.iter().zip(&other.pre) {
                    let o = match (a.parse::<u64>(), b.parse::<u64>()) {
                        (Ok(x), Ok(y)) => x.cmp(&y),
                        (Ok(_), Err(_)) => Ordering::Less,
                        (Err(_), Ok(_)) => Ordering::Greater,
                        (Err(_), Err(_)) => a.cmp(b),
                    };
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                self.pre.len().cmp(&other.pre.len())
            }
        })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Whether `name` is a JavaScript identifier (what a class name must be).
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// `text` with every character outside `[A-Za-z0-9._-]` replaced by `_`.
pub fn sanitize(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect()
}

/// `path` relative to the folder `base` (both absolute), or `path` itself when they share
/// no root.
fn relative_to(path: &Path, base: &Path) -> PathBuf {
    let (p, b): (Vec<Component>, Vec<Component>) = (path.components().collect(), base.components().collect());
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return path.to_owned();
    }
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &p[common..] {
        out.push(c.as_os_str());
    }
    out
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
            scheduler: o.config.scheduler,
            budgets: o.config.budgets.clone(),
            compatibility: o.config.compatibility.clone(),
            violation: Recorded { checker: v.checker.clone(), message: v.message.clone() },
            workload: o.workload.clone(),
            module: (o.scenario == crate::user::GENERIC).then(crate::user::loaded).flatten().map(|u| u.record()),
        })
    }

    /// The scenario it belongs to. For a user module this compiles the module and runs its
    /// top level: call it only once the caller has said so (see [`Regression::read`]).
    pub fn scenario(&self) -> Result<&'static dyn Scenario, BadFile> {
        if let Some(record) = &self.module {
            // The module this process loaded already, if it is the same one: no recompiling.
            if let Some(loaded) = crate::user::loaded().filter(|u| u.record().same_as(record)) {
                return Ok(loaded);
            }
            let spec = record.spec().map_err(BadFile)?;
            return crate::user::UserScenario::load(spec).map(|s| s as &'static dyn Scenario).map_err(BadFile);
        }
        find(&self.scenario).ok_or_else(|| BadFile("unknown scenario (see `dosim list`)".into()))
    }

    /// The configuration it runs with.
    pub fn config(&self) -> SimConfig {
        SimConfig::new(self.seed)
            .input_gate(self.input_gate)
            .output_gate(self.output_gate)
            .budgets(self.budgets.clone())
            .compatibility(self.compatibility.clone())
            .scheduler(self.scheduler)
    }

    /// Runs it again.
    pub fn replay(&self) -> Result<Outcome, BadFile> {
        let s = self.scenario()?;
        Ok(check_workload(s, self.config(), self.workload.clone()))
    }

    /// Parses a file's text without running anything: the JSON, the version (refused if
    /// newer than this dosim unless `allow_newer`), the scenario name, the workload's
    /// bounds, and for a user module its path (resolved against `base`, the file's folder)
    /// and class name. No error quotes the text.
    pub fn parse_untrusted(text: &str, origin: &str, base: &Path, allow_newer: bool) -> Result<Regression, BadFile> {
        let bad = |why: String| BadFile(format!("{origin}: {why}"));
        let not_ours = |e: serde_json::Error| {
            BadFile(format!("{origin} is not a dosim regression file: {}", describe_json_error(&e)))
        };
        // The version first, so a newer file whose format changed is called newer, not corrupt.
        let loose: serde_json::Value = serde_json::from_str(text).map_err(not_ours)?;
        let version = loose
            .get("dosim_version")
            .and_then(|v| v.as_str())
            .ok_or_else(|| BadFile(format!("{origin} is not a dosim regression file: no dosim_version string")))?;
        let version = Version::parse(version)
            .ok_or_else(|| bad("its dosim_version is not a version number (MAJOR.MINOR.PATCH): refused".into()))?;
        let ours = Version::parse(VERSION).expect("dosim's own version is semver");
        if version > ours && !allow_newer {
            return Err(bad(format!(
                "written by dosim {}, newer than this dosim ({VERSION}): refused; replay it with that version, \
                 or pass --allow-newer",
                version.numbers()
            )));
        }
        let mut r: Regression = serde_json::from_str(text).map_err(not_ours)?;
        match &mut r.module {
            None if r.scenario == crate::user::GENERIC => {
                return Err(bad("a `calls` regression needs its module record".into()))
            }
            None if find(&r.scenario).is_none() => return Err(bad("unknown scenario (see `dosim list`)".into())),
            None => {}
            Some(_) if r.scenario != crate::user::GENERIC => {
                return Err(bad("only the scenario `calls` records a module".into()))
            }
            Some(record) => {
                let path = Path::new(&record.module);
                let path = if path.is_absolute() { path.to_owned() } else { base.join(path) };
                if !crate::user::is_module_path(&path) {
                    return Err(bad("its module is not a .ts, .mts, .js or .mjs file: refused".into()));
                }
                let path = std::fs::canonicalize(&path)
                    .ok()
                    .filter(|p| p.is_file())
                    .ok_or_else(|| bad("the module it names (relative to the file's folder) does not exist".into()))?;
                record.module = path.display().to_string();
                // Responders' modules, like the object's, are relative to the file's folder.
                for r in &mut record.responders {
                    let mut spec = crate::network::ResponderSpec::parse(r).map_err(bad)?;
                    let file = if spec.module.is_absolute() { spec.module.clone() } else { base.join(&spec.module) };
                    if !crate::user::is_module_path(&file) {
                        return Err(bad("a responder's module is not a .ts, .mts, .js or .mjs file: refused".into()));
                    }
                    spec.module = std::fs::canonicalize(&file).ok().filter(|p| p.is_file()).ok_or_else(|| {
                        bad("a responder's module (relative to the file's folder) does not exist".into())
                    })?;
                    *r = spec.text();
                }
                if let Some(project) = &record.project {
                    let path = Path::new(project);
                    let path = if path.is_absolute() { path.to_owned() } else { base.join(path) };
                    let named = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    if !crate::project::CONFIG_NAMES.contains(&named) && !named.ends_with(".jsonc") {
                        return Err(bad("its project is not a wrangler config file: refused".into()));
                    }
                    let path = std::fs::canonicalize(&path).ok().filter(|p| p.is_file()).ok_or_else(|| {
                        bad("the project config it names (relative to the file's folder) does not exist".into())
                    })?;
                    record.project = Some(path.display().to_string());
                }
                let bound = record.bindings.iter().flat_map(|b| match b.split_once('=') {
                    Some((binding, class)) => [binding, class],
                    None => [b.as_str(), ""],
                });
                if !std::iter::once(record.class.as_str()).chain(bound).all(is_identifier) {
                    return Err(bad("a class name it records is not a JavaScript identifier".into()));
                }
                record.spec().map_err(|_| {
                    bad("its module record (methods, backend, bindings or env values) is malformed".into())
                })?;
            }
        }
        r.workload.check_bounds().map_err(bad)?;
        r.compatibility
            .check()
            .map_err(|_| bad("its compatibility date or flags are malformed (a date YYYY-MM-DD no later than dosim's, flag names [a-z0-9_], no flag with its opposite)".into()))?;
        Ok(r)
    }

    /// Reads a file without running anything (see [`Regression::parse_untrusted`]); a
    /// relative module path is resolved against the file's folder.
    pub fn read(path: &Path, allow_newer: bool) -> Result<Regression, BadFile> {
        let cannot = |e: std::io::Error| BadFile(format!("cannot read {}: {e}", path.display()));
        let file = std::fs::File::open(path).map_err(cannot)?;
        let mut bytes = Vec::new();
        file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(cannot)?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(BadFile(format!(
                "{} is larger than {} MiB: not a regression file",
                path.display(),
                MAX_FILE_BYTES >> 20
            )));
        }
        let text = String::from_utf8(bytes)
            .map_err(|_| BadFile(format!("{} is not a dosim regression file: not UTF-8 text", path.display())))?;
        let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        Regression::parse_untrusted(&text, &path.display().to_string(), base, allow_newer)
    }

    /// Loads the scenario (for a user module: compiles it and runs its top level) and
    /// checks that every call of the workload fits it.
    pub fn check(&self, origin: &str) -> Result<&'static dyn Scenario, BadFile> {
        let s = self.scenario().map_err(|e| BadFile(format!("{origin}: {e}")))?;
        self.workload.validate(s).map_err(|e| BadFile(format!("{origin}: {e}")))?;
        Ok(s)
    }

    /// Reads a file, loads its scenario and checks the workload fits it; refuses a file
    /// from a newer dosim.
    pub fn load(path: &Path) -> Result<Regression, BadFile> {
        let r = Regression::read(path, false)?;
        r.check(&path.display().to_string())?;
        Ok(r)
    }

    /// The file name it is saved under: the scenario, for a user module its file stem and
    /// class, the gate switches that are off, and the seed; only `[A-Za-z0-9._-]`.
    pub fn file_name(&self) -> String {
        let mut parts = vec![self.scenario.clone()];
        if let Some(m) = &self.module {
            let stem = Path::new(&m.module).file_stem().map(|s| s.to_string_lossy().into_owned());
            parts.push(stem.unwrap_or_else(|| "module".into()));
            parts.push(m.class.clone());
        }
        if self.input_gate == GatePolicy::Disabled {
            parts.push("input-gate-off".into());
        }
        if self.output_gate == GatePolicy::Disabled {
            parts.push("output-gate-off".into());
        }
        format!("{}-seed-{}.json", sanitize(&parts.join("-")), self.seed)
    }

    /// The file's text when saved into the folder `dir` (absolute): a module path is
    /// written relative to `dir`.
    fn text_for(&self, dir: &Path) -> std::io::Result<String> {
        let mut r = self.clone();
        if let Some(m) = &mut r.module {
            if let Ok(abs) = std::fs::canonicalize(&m.module) {
                m.module = relative_to(&abs, dir).display().to_string();
            }
            for r in &mut m.responders {
                if let Ok(mut spec) = crate::network::ResponderSpec::parse(r) {
                    if let Ok(abs) = std::fs::canonicalize(&spec.module) {
                        spec.module = relative_to(&abs, dir);
                        *r = spec.text();
                    }
                }
            }
            if let Some(Ok(abs)) = m.project.as_ref().map(std::fs::canonicalize) {
                m.project = Some(relative_to(&abs, dir).display().to_string());
            }
        }
        serde_json::to_string_pretty(&r).map(|t| t + "\n").map_err(std::io::Error::other)
    }

    /// Writes it into `dir` (created if missing); returns the path. The text goes to a
    /// temporary file first and is linked into place only once complete, so a killed
    /// write leaves no partial file. If a different failure already has the name, the
    /// file gets `-2`, `-3`, ... rather than overwriting it; the same text is not saved twice.
    pub fn save(&self, dir: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let abs_dir = std::fs::canonicalize(dir)?;
        let text = self.text_for(&abs_dir)?;
        let name = self.file_name();
        let tmp = write_temporary(dir, &name, &text)?;
        let result = place(&tmp, dir, &name, &text);
        let _ = std::fs::remove_file(&tmp);
        if result.is_ok() {
            // Make the new directory entry durable too (best effort).
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        result
    }
}

/// A fresh hidden file in `dir` holding `text`, flushed to disk.
fn write_temporary(dir: &Path, name: &str, text: &str) -> std::io::Result<PathBuf> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    loop {
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(mut f) => {
                let written = f.write_all(text.as_bytes()).and_then(|()| f.sync_all());
                if let Err(e) = written {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(e);
                }
                return Ok(tmp);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Puts the complete temporary file `tmp` in place under `name` (or `name` with a
/// numbered suffix when another text holds it), never replacing a different file.
fn place(tmp: &Path, dir: &Path, name: &str, text: &str) -> std::io::Result<PathBuf> {
    let stem = name.strip_suffix(".json").unwrap_or(name);
    for n in 1u32.. {
        let path = if n == 1 { dir.join(name) } else { dir.join(format!("{stem}-{n}.json")) };
        // A hard link never replaces an existing file, and is atomic.
        match std::fs::hard_link(tmp, &path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if std::fs::read_to_string(&path).is_ok_and(|t| t == text) {
                    return Ok(path);
                }
            }
            // A file system without hard links: rename, which is atomic but would replace
            // a file created meanwhile by someone else.
            Err(_) if !path.exists() => {
                std::fs::rename(tmp, &path)?;
                return Ok(path);
            }
            Err(e) => return Err(e),
        }
    }
    unreachable!("u32 suffixes run out")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_semver() {
        let v = |t: &str| Version::parse(t).unwrap();
        assert!(v("0.10.0") > v("0.9.9"));
        assert!(v("1.0.0") > v("0.99.99"));
        assert!(v("0.1.0") > v("0.1.0-alpha"));
        assert!(v("0.1.0-alpha.2") < v("0.1.0-alpha.10"));
        assert!(v("0.1.0-alpha") < v("0.1.0-beta"));
        assert_eq!(v("0.1.0+build.5"), v("0.1.0"));
        for bad in ["", "1", "1.2", "1.2.x", "1.2.3.4", "v1.2.3", "1.2.3-", "1..3", "99999999999999999999.0.0"] {
            assert!(Version::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn relative_paths_between_folders() {
        assert_eq!(relative_to(Path::new("/a/b/m.ts"), Path::new("/a/c/d")), PathBuf::from("../../b/m.ts"));
        assert_eq!(relative_to(Path::new("/a/m.ts"), Path::new("/a")), PathBuf::from("m.ts"));
    }

    #[test]
    fn names_are_sanitized() {
        assert_eq!(sanitize("calls-my seats/ü-X"), "calls-my_seats__-X");
    }
}
