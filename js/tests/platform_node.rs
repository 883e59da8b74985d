//! The `node:*` built-ins and the rest of `cloudflare:workers` as an object imports them.

mod common;
use common::{call_all, call_all_seeded, run_one};
use serde_json::json;

#[test]
fn node_assert_passes_and_fails_as_node_does() {
    let v = run_one(
        r#"import assert, { AssertionError, deepStrictEqual } from "node:assert";
    import strict from "node:assert/strict";
    const failure = (f) => { try { f(); return "passed"; } catch (e) { return [e.name, e instanceof AssertionError, e.code]; } };
    export class T extends DurableObject { async run() {
      const out = [];
      assert(true); assert.ok(1); assert.equal(1, 1); assert.strictEqual(NaN, NaN); assert.notEqual(1, "1");
      deepStrictEqual({ a: [1, new Map([[1, { b: 2 }]])], d: new Date(5) }, { a: [1, new Map([[1, { b: 2 }]])], d: new Date(5) });
      assert.deepEqual({ a: 1 }, { a: 1 });
      assert.throws(() => { throw new TypeError("bad thing"); }, TypeError);
      assert.throws(() => { throw new TypeError("bad thing"); }, /bad/);
      assert.throws(() => { throw new TypeError("bad thing"); }, { name: "TypeError", message: "bad thing" });
      await assert.rejects(Promise.reject(new RangeError("r")), RangeError);
      await assert.doesNotReject(async () => 1);
      assert.match("abc", /b/);
      out.push(failure(() => assert.strictEqual(1, 2)));
      out.push(failure(() => assert.ok(0)));
      out.push(failure(() => strict.equal(1, "1")));
      out.push(failure(() => assert.deepStrictEqual({ a: 1 }, { a: "1" })));
      out.push(failure(() => assert.deepStrictEqual([1, 2], [1, 2, 3])));
      out.push(failure(() => assert.throws(() => {})));
      out.push(failure(() => assert.throws(() => { throw new Error("x"); }, TypeError)));
      out.push(await assert.rejects(Promise.resolve(1)).then(() => "passed", (e) => e.name));
      out.push(failure(() => assert.fail("custom")), failure(() => assert.notStrictEqual(1, 1)));
      try { assert.strictEqual(1, 2, "my message"); } catch (e) { out.push(e.message, e.actual, e.expected, e.operator); }
      // workerd's node:assert is strict in equal and deepEqual too (measured on workerd).
      out.push(failure(() => assert.equal(1, "1")), failure(() => assert.deepEqual([1], ["1"])));
      try { assert.ok(0); } catch (e) { out.push(e.message); }
      try { assert.deepEqual([1], ["1"]); } catch (e) { out.push(e.message); }
      return out;
    } }"#,
    );
    let failed = json!(["AssertionError", true, "ERR_ASSERTION"]);
    assert_eq!(
        v,
        json!([
            failed,
            failed,
            failed,
            failed,
            failed,
            failed,
            failed,
            "AssertionError",
            failed,
            failed,
            "my message",
            1,
            2,
            "strictEqual",
            failed,
            failed,
            "0 == true",
            "Expected values to be strictly deep-equal:\n+ actual - expected\n\n+ [ 1 ]\n- [ '1' ]"
        ])
    );
}

#[test]
fn node_buffer_encodes_and_compares() {
    let v = run_one(
        r#"import { Buffer as B } from "node:buffer";
    export class T extends DurableObject { run() {
      const b = Buffer.from("héllo", "utf8");
      const out = [B === Buffer, b.length, Buffer.byteLength("héllo"), b.toString("hex"), b.toString("base64"),
        Buffer.from("aGk=", "base64").toString(), Buffer.from("6869", "hex").toString(), Buffer.from([104, 105]).toString("latin1"),
        Buffer.concat([Buffer.from("a"), Buffer.from("bc")]).toString(), Buffer.alloc(3, 1).toJSON(), Buffer.alloc(4, "ab").toString(),
        b.equals(Buffer.from("héllo")), Buffer.compare(Buffer.from("a"), Buffer.from("b")), Buffer.isBuffer(b), Buffer.isBuffer(new Uint8Array(1)),
        b.slice(1, 3).toString("hex"), b.indexOf("l"), b.includes("lo"), Buffer.from("-_8", "base64url").toString("base64"),
        Buffer.from("hi").toString("base64url"), Buffer.from("hé", "utf16le").toString("utf16le"), b instanceof Uint8Array];
      const n = Buffer.alloc(8);
      n.writeUInt32BE(0xdeadbeef, 0);
      n.writeInt16LE(-2, 4);
      out.push(n.readUInt32BE(0), n.readInt16LE(4), n.readUInt8(0), n.toString("hex"));
      const shared = Buffer.from("abc");
      shared.subarray(1)[0] = 120;
      out.push(shared.toString());
      return out;
    } }"#,
    );
    assert_eq!(
        v,
        json!([
            true, 6, 6, "68c3a96c6c6f", "aMOpbGxv", "hi", "hi", "hi", "abc", {"type": "Buffer", "data": [1, 1, 1]}, "abab",
            true, -1, true, false, "c3a9", 3, true, "+/8=", "aGk", "hé", true,
            3735928559u32, -2, 222, "deadbeeffeff0000", "axc"
        ])
    );
}

