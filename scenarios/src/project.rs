//! A Worker project as the unit dosim runs: its wrangler config (`wrangler.json`,
//! `wrangler.jsonc` or `wrangler.toml`) names the entry module, the Durable Object
//! bindings and classes, each class's storage back-end (from `migrations`), `vars`, and
//! the compatibility date and flags. Missing npm dependencies are installed with `npm ci`.
//! A `dosim.jsonc` (or `dosim.json`) beside the config says the project's default workload.

use dosim_sim::Backend;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The config file names wrangler looks for, in its order.
pub const CONFIG_NAMES: [&str; 3] = ["wrangler.json", "wrangler.jsonc", "wrangler.toml"];

/// The names of dosim's own file beside the wrangler config, in the order looked for.
pub const WORKLOAD_NAMES: [&str; 2] = ["dosim.json", "dosim.jsonc"];

/// A project's default workload, from its `dosim.jsonc`: what `dosim fuzz` runs without
/// flags. Each key is the command-line flag of the same meaning; the command line wins.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// The binding clients call (`--object`).
    pub object: Option<String>,
    /// Method specs (`--method`).
    #[serde(default)]
    pub methods: Vec<String>,
    /// Request specs (`--request`).
    #[serde(default)]
    pub requests: Vec<String>,
    /// The path WebSocket clients connect on (`--websocket`).
    pub websocket: Option<String>,
    /// What they send (`--send`).
    #[serde(default)]
    pub sends: Vec<String>,
    /// Responders by host: `{ "HOST": "FILE[#EXPORT]" }` (`--responder`), files relative
    /// to the project's folder.
    #[serde(default)]
    pub responders: BTreeMap<String, String>,
    /// The file it came from, if any (for messages).
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

impl Workload {
    /// The workload file in `folder`, read; the default when there is none.
    pub fn load(folder: &Path) -> Result<Workload, String> {
        let Some(path) = WORKLOAD_NAMES.iter().map(|n| folder.join(n)).find(|p| p.is_file()) else {
            return Ok(Workload::default());
        };
        let mut text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        json_strip_comments::strip(&mut text)
            .map_err(|e| format!("{}: not JSON with comments: {e}", path.display()))?;
        let mut workload: Workload =
            serde_json::from_str(&text).map_err(|e| format!("{}: not a dosim workload: {e}", path.display()))?;
        for file in workload.responders.values_mut() {
            let (module, export) = match file.split_once('#') {
                Some((m, e)) => (m, format!("#{e}")),
                None => (file.as_str(), String::new()),
            };
            *file = format!("{}{export}", folder.join(module).display());
        }
        workload.source = Some(path);
        Ok(workload)
    }

    /// The responders as `--responder` writes them: `HOST=FILE[#EXPORT]`.
    pub fn responder_flags(&self) -> Vec<String> {
        self.responders.iter().map(|(host, file)| format!("{host}={file}")).collect()
    }
}

/// A Durable Object binding: `env.NAME` reaches instances of `class`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectBinding {
    pub name: String,
    pub class: String,
}

/// What dosim takes from a wrangler config.
#[derive(Debug, Clone)]
pub struct Project {
    /// The config file (absolute).
    pub config: PathBuf,
    /// The entry module (absolute).
    pub main: PathBuf,
    /// Durable Object bindings, in the config's order.
    pub bindings: Vec<ObjectBinding>,
    /// Each class's back-end, from `migrations` (`new_sqlite_classes`: SQLite,
    /// `new_classes`: KV); a class no migration names runs on SQLite.
    pub backends: BTreeMap<String, Backend>,
    /// Plain `env` values.
    pub vars: Vec<(String, Value)>,
    pub compatibility_date: Option<String>,
    pub compatibility_flags: Vec<String>,
}

#[derive(Deserialize)]
struct Config {
    main: Option<String>,
    #[serde(default)]
    durable_objects: DurableObjects,
    #[serde(default)]
    migrations: Vec<Migration>,
    #[serde(default)]
    vars: serde_json::Map<String, Value>,
    compatibility_date: Option<String>,
    #[serde(default)]
    compatibility_flags: Vec<String>,
}

#[derive(Deserialize, Default)]
struct DurableObjects {
    #[serde(default)]
    bindings: Vec<BindingEntry>,
}

#[derive(Deserialize)]
struct BindingEntry {
    name: String,
    class_name: String,
    /// A class of another Worker: dosim runs one Worker, so such a binding is refused.
    script_name: Option<String>,
}

