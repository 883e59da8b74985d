//! Where a test lives: its package, test target, libtest name and the features it was
//! built with, so that a failure can print the one `cargo test` command that replays it
//! and the regression file can sit next to the test crate.

use std::path::{Path, PathBuf};

/// What `#[dosim::test]` knows about the test at compile time (filled in by the macro).
#[derive(Debug, Clone, Copy)]
pub struct TestSite {
    /// `CARGO_PKG_NAME` of the test's package.
    pub package: &'static str,
    /// `CARGO_CRATE_NAME` of the crate the test is compiled into.
    pub crate_name: &'static str,
    /// `CARGO_BIN_NAME`, for a test inside a binary.
    pub bin: Option<&'static str>,
    /// `CARGO_MANIFEST_DIR`.
    pub manifest_dir: &'static str,
    /// `file!()` of the test.
    pub file: &'static str,
    /// `module_path!()` of the test.
    pub module: &'static str,
    /// The test function's name.
    pub function: &'static str,
    /// Each feature the package declares, and whether this build has it on.
    pub features: &'static [(&'static str, bool)],
    /// Whether this build has the package's `default` feature off.
    pub no_default_features: bool,
}

/// The same, owned, and possibly incomplete (the function form `dosim::check` knows
/// less than the macro does).
#[derive(Debug, Clone, Default)]
pub(crate) struct Site {
    pub(crate) package: Option<String>,
    pub(crate) manifest_dir: Option<PathBuf>,
    /// `--lib`, `--bin NAME`, `--test NAME`, ... (empty when unknown).
    pub(crate) target: Vec<String>,
    /// What the target's crate is called, for file names (`counter` for `tests/counter.rs`).
    pub(crate) target_name: String,
    /// The libtest name (`tests::increments`), when known.
    pub(crate) test: Option<String>,
    /// Features on in this build, when known (`None`: the function form cannot tell).
    pub(crate) features: Option<Vec<String>>,
    pub(crate) no_default_features: bool,
}

impl Site {
    pub(crate) fn from_macro(s: &TestSite) -> Site {
        let dir = PathBuf::from(s.manifest_dir);
        let (target, target_name) = target_of(&dir, s.file, s.bin, s.crate_name, s.package);
        // libtest names a test by its module path inside the crate, without the crate.
        let inner = s.module.split_once("::").map(|(_, rest)| rest);
        let test = match inner {
            Some(m) => format!("{m}::{}", s.function),
            None => s.function.to_owned(),
        };
        Site {
            package: Some(s.package.to_owned()),
            manifest_dir: Some(dir),
            target,
            target_name,
            test: Some(test),
            features: Some(s.features.iter().filter(|(_, on)| *on).map(|(f, _)| (*f).to_owned()).collect()),
            no_default_features: s.no_default_features,
        }
    }

    /// For `dosim::check` called at `file`: the package and its folder from the variables
    /// cargo sets when it runs a test binary, the test's name from libtest's thread name.
    pub(crate) fn from_runtime(file: &str) -> Site {
        let package = std::env::var("CARGO_PKG_NAME").ok();
        let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").ok().map(PathBuf::from);
        let crate_name = package.as_deref().unwrap_or("").replace('-', "_");
        let (target, target_name) = match &manifest_dir {
            Some(dir) => target_of(dir, file, None, &crate_name, package.as_deref().unwrap_or("")),
            None => (Vec::new(), String::new()),
        };
        // libtest runs each test on a thread named after it (unless it runs on the main one).
        let test = std::thread::current().name().filter(|n| *n != "main").map(str::to_owned);
        Site { package, manifest_dir, target, target_name, test, features: None, no_default_features: false }
    }

    /// `DOSIM_SEED=N cargo test -p PACKAGE [--features ...] TARGET -- --exact TEST`.
    pub(crate) fn replay_command(&self, seed: u64) -> String {
        let mut cmd = format!("DOSIM_SEED={seed} cargo test");
        if let Some(p) = &self.package {
            cmd += &format!(" -p {p}");
        }
        if self.no_default_features {
            cmd += " --no-default-features";
        }
        if let Some(f) = self.features.as_ref().filter(|f| !f.is_empty()) {
            cmd += &format!(" --features {}", f.join(","));
        }
        for t in &self.target {
            cmd += &format!(" {t}");
        }
        if let Some(t) = &self.test {
            cmd += &format!(" -- --exact {t}");
        }
        cmd
    }