#[test]
fn node_events_util_process_and_timers() {
    let v = call_all(
        r#"import { EventEmitter, once } from "node:events";
    import EE from "events";
    import util, { inspect, format, promisify, types } from "node:util";
    import process from "node:process";
    import { setTimeout as sleep } from "node:timers/promises";
    export class T extends DurableObject {
      async run() {
        const e = new EventEmitter();
        const seen = [];
        e.on("x", (a, b) => seen.push(["on", a, b]));
        e.once("x", () => seen.push("once"));
        e.prependListener("x", () => seen.push("first"));
        const r1 = e.emit("x", 1, 2);
        e.emit("x", 3);
        const r2 = e.emit("nothing");
        let err = null;
        try { e.emit("error", new Error("unhandled")); } catch (x) { err = x.message; }
        const waited = once(e, "later");
        e.emit("later", 42);
        const promised = promisify((a, cb) => cb(null, a * 2));
        const order = [];
        process.nextTick(() => order.push("tick"));
        order.push("sync");
        await null;
        return [seen, r1, r2, err, await waited, e.listenerCount("x"), EE === EventEmitter,
          inspect({ a: [1, "s"], m: new Map([[1, 2]]) }), format("%s=%d %j", "n", 5, { k: 1 }), await promised(21),
          types.isPromise(Promise.resolve()), types.isUint8Array(new Uint8Array()), util.isDeepStrictEqual({ a: 1 }, { a: 1 }),
          order, typeof process.env, new util.TextEncoder().encode("a").length];
      }
      async timers() {
        const t0 = Date.now();
        const v = await sleep(30, "woke");
        return [v, Date.now() - t0];
      }
    }"#,
        &["run", "timers"],
    );
    assert_eq!(
        v[0],
        json!([
            ["first", ["on", 1, 2], "once", "first", ["on", 3, {"$js": "undefined"}]],
            true,
            false,
            "unhandled",
            [42],
            2,
            true,
            "{ a: [ 1, 's' ], m: Map(1) { 1 => 2 } }",
            "n=5 {\"k\":1}",
            42,
            true,
            true,
            true,
            ["sync", "tick"],
            "object",
            1
        ])
    );
    assert_eq!(v[1], json!(["woke", 30]));
}

const HASHES: &str = r#"import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual, randomInt } from "node:crypto";
export class T extends DurableObject { run() {
  return [createHash("sha256").update("a").update("bc").digest("hex"), createHash("md5").update("abc").digest("base64"),
    createHash("sha1").update(Buffer.from("abc")).digest().length,
    createHmac("sha256", "Jefe").update("what do ya want for nothing?").digest("hex"),
    timingSafeEqual(Buffer.from("ab"), Buffer.from("ab")), randomBytes(8).toString("hex"), randomUUID(), randomInt(10)];
} }"#;

