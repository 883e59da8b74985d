//! `dosim merge`: the `dosim fuzz --json` outputs of the shards of one campaign (the
//! jobs of a CI matrix, say) merged into one summary: total runs, failures per scenario,
//! every failing run with its replay command, the sometimes table summed, the states no
//! shard reached, and nondeterminism found by any shard.

use super::summary::{self, FirstFailure, ScenarioCounts, SummaryLine};
use super::{usage, EXIT_OK};
use crate::scenarios::regression::{describe_json_error, VERSION};
use clap::Args;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub(super) struct MergeArgs {
    /// The output of `dosim fuzz --json` of each shard.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// JSON lines: every failing run of every shard, then the merged summary.
    #[arg(long)]
    json: bool,
}

/// The fields of a failing run's line that the merge needs.
#[derive(Deserialize)]
struct FailingLine {
    scenario: String,
    seed: u64,
    #[serde(default)]
    violations: Vec<String>,
    replay: String,
}

struct Failing {
    line: FailingLine,
    /// The line as the shard wrote it (kept for --json only).
    raw: Option<serde_json::Value>,
}

/// One shard's output.
struct Output {
    summary: SummaryLine,
    failing: Vec<Failing>,
    /// Shard `K` of `M`.
    shard: (u64, u64),
}

/// Reads one shard's output; errors name the file and line, never quote its content.
fn read_output(path: &Path, keep_raw: bool) -> Result<Output, String> {
    let name = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {name}: {e}"))?;
    let (mut summary, mut failing) = (None::<SummaryLine>, Vec::new());
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let n = n + 1;
        let line = line.map_err(|e| format!("cannot read {name} (line {n}): {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        if summary.is_some() {
            return Err(format!("{name} line {n}: a line after the summary: not one output of `dosim fuzz --json`"));
        }
        let value: serde_json::Value = serde_json::from_str(&line)
            .map_err(|e| format!("{name} line {n} is not JSON: {}", describe_json_error(&e)))?;
        if value.get("summary").and_then(serde_json::Value::as_bool) == Some(true) {
            let s: SummaryLine = serde_json::from_value(value).map_err(|e| {
                format!("{name} line {n} is not a summary of this dosim's `fuzz --json`: {}", describe_json_error(&e))
            })?;
            summary = Some(s);
        } else {
            let line: FailingLine = serde_json::from_value(value.clone()).map_err(|e| {
                format!("{name} line {n} is not a failing run of `dosim fuzz --json`: {}", describe_json_error(&e))
            })?;
            failing.push(Failing { line, raw: keep_raw.then_some(value) });
        }
    }
    let summary = summary.ok_or_else(|| {
        format!("{name} has no summary line: not the complete output of `dosim fuzz --json` (was the run killed?)")
    })?;
    let shard = summary
        .shard
        .split_once('/')
        .and_then(|(k, m)| Some((k.parse::<u64>().ok()?, m.parse::<u64>().ok()?)))
        .filter(|&(k, m)| k >= 1 && k <= m)
        .ok_or_else(|| format!("{name}: its summary names no shard K/M (a merged output cannot be merged again)"))?;
    // A file cut short or spliced from two runs lists other failures than it counts.
    for c in &summary.scenarios {
        let listed = failing.iter().filter(|f| f.line.scenario == c.scenario).count() as u64;
        if listed != c.failures {
            return Err(format!(
                "{name}: lists {listed} failing runs of scenario {} but its summary counts {}",
                c.scenario, c.failures
            ));
        }
    }
    if let Some(f) = failing.iter().find(|f| !summary.scenarios.iter().any(|c| c.scenario == f.line.scenario)) {
        return Err(format!("{name}: a failing run of a scenario its summary does not count (seed {})", f.line.seed));
    }
    Ok(Output { summary, failing, shard })
}

