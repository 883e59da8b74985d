# workerd config for tests/workerd_gates.rs: the program of bcw-unawaited.js, in memory.
# The test rebinds the socket `http` to a free loopback port.

using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .gatesWorker)],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
);

const gatesWorker :Workerd.Worker = (
  modules = [(name = "bcw-unawaited.js", esModule = embed "bcw-unawaited.js")],
  compatibilityDate = "2026-11-17",
  durableObjectNamespaces = [
    (className = "Registry", uniqueKey = "dosim-gates-registry", enableSql = true),
    (className = "Bug", uniqueKey = "dosim-gates-bug", enableSql = true),
    (className = "Fixed", uniqueKey = "dosim-gates-fixed", enableSql = true),
  ],
  durableObjectStorage = (inMemory = void),
  bindings = [
    (name = "REGISTRY", durableObjectNamespace = "Registry"),
    (name = "BUG", durableObjectNamespace = "Bug"),
    (name = "FIXED", durableObjectNamespace = "Fixed"),
  ],
);
