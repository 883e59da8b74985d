# workerd config for the counter benchmark (bench/workerd/run.sh).
#
# Conventions shared with lib.sh (workerd_start overrides both on the command line):
#   - the socket named "http" is rebound to 127.0.0.1 on a free port (-s http=127.0.0.1:0);
#   - the disk service named "storage" is pointed at a fresh temporary directory
#     (-d storage=DIR), so every run starts from empty SQLite databases.
# The values written here are only fallbacks, both on loopback.

using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .counterWorker),
    (name = "storage", disk = (path = "/nonexistent-dosim-storage", writable = true)),
  ],
  sockets = [
    (name = "http", address = "127.0.0.1:0", http = (), service = "main"),
  ],
);

const counterWorker :Workerd.Worker = (
  modules = [
    (name = "counter.js", esModule = embed "counter.js"),
  ],
  # The build date of workerd 1.20261117.1; it refuses dates later than its build.
  compatibilityDate = "2026-11-17",
  durableObjectNamespaces = [
    # enableSql: the SQLite storage API; with localDisk, workerd stores every object in SQLite.
    (className = "Counter", uniqueKey = "dosim-bench-counter", enableSql = true),
  ],
  durableObjectStorage = (localDisk = "storage"),
  bindings = [
    (name = "COUNTER", durableObjectNamespace = "Counter"),
  ],
);