pub(super) fn merge(a: &MergeArgs) -> i32 {
    let mut outputs = Vec::new();
    for path in &a.files {
        match read_output(path, a.json) {
            Ok(o) => outputs.push(o),
            Err(e) => return usage(e),
        }
    }
    let (count, base_seed, single) = (outputs[0].shard.1, outputs[0].summary.base_seed, outputs[0].summary.single);
    let mut seen = BTreeSet::new();
    for (o, path) in outputs.iter().zip(&a.files) {
        let name = path.display();
        if o.shard.1 != count {
            return usage(format!("{name} is shard {}/{}, the first file a shard of {count}", o.shard.0, o.shard.1));
        }
        if o.summary.base_seed != base_seed || o.summary.single != single {
            return usage(format!("{name} is from another campaign (base seed or scenario choice differ)"));
        }
        if !seen.insert(o.shard.0) {
            return usage(format!("{name}: shard {}/{count} is given twice", o.shard.0));
        }
    }
    let missing: Vec<String> = (1..=count).filter(|k| !seen.contains(k)).map(|k| format!("{k}/{count}")).collect();
    let versions: BTreeSet<&str> = outputs.iter().map(|o| o.summary.dosim_version.as_str()).collect();
    if versions.len() > 1 {
        eprintln!("warning: the shards were run by different dosim versions; their counts may not add up");
    }
    if !missing.is_empty() {
        eprintln!("warning: missing shards {}: the merged summary covers the others only", missing.join(", "));
    }
    // Scenarios in the order the files first name them.
    let mut scenarios: Vec<ScenarioCounts> = Vec::new();
    let mut sometimes: BTreeMap<String, u64> = BTreeMap::new();
    let mut never: Option<Vec<String>> = None;
    let (mut nondeterministic, mut errors, mut saved, mut wall) = (Vec::new(), Vec::new(), Vec::new(), 0.0);
    for o in &outputs {
        for c in &o.summary.scenarios {
            match scenarios.iter_mut().find(|m| m.scenario == c.scenario) {
                Some(m) if m.expect != c.expect => {
                    return usage(format!("the shards disagree on what scenario {} is expected to do", c.scenario))
                }
                Some(m) => {
                    m.runs += c.runs;
                    m.failures += c.failures;
                    // The shards ran side by side: the first failure came after the fewest
                    // seconds; its run count is within its own shard.
                    if c.first_failure_s.is_some_and(|s| m.first_failure_s.is_none_or(|t| s < t)) {
                        (m.first_failure_run, m.first_failure_s) = (c.first_failure_run, c.first_failure_s);
                    }
                }
                None => scenarios.push(c.clone()),
            }
        }
        for (k, v) in &o.summary.sometimes {
            *sometimes.entry(k.clone()).or_default() += v;
        }
        // Never reached anywhere: in every shard's list.
        never = Some(match never {
            None => o.summary.never_reached.clone(),
            Some(n) => n.into_iter().filter(|p| o.summary.never_reached.contains(p)).collect(),
        });
        nondeterministic.extend(o.summary.nondeterministic.iter().cloned());
        errors.extend(o.summary.errors.iter().cloned());
        saved.extend(o.summary.saved.iter().cloned());
        wall += o.summary.wall_s;
    }
    let interrupted = outputs.iter().any(|o| o.summary.interrupted);
    for c in &mut scenarios {
        c.unexpected = summary::unexpected(c.expect, c.failures, single);
    }
    let mut failing: Vec<Failing> = outputs.into_iter().flat_map(|o| o.failing).collect();
    let order = |name: &str| scenarios.iter().position(|c| c.scenario == name);
    failing.sort_by_key(|f| (order(&f.line.scenario), f.line.seed));
    let shards: Vec<String> = seen.iter().map(|k| format!("{k}/{count}")).collect();
    let merged = SummaryLine {
        summary: true,
        dosim_version: VERSION.to_owned(),
        shard: shards.join(","),
        base_seed,
        single,
        interrupted,
        runs: scenarios.iter().map(|c| c.runs).sum(),
        failures: scenarios.iter().map(|c| c.failures).sum(),
        scenarios,
        sometimes,
        never_reached: never.unwrap_or_default(),
        nondeterministic,
        errors,
        saved,
        wall_s: wall,
    };
    if a.json {
        for f in &failing {
            if let Some(raw) = &f.raw {
                println!("{raw}");
            }
        }
        let mut j = serde_json::to_value(&merged).expect("a summary is JSON");
        j["merged_files"] = a.files.len().into();
        j["missing_shards"] = missing.clone().into();
        println!("{j}");
    } else {
        println!(
            "merged {} shards of {count} ({}): {} runs, {:.2} s of the shards' wall time",
            seen.len(),
            shards.join(", "),
            merged.runs,
            merged.wall_s
        );
        if !missing.is_empty() {
            println!("missing shards: {}", missing.join(", "));
        }
        if interrupted {
            println!("some shards were interrupted: their counts cover the runs they finished");
        }
        let firsts: Vec<Option<FirstFailure>> = merged
            .scenarios
            .iter()
            .map(|c| {
                let mut of = failing.iter().filter(|f| f.line.scenario == c.scenario);
                of.next().map(|f| FirstFailure {
                    seed: f.line.seed,
                    violation: f.line.violations.first().cloned(),
                    replay: f.line.replay.clone(),
                    more: of.count() as u64,
                })
            })
            .collect();
        summary::print_tables(&merged, &firsts);
    }
    // A shard stopped by a signal spent less than its budget: a known defect it did not
    // find is no surprise, as in `dosim fuzz`.
    summary::status(&merged, EXIT_OK)
}