    /// A note to print under the command when it may be incomplete.
    pub(crate) fn replay_caveat(&self) -> Option<&'static str> {
        self.features.is_none().then_some(
            "(dosim::check cannot see the build's features: add the --features this run was built with; #[dosim::test] adds them itself)",
        )
    }

    /// The test's name for files and messages: `TARGET.TEST` with `::` as `.`.
    pub(crate) fn key(&self) -> String {
        let test = self.test.clone().unwrap_or_else(|| "unnamed".into());
        let key = if self.target_name.is_empty() { test } else { format!("{}::{test}", self.target_name) };
        key.replace("::", ".")
    }

    /// `dosim-regressions/` of the test's package (of the current folder if unknown).
    pub(crate) fn regressions_dir(&self) -> PathBuf {
        self.manifest_dir.clone().unwrap_or_default().join("dosim-regressions")
    }
}

/// The cargo target flags of the crate `file` belongs to, and that crate's short name.
fn target_of(dir: &Path, file: &str, bin: Option<&str>, crate_name: &str, package: &str) -> (Vec<String>, String) {
    let within = relative_to_package(dir, file);
    let parts: Vec<String> = within
        .as_ref()
        .map(|p| p.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    let stem = |s: &str| s.strip_suffix(".rs").unwrap_or(s).to_owned();
    let flag = |kind: &str, name: String| (vec![format!("--{kind}"), name.clone()], name);
    match parts.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["tests", name, ..] => flag("test", stem(name)),
        ["examples", name, ..] => flag("example", stem(name)),
        ["benches", name, ..] => flag("bench", stem(name)),
        ["src", "bin", name, ..] => flag("bin", stem(name)),
        _ => match bin {
            Some(b) => flag("bin", b.to_owned()),
            None if crate_name == package.replace('-', "_") || within.is_some() => (vec!["--lib".into()], "lib".into()),
            // Unknown layout: name no target (cargo then runs the test in every target).
            None => (Vec::new(), crate_name.to_owned()),
        },
    }
}

/// `file` (as `file!()` gives it: relative to the workspace root, or absolute) relative
/// to the package folder `dir`, if it can be placed.
fn relative_to_package(dir: &Path, file: &str) -> Option<PathBuf> {
    let f = Path::new(file);
    if f.is_absolute() {
        return f.strip_prefix(dir).ok().map(Path::to_path_buf);
    }
    // Relative to the workspace root, an ancestor of the package folder.
    dir.ancestors().find_map(|root| {
        let full = root.join(f);
        full.strip_prefix(dir).ok().filter(|_| full.exists()).map(Path::to_path_buf)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(file: &'static str, module: &'static str, features: &'static [(&'static str, bool)]) -> Site {
        Site::from_macro(&TestSite {
            package: "dosim",
            crate_name: "whatever",
            bin: None,
            manifest_dir: env!("CARGO_MANIFEST_DIR"),
            file,
            module,
            function: "finds_it",
            features,
            no_default_features: false,
        })
    }

    #[test]
    fn an_integration_test_replays_with_its_target_features_and_exact_name() {
        let s = site("tests/user_crate.rs", "user_crate", &[("planted-bug", true), ("other", false)]);
        assert_eq!(
            s.replay_command(7),
            "DOSIM_SEED=7 cargo test -p dosim --features planted-bug --test user_crate -- --exact finds_it"
        );
        assert_eq!(s.key(), "user_crate.finds_it");
    }

    #[test]
    fn a_unit_test_names_the_lib_and_its_module_path() {
        let s = site("src/testing/site.rs", "dosim::testing::site::tests", &[]);
        assert_eq!(
            s.replay_command(0),
            "DOSIM_SEED=0 cargo test -p dosim --lib -- --exact testing::site::tests::finds_it"
        );
    }
}
