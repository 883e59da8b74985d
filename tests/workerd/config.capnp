# workerd config for dosim's differential conformance runs (`dosim conformance`).
#
# One worker, `main`, with the `Script` Durable Object class (script.js): SQLite-backed,
# on local disk. The runner starts workerd with the same conventions as
# bench/workerd/lib.sh: the socket `http` is rebound to 127.0.0.1 on a port the kernel
# picks (reported on the control descriptor), and the disk service `storage` is pointed
# at a fresh empty temporary folder. The values written here are fallbacks only.

using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .scriptWorker),
    (name = "storage", disk = (path = "/nonexistent-dosim-storage", writable = true)),
  ],
  sockets = [
    (name = "http", address = "127.0.0.1:0", http = (), service = "main"),
  ],
);

const scriptWorker :Workerd.Worker = (
  modules = [
    (name = "script.js", esModule = embed "script.js"),
  ],
  # The build date of workerd 1.20261117.1 (it refuses later dates), dosim's default.
  # `dosim conformance` rewrites this line for other dates and adds the flags.
  compatibilityDate = "2026-11-17",
  durableObjectNamespaces = [
    (className = "Script", uniqueKey = "dosim-conformance-script", enableSql = true),
    (className = "ScriptNoAlarm", uniqueKey = "dosim-conformance-script-no-alarm", enableSql = true),
  ],
  durableObjectStorage = (localDisk = "storage"),
  bindings = [
    (name = "SCRIPT", durableObjectNamespace = "Script"),
    (name = "SCRIPT_NO_ALARM", durableObjectNamespace = "ScriptNoAlarm"),
  ],
);
