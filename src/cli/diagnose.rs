//! "What went wrong" in a fuzz run beyond the verdicts: methods whose every call failed
//! with an error of the language or the runtime (a `ReferenceError`, `TypeError`, ...,
//! not the object's own `throw new Error`), and alarms abandoned after their retries, each
//! with the first error text. A class that "passes" because nothing it does ever works is
//! said so.

use crate::sim::RunReport;
use std::collections::BTreeMap;

/// Error classes that come from the language or the runtime rather than the object's
/// own `throw new Error(...)`.
const LANGUAGE_ERRORS: [&str; 6] =
    ["ReferenceError", "TypeError", "SyntaxError", "RangeError", "URIError", "EvalError"];

/// One method's calls over the runs.
#[derive(Debug, Default, Clone)]
struct MethodCalls {
    /// Calls that returned or threw (not those whose fate the caller cannot know).
    answered: u64,
    /// Of those, the ones that threw a language or runtime error.
    language_errors: u64,
    /// The first such error: its class and message.
    first: Option<(String, String)>,
}

/// What went wrong, summed over runs of one scenario.
#[derive(Debug, Default, Clone)]
pub(super) struct Diagnosis {
    /// By object binding and method (`OBJECT` `book`).
    methods: BTreeMap<(String, String), MethodCalls>,
    /// Runs in which an alarm was abandoned after its retries.
    abandoned_runs: u64,
    /// The first abandoned alarm's object and last error.
    first_abandoned: Option<(String, String)>,
}

impl Diagnosis {
    /// What one run shows.
    pub(super) fn of(report: &RunReport) -> Diagnosis {
        let mut d = Diagnosis::default();
        for op in &report.history {
            let Some(method) = op.request.get("method").and_then(|m| m.as_str()) else { continue };
            let binding = op.object.split(':').next().unwrap_or("").to_owned();
            let calls = d.methods.entry((binding, method.to_owned())).or_default();
            match &op.completion {
                crate::sim::Completion::Ok { .. } => calls.answered += 1,
                crate::sim::Completion::Fail { error } => {
                    calls.answered += 1;
                    if let Some(class) = error.js_class.as_deref().filter(|c| LANGUAGE_ERRORS.contains(c)) {
                        calls.language_errors += 1;
                        calls.first.get_or_insert_with(|| (class.to_owned(), error.message.clone()));
                    }
                }
                _ => {}
            }
        }
        // An alarm is abandoned when its last counted retry fails too.
        let last_failure = report
            .alarms
            .iter()
            .rev()
            .find(|a| a.retry_count >= crate::sim::alarm::MAX_RETRIES && a.outcome.starts_with("failed"));
        if let Some(a) = last_failure {
            d.abandoned_runs = 1;
            let error = a.outcome.strip_prefix("failed: ").unwrap_or(&a.outcome).to_owned();
            d.first_abandoned = Some((a.object.clone(), error));
        }
        d
    }

    /// Adds a later run's diagnosis (the first texts stay).
    pub(super) fn add(&mut self, other: Diagnosis) {
        for (key, calls) in other.methods {
            let mine = self.methods.entry(key).or_default();
            mine.answered += calls.answered;
            mine.language_errors += calls.language_errors;
            if mine.first.is_none() {
                mine.first = calls.first;
            }
        }
        self.abandoned_runs += other.abandoned_runs;
        if self.first_abandoned.is_none() {
            self.first_abandoned = other.first_abandoned;
        }
    }

    /// The lines to print under the scenario's row (empty when nothing went wrong).
    pub(super) fn lines(&self, runs: u64) -> Vec<String> {
        let mut out = Vec::new();
        let always: Vec<_> =
            self.methods.iter().filter(|(_, c)| c.answered > 0 && c.language_errors == c.answered).collect();
        for ((binding, method), calls) in &always {
            let (class, message) = calls.first.clone().unwrap_or_default();
            out.push(format!(
                "what went wrong: {binding}.{method}: all {} answered calls threw a {class}; first: {message}",
                calls.answered
            ));
        }
        let bindings: std::collections::BTreeSet<&String> = self.methods.keys().map(|(b, _)| b).collect();
        for binding in bindings {
            let of_binding: Vec<_> = self.methods.iter().filter(|((b, _), _)| b == binding).collect();
            let answered: u64 = of_binding.iter().map(|(_, c)| c.answered).sum();
            let all_reference = answered > 0
                && of_binding.iter().all(|(_, c)| {
                    c.language_errors == c.answered
                        && c.first.as_ref().is_none_or(|(class, _)| class == "ReferenceError")
                });
            if all_reference {
                out.push(format!(
                    "WARNING: every call to {binding} died with a ReferenceError: the code uses a name that is not \
                     defined (an API dosim lacks, or a typo); the runs test nothing else"
                ));
            }
        }
        if let Some((object, error)) = &self.first_abandoned {
            out.push(format!(
                "what went wrong: an alarm was abandoned after its retries in {} of {runs} runs; first: {object}: {error}",
                self.abandoned_runs
            ));
        }
        out
    }
}
