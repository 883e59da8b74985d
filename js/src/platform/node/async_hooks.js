// `node:async_hooks`' `AsyncLocalStorage` and `AsyncResource`. QuickJS has no async
// context, and `await` does not go through `Promise.prototype.then`, so the store is
// carried by hand at two levels:
// - inside `run`'s synchronous part, and in `.then` callbacks attached while a store is
//   current (they are wrapped), the store is exact;
// - when `run`'s callback returns a promise (an async function), its store stays the
//   store of the host event (the call, alarm or timer) that ran it until that promise
//   settles, so code after an `await` inside the callback sees it.
// The limit: while such a promise is pending, other code of the same event sees the
// store too after an await (a sibling promise, or a second `run` pending at once: the
// latest pending `run` of the event wins). Separate events (concurrent requests, each a
// call of its own) never see each other's stores. `enterWith` sets the event's store.

const currentTask = globalThis.__dosimCurrentTask;
const ROOT = new Map();
// The exact context while a `run` or a wrapped callback is on the stack, else null.
let current = null;
// Each event's contexts of async `run`s still pending, latest last.
const byTask = new Map();

const pendingOf = (task) => {
  const list = byTask.get(task);
  return list && list.length > 0 ? list[list.length - 1] : null;
};
const active = () => current || pendingOf(currentTask()) || ROOT;

const bind = (fn, context) =>
  typeof fn !== "function"
    ? fn
    : function (...args) {
        const saved = current;
        current = context;
        try {
          return fn.apply(this, args);
        } finally {
          current = saved;
        }
      };

const RealThen = Promise.prototype.then;
let patched = false;
const patchThen = () => {
  if (patched) return;
  patched = true;
  Promise.prototype.then = function (onFulfilled, onRejected) {
    const context = active();
    if (context === ROOT) return RealThen.call(this, onFulfilled, onRejected);
    return RealThen.call(this, bind(onFulfilled, context), bind(onRejected, context));
  };
};

// Runs `callback` with `context`; if it answers a promise, the event keeps the context
// until that promise settles.
const runWith = (context, callback, args) => {
  const saved = current;
  current = context;
  let result;
  try {
    result = callback(...args);
  } finally {
    current = saved;
  }
  if (result !== null && typeof result === "object" && typeof result.then === "function") {
    const task = currentTask();
    if (!byTask.has(task)) byTask.set(task, []);
    byTask.get(task).push(context);
    const settled = () => {
      const list = byTask.get(task);
      const i = list ? list.lastIndexOf(context) : -1;
      if (i >= 0) list.splice(i, 1);
      if (list && list.length === 0) byTask.delete(task);
    };
    RealThen.call(Promise.resolve(result), settled, settled);
  }
  return result;
};

export class AsyncLocalStorage {
  constructor() {
    patchThen();
  }
  getStore() {
    return active().get(this);
  }
  run(store, callback, ...args) {
    const context = new Map(active());
    context.set(this, store);
    return runWith(context, callback, args);
  }
  exit(callback, ...args) {
    const context = new Map(active());
    context.delete(this);
    return runWith(context, callback, args);
  }
  enterWith(store) {
    const context = new Map(active());
    context.set(this, store);
    if (current !== null) current = context;
    const task = currentTask();
    if (!byTask.has(task)) byTask.set(task, []);
    byTask.get(task).push(context);
  }
  disable() {
    this.enterWith(undefined);
  }
  static bind(fn) {
    return bind(fn, active());
  }
  static snapshot() {
    const context = active();
    return (fn, ...args) => bind(fn, context)(...args);
  }
}

export class AsyncResource {
  #context = active();
  constructor(type) {
    this.type = type;
  }
  runInAsyncScope(fn, thisArg, ...args) {
    return bind(fn, this.#context).apply(thisArg, args);
  }
  bind(fn) {
    return bind(fn, this.#context);
  }
  static bind(fn) {
    return bind(fn, active());
  }
}

export default { AsyncLocalStorage, AsyncResource };