#[derive(Deserialize)]
struct Migration {
    #[serde(default)]
    new_classes: Vec<String>,
    #[serde(default)]
    new_sqlite_classes: Vec<String>,
    #[serde(default)]
    renamed_classes: Vec<Rename>,
    #[serde(default)]
    deleted_classes: Vec<String>,
}

#[derive(Deserialize)]
struct Rename {
    from: String,
    to: String,
}

/// The wrangler config in `folder`, if there is one.
pub fn find_config(folder: &Path) -> Option<PathBuf> {
    CONFIG_NAMES.iter().map(|n| folder.join(n)).find(|p| p.is_file())
}

impl Project {
    /// Reads the config at `path`. Every problem is a message naming the file.
    pub fn load(path: &Path) -> Result<Project, String> {
        let config = std::fs::canonicalize(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let folder = config.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut text = std::fs::read_to_string(&config).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let at = |e: String| format!("{}: {e}", path.display());
        let parsed: Config = if config.extension().is_some_and(|e| e == "toml") {
            toml::from_str(&text).map_err(|e| at(format!("not a wrangler config: {}", e.message())))?
        } else {
            json_strip_comments::strip(&mut text).map_err(|e| at(format!("not JSON with comments: {e}")))?;
            serde_json::from_str(&text).map_err(|e| at(format!("not a wrangler config: {e}")))?
        };
        let main = parsed.main.ok_or_else(|| at("it names no entry module (`main`)".into()))?;
        let main = folder.join(main);
        if !main.is_file() {
            return Err(at(format!("its entry module {} does not exist", main.display())));
        }
        let mut bindings = Vec::new();
        for b in parsed.durable_objects.bindings {
            if let Some(script) = b.script_name {
                return Err(at(format!(
                    "binding {} names class {} of another Worker ({script}): dosim runs the classes of one Worker",
                    b.name, b.class_name
                )));
            }
            bindings.push(ObjectBinding { name: b.name, class: b.class_name });
        }
        let mut backends = BTreeMap::new();
        for m in parsed.migrations {
            backends.extend(m.new_classes.into_iter().map(|c| (c, Backend::Kv)));
            backends.extend(m.new_sqlite_classes.into_iter().map(|c| (c, Backend::Sqlite)));
            for r in m.renamed_classes {
                if let Some(b) = backends.remove(&r.from) {
                    backends.insert(r.to, b);
                }
            }
            for c in m.deleted_classes {
                backends.remove(&c);
            }
        }
        Ok(Project {
            config,
            main,
            bindings,
            backends,
            vars: parsed.vars.into_iter().collect(),
            compatibility_date: parsed.compatibility_date,
            compatibility_flags: parsed.compatibility_flags,
        })
    }

    /// The project's folder (the config's).
    pub fn folder(&self) -> &Path {
        self.config.parent().unwrap_or(Path::new("."))
    }

    /// The back-end class `class` runs on.
    pub fn backend_of(&self, class: &str) -> Backend {
        self.backends.get(class).copied().unwrap_or(Backend::Sqlite)
    }

    /// Installs the npm dependencies when `package.json` declares some and `node_modules`
    /// is missing (a fresh checkout): `npm ci` from the lockfile, saying so on stderr.
    pub fn install_dependencies(&self) -> Result<(), String> {
        let folder = self.folder();
        let manifest = folder.join("package.json");
        let Ok(text) = std::fs::read_to_string(&manifest) else { return Ok(()) };
        let package: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", manifest.display()))?;
        let declares = ["dependencies", "devDependencies"]
            .iter()
            .any(|k| package.get(k).and_then(Value::as_object).is_some_and(|d| !d.is_empty()));
        if !declares || folder.join("node_modules").is_dir() {
            return Ok(());
        }
        if !folder.join("package-lock.json").is_file() {
            return Err(format!(
                "{} declares npm dependencies but has no node_modules and no package-lock.json: run `npm install` there first",
                folder.display()
            ));
        }
        eprintln!("note: {} has no node_modules: running `npm ci` there (from package-lock.json)", folder.display());
        let status = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
            .current_dir(folder)
            .stdout(std::process::Stdio::null())
            .status()
            .map_err(|e| {
                format!(
                    "cannot run npm to install {}'s dependencies ({e}): install Node.js, or run `npm ci` there",
                    folder.display()
                )
            })?;
        if !status.success() {
            return Err(format!("`npm ci` failed in {} ({status})", folder.display()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("dosim-project-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (name, text) in files {
            let f = dir.join(name);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, text).unwrap();
        }
        dir
    }

    #[test]
    fn a_jsonc_config_gives_bindings_backends_and_vars() {
        let dir = scratch(
            "jsonc",
            &[
                ("src/index.ts", "export default {};\n"),
                (
                    "wrangler.jsonc",
                    r#"{
  // comments and trailing commas, as wrangler allows
  "name": "app", "main": "src/index.ts", "compatibility_date": "2025-04-01",
  "compatibility_flags": ["nodejs_compat"],
  "durable_objects": { "bindings": [
    { "name": "ROOMS", "class_name": "Room" },
    { "name": "LOG", "class_name": "OldLog" },
  ] },
  "migrations": [
    { "tag": "v1", "new_classes": ["Log"] },
    { "tag": "v2", "new_sqlite_classes": ["Room"], "renamed_classes": [{ "from": "Log", "to": "OldLog" }] },
  ],
  "vars": { "GREETING": "hi", "LIMIT": 3 },
}"#,
                ),
            ],
        );
        let p = Project::load(&find_config(&dir).unwrap()).unwrap();
        assert_eq!(p.main, std::fs::canonicalize(dir.join("src/index.ts")).unwrap());
        let names: Vec<_> = p.bindings.iter().map(|b| (b.name.as_str(), b.class.as_str())).collect();
        assert_eq!(names, [("ROOMS", "Room"), ("LOG", "OldLog")]);
        assert_eq!(p.backend_of("Room"), Backend::Sqlite);
        assert_eq!(p.backend_of("OldLog"), Backend::Kv);
        assert_eq!(p.vars, vec![("GREETING".into(), Value::from("hi")), ("LIMIT".into(), Value::from(3))]);
        assert_eq!(p.compatibility_date.as_deref(), Some("2025-04-01"));
        assert_eq!(p.compatibility_flags, ["nodejs_compat"]);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_toml_config_reads_the_same() {
        let dir = scratch(
            "toml",
            &[
                ("index.js", "export default {};\n"),
                (
                    "wrangler.toml",
                    "main = \"index.js\"\n[[durable_objects.bindings]]\nname = \"C\"\nclass_name = \"Counter\"\n\
                     [[migrations]]\ntag = \"v1\"\nnew_classes = [\"Counter\"]\n[vars]\nMODE = \"test\"\n",
                ),
            ],
        );
        let p = Project::load(&find_config(&dir).unwrap()).unwrap();
        assert_eq!(p.bindings, vec![ObjectBinding { name: "C".into(), class: "Counter".into() }]);
        assert_eq!(p.backend_of("Counter"), Backend::Kv);
        assert_eq!(p.vars, vec![("MODE".into(), Value::from("test"))]);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_workload_file_gives_the_default_workload() {
        let dir = scratch("workload", &[("dosim.jsonc", "{ // flags' names\n \"methods\": [\"sell\"], \"websocket\": \"/live\", \"sends\": [\"hi\"],\n \"responders\": { \"pay.example\": \"src/pay.ts#Pay\", \"log.example\": \"log.ts\" }, }")]);
        let w = Workload::load(&dir).unwrap();
        assert_eq!(w.methods, ["sell"]);
        assert_eq!(w.websocket.as_deref(), Some("/live"));
        assert_eq!(w.sends, ["hi"]);
        assert_eq!(
            w.responder_flags(),
            [
                format!("log.example={}", dir.join("log.ts").display()),
                format!("pay.example={}#Pay", dir.join("src/pay.ts").display())
            ]
        );
        std::fs::write(dir.join("dosim.jsonc"), r#"{ "method": ["sell"] }"#).unwrap();
        let e = Workload::load(&dir).unwrap_err();
        assert!(e.contains("dosim.jsonc") && e.contains("method"), "{e}");
        std::fs::remove_file(dir.join("dosim.jsonc")).unwrap();
        assert_eq!(Workload::load(&dir).unwrap(), Workload::default());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn bad_configs_are_messages() {
        let dir = scratch("bad", &[("wrangler.json", r#"{ "name": "x" }"#)]);
        let e = Project::load(&dir.join("wrangler.json")).unwrap_err();
        assert!(e.contains("no entry module"), "{e}");
        std::fs::write(dir.join("wrangler.json"), r#"{ "main": "missing.ts" }"#).unwrap();
        let e = Project::load(&dir.join("wrangler.json")).unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
        std::fs::write(dir.join("wrangler.json"), "{ nope").unwrap();
        let e = Project::load(&dir.join("wrangler.json")).unwrap_err();
        assert!(e.contains("wrangler.json"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