#[test]
fn node_crypto_hashes_known_answers_and_draws_from_the_seed() {
    let a = call_all_seeded(HASHES, &["run"], 11).remove(0);
    let b = call_all_seeded(HASHES, &["run"], 11).remove(0);
    let c = call_all_seeded(HASHES, &["run"], 12).remove(0);
    assert_eq!(a, b, "the same seed draws the same bytes");
    assert_ne!(a[5], c[5], "another seed draws other bytes");
    assert_eq!(a[0], json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    assert_eq!(a[1], json!("kAFQmDzST7DWlj99KOF/cg=="));
    assert_eq!(a[2], json!(20));
    assert_eq!(a[3], json!("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
    assert_eq!(a[4], json!(true));
    assert_eq!(a[5].as_str().map(str::len), Some(16));
}

#[test]
fn async_local_storage_follows_each_event_through_awaits() {
    let v = call_all(
        r#"import { AsyncLocalStorage } from "node:async_hooks";
    const als = new AsyncLocalStorage();
    export class T extends DurableObject {
      async handle(id, ms) {
        return als.run({ id }, async () => {
          const seen = [als.getStore().id];
          await new Promise((r) => setTimeout(r, ms));
          seen.push(als.getStore()?.id);
          await this.ctx.storage.put("k" + id, id);
          seen.push(als.getStore()?.id);
          await Promise.resolve().then(() => seen.push(als.getStore()?.id));
          return seen;
        });
      }
      async run() {
        // Two interleaved runs in one event each see their own store after awaits.
        const [a, b] = await Promise.all([this.handle("a", 20), this.handle("b", 10)]);
        return [a, b, als.getStore() ?? "none", als.run(7, () => als.getStore())];
      }
    }"#,
        &["run"],
    );
    // b's run ends (at 10 ms) before a's resumes (at 20 ms), so each sees its own store.
    assert_eq!(v[0], json!([["a", "a", "a", "a"], ["b", "b", "b", "b"], "none", 7]));
}

#[test]
fn async_local_storage_limit_runs_pending_at_once_in_one_event_share_the_latest() {
    // The documented approximation: after an await, the latest async run still pending in
    // the event wins, for its sibling runs and for other code of the event alike; once all
    // settle, the event has no store again.
    let v = call_all(
        r#"import { AsyncLocalStorage } from "node:async_hooks";
    const als = new AsyncLocalStorage();
    export class T extends DurableObject {
      async h(id) {
        return als.run(id, async () => {
          const seen = [als.getStore()];
          await this.ctx.storage.get("x");
          seen.push(als.getStore());
          return seen;
        });
      }
      async run() {
        const sibling = (async () => { await null; await null; return als.getStore() ?? "none"; })();
        const r = await Promise.all([this.h("a"), this.h("b"), sibling]);
        return [r, als.getStore() ?? "none"];
      }
    }"#,
        &["run"],
    );
    assert_eq!(v[0], json!([[["a", "b"], ["b", "b"], "b"], "none"]));
}

#[test]
fn async_local_storage_keeps_separate_events_apart() {
    use dosim_js::{register, JsCall, JsClass, JsProgram};
    use dosim_sim::{run, Backend, FaultPolicy, SimConfig};
    let source = r#"import { AsyncLocalStorage } from "node:async_hooks";
    const als = new AsyncLocalStorage();
    export class T extends DurableObject {
      async handle(id, ms) {
        return als.run({ id }, async () => {
          const seen = [als.getStore().id];
          await new Promise((r) => setTimeout(r, ms));
          seen.push(als.getStore()?.id);
          await this.ctx.storage.get("x");
          seen.push(als.getStore()?.id);
          return seen;
        });
      }
      after() { return als.getStore() ?? "none"; }
    }"#;
    let program = JsProgram::from_source("t.js", source).unwrap();
    let report = run(SimConfig::new(4).faults(FaultPolicy::Off), move |world| async move {
        let ns = register(&world, "T", Backend::Sqlite, JsClass::new(program, "T"));
        let stub = ns.get(&ns.id_from_name("t"));
        let (c0, c1) = (world.client(0), world.client(1));
        let (s0, s1) = (stub.clone(), stub.clone());
        let a = world.spawn(async move { c0.call(&s0, JsCall::new("handle", vec![json!("a"), json!(30)])).await });
        let b = world.spawn(async move { c1.call(&s1, JsCall::new("handle", vec![json!("b"), json!(10)])).await });
        let _ = a.await;
        let _ = b.await;
        let _ = world.client(0).call(&stub, JsCall::new("after", vec![])).await;
    });
    let values: Vec<_> = report.history.iter().map(|o| o.ok_value().cloned()).collect();
    assert!(values.contains(&Some(json!(["a", "a", "a"]))), "{values:?}\n{}", report.trace_text());
    assert!(values.contains(&Some(json!(["b", "b", "b"]))), "{values:?}");
    assert!(values.contains(&Some(json!("none"))), "{values:?}");
}

#[test]
fn cloudflare_workers_exports_what_real_code_imports() {
    let v = run_one(
        r#"import { DurableObject, WorkerEntrypoint, RpcTarget, WorkflowEntrypoint, env, waitUntil } from "cloudflare:workers";
    import workers from "cloudflare:workers";
    class Counter extends RpcTarget { constructor() { super(); this.n = 0; } inc() { return ++this.n; } }
    class Flow extends WorkflowEntrypoint {}
    export class T extends DurableObject { run() {
      const c = new Counter();
      c.inc();
      let flow = null;
      try { new Flow(); } catch (e) { flow = e.message; }
      waitUntil(Promise.resolve());
      return [c.inc(), c instanceof RpcTarget, flow, typeof env, workers.DurableObject === DurableObject,
        Object.getPrototypeOf(WorkerEntrypoint.prototype) === DurableObject.prototype, this instanceof DurableObject];
    } }"#,
    );
    assert_eq!(v, json!([2, true, "dosim does not simulate WorkflowEntrypoint", "object", true, true, true]));
}

#[test]
fn an_rpc_target_sent_to_another_object_is_a_clear_data_clone_error() {
    use dosim_js::{register, JsCall, JsClass, JsProgram};
    use dosim_sim::{run, Backend, Completion, FaultPolicy, SimConfig};
    let source = r#"import { RpcTarget } from "cloudflare:workers";
    class Counter extends RpcTarget { inc() { return 1; } }
    export class T extends DurableObject {
      give() { return new Counter(); }
      async send() { return this.env.T.get(this.env.T.idFromName("other")).take(new Counter()).catch((e) => [e.name, e.message]); }
      take(c) { return typeof c.inc; }
    }"#;
    let program = JsProgram::from_source("t.js", source).unwrap();
    let report = run(SimConfig::new(1).faults(FaultPolicy::Off), move |world| async move {
        let ns = register(&world, "T", Backend::Sqlite, JsClass::new(program, "T"));
        let stub = ns.get(&ns.id_from_name("t"));
        let _ = world.client(0).call(&stub, JsCall::new("give", vec![])).await;
        let _ = world.client(0).call(&stub, JsCall::new("send", vec![])).await;
    });
    match &report.history[0].completion {
        Completion::Fail { error } => assert!(error.message.contains("RpcTarget by reference"), "{}", error.message),
        other => panic!("an RpcTarget cannot leave by copy: {other:?}"),
    }
    let sent = report.history[1].ok_value().cloned().unwrap_or_default();
    assert_eq!(sent[0], json!("DataCloneError"), "{sent}");
}

#[test]
fn an_unknown_built_in_is_a_clear_load_error() {
    let e = dosim_js::JsProgram::from_source("t.js", "import fs from \"node:fs\"; export class T {}").unwrap_err();
    assert!(e.contains("node:fs"), "{e}");
}

#[test]
fn modules_loaded_from_files_import_built_ins_with_or_without_the_prefix() {
    use dosim_js::{register, JsCall, JsClass, JsProgram};
    use dosim_sim::{run, Backend, FaultPolicy, SimConfig};
    let dir = std::env::temp_dir().join(format!("dosim-platform-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("helper.ts"),
        "import { Buffer } from \"buffer\";\nexport const hex = (s: string): string => Buffer.from(s).toString(\"hex\");\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("main.ts"),
        "import { DurableObject } from \"cloudflare:workers\";\nimport { EventEmitter } from \"node:events\";\n\
         import { hex } from \"./helper\";\nexport class T extends DurableObject {\n  async run() {\n    \
         const { createHash } = await import(\"node:crypto\");\n    \
         return [hex(\"hi\"), typeof EventEmitter, createHash(\"md5\").update(\"\").digest(\"hex\")];\n  }\n}\n",
    )
    .unwrap();
    let program = JsProgram::load(&dir.join("main.ts"));
    std::fs::remove_dir_all(&dir).unwrap();
    let program = program.unwrap();
    let report = run(SimConfig::new(1).faults(FaultPolicy::Off), move |world| async move {
        let ns = register(&world, "T", Backend::Sqlite, JsClass::new(program, "T"));
        let _ = world.client(0).call(&ns.get(&ns.id_from_name("t")), JsCall::new("run", vec![])).await;
    });
    assert_eq!(report.history[0].ok_value(), Some(&json!(["6869", "function", "d41d8cd98f00b204e9800998ecf8427e"])));
}
