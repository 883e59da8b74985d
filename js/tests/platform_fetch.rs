//! Bodies as an object sees them: Blob and File, FormData, streams, and fetch's Headers,
//! Request and Response (Response.json/redirect, clone, bodyUsed, stream bodies, and a
//! Response that crosses to another object).

mod common;
use common::{call_all, run_one};
use dosim_js::{register, JsCall, JsClass, JsProgram};
use dosim_sim::{run, Backend, Completion, FaultPolicy, SimConfig};
use serde_json::json;

#[test]
fn blobs_and_files_hold_bytes_with_a_type() {
    let v = run_one(
        r#"export class T extends DurableObject { async run() {
      const b = new Blob(["héllo ", new Uint8Array([119, 111]), new Blob(["rld"])], { type: "Text/Plain" });
      const f = new File([b], "a.txt", { type: "text/plain" });
      const reader = b.slice(1, 4).stream().getReader();
      const first = await reader.read();
      return [b.size, b.type, await b.text(), await b.slice(-3).text(), await b.slice(0, 1, "x/y").type,
        [...new Uint8Array(await b.arrayBuffer())].length, f.name, f.size, f instanceof Blob, f.lastModified === Date.now(),
        [...first.value], (await reader.read()).done, Object.prototype.toString.call(f)];
    } }"#,
    );
    assert_eq!(
        v,
        json!([
            12,
            "text/plain",
            "héllo world",
            "rld",
            "x/y",
            12,
            "a.txt",
            12,
            true,
            true,
            [195, 169, 108],
            true,
            "[object File]"
        ])
    );
}

#[test]
fn form_data_round_trips_through_multipart_and_urlencoded_bodies() {
    let v = run_one(
        r#"export class T extends DurableObject { async run() {
      const form = new FormData();
      form.append("name", "Ada");
      form.append("tag", "a");
      form.append("tag", "b");
      form.append("file", new Blob(["bytes"], { type: "application/x-thing" }), "f.bin");
      form.set("name", "Grace");
      const req = new Request("https://x.example/upload", { method: "POST", body: form });
      const type = req.headers.get("content-type");
      const back = await req.formData();
      const file = back.get("file");
      const urlencoded = await new Response("a=1&b=x+y").formData().catch((e) => e.name);
      const encoded = new Response(new URLSearchParams({ a: "1", b: "x y" }));
      const parsed = await encoded.formData();
      return [type.startsWith("multipart/form-data; boundary="), back.get("name"), back.getAll("tag"), file.name, file.type,
        await file.text(), [...back.keys()], urlencoded, encoded.headers.get("content-type"), parsed.get("b"), form.has("nope")];
    } }"#,
    );
    assert_eq!(
        v,
        json!([
            true,
            "Grace",
            ["a", "b"],
            "f.bin",
            "application/x-thing",
            "bytes",
            ["name", "tag", "tag", "file"],
            "TypeError",
            "application/x-www-form-urlencoded;charset=UTF-8",
            "x y",
            false
        ])
    );
}

#[test]
fn streams_read_write_transform_and_pipe() {
    let v = run_one(
        r#"export class T extends DurableObject { async run() {
      let n = 0;
      const counted = new ReadableStream({ pull(c) { n < 3 ? c.enqueue(n++) : c.close(); } });
      const seen = [];
      for await (const x of counted) seen.push(x);
      const upper = new TransformStream({ transform(chunk, c) { c.enqueue(String(chunk).toUpperCase()); }, flush(c) { c.enqueue("!"); } });
      const piped = ReadableStream.from(["a", "b"]).pipeThrough(upper);
      const out = [];
      const reader = piped.getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read()) out.push(r.value);
      const written = [];
      const ws = new WritableStream({ write(chunk) { written.push(chunk); }, close() { written.push("closed"); } });
      const w = ws.getWriter();
      await w.write(1);
      await w.write(2);
      await w.close();
      const [left, right] = ReadableStream.from([1, 2]).tee();
      const l = []; for await (const x of left) l.push(x);
      const r2 = []; for await (const x of right) r2.push(x);
      const failing = new ReadableStream({ start(c) { c.error(new TypeError("boom")); } });
      const err = await failing.getReader().read().catch((e) => e.message);
      const locked = new ReadableStream();
      locked.getReader();
      let lockErr = null;
      try { locked.getReader(); } catch (e) { lockErr = e.name; }
      const text = ReadableStream.from([new Uint8Array([0xE2, 0x82]), new Uint8Array([0xAC, 0x41])]).pipeThrough(new TextDecoderStream());
      const t = []; for await (const x of text) t.push(x);
      return [seen, out, written, l, r2, err, lockErr, locked.locked, t.join("")];
    } }"#,
    );
    assert_eq!(
        v,
        json!([[0, 1, 2], ["A", "B", "!"], [1, 2, "closed"], [1, 2], [1, 2], "boom", "TypeError", true, "€A"])
    );
}

#[test]
fn headers_validate_combine_and_sort_as_the_fetch_standard_says() {
    let v = run_one(
        r#"export class T extends DurableObject { run() {
      const h = new Headers({ "X-B": " two ", "x-a": "1" });
      h.append("X-A", "2");
      h.append("Set-Cookie", "a=1");
      h.append("Set-Cookie", "b=2");
      const bad = [];
      try { h.set("bad name", "x"); } catch (e) { bad.push(e.name); }
      try { h.set("x", "a\nb"); } catch (e) { bad.push(e.name); }
      const copy = new Headers(h);
      copy.delete("x-b");
      return [h.get("x-a"), h.get("X-B"), h.has("x-b"), [...h], h.getSetCookie(), bad, [...copy.keys()], h.get("none"),
        JSON.stringify(Object.fromEntries(new Headers([["k", "v"]])))];
    } }"#,
    );
    assert_eq!(
        v,
        json!([
            "1, 2",
            "two",
            true,
            [["set-cookie", "a=1"], ["set-cookie", "b=2"], ["x-a", "1, 2"], ["x-b", "two"]],
            ["a=1", "b=2"],
            ["TypeError", "TypeError"],
            ["set-cookie", "set-cookie", "x-a"],
            null,
            "{\"k\":\"v\"}"
        ])
    );
}

#[test]
fn requests_and_responses_read_their_bodies_once() {
    let v = run_one(
        r#"export class T extends DurableObject { async run() {
      const j = Response.json({ a: 1 }, { status: 201, headers: { "x-y": "z" } });
      const r = Response.redirect("https://example.com/next", 301);
      const out = [j.status, j.ok, j.headers.get("content-type"), j.headers.get("x-y"), await j.json(), j.bodyUsed];
      out.push(await j.text().catch((e) => e.name));
      out.push(r.status, r.headers.get("location"), r.body);
      out.push((() => { try { Response.redirect("/x", 200); } catch (e) { return e.name; } })());
      out.push((() => { try { new Response("x", { status: 204 }); } catch (e) { return e.name; } })());
      out.push((() => { try { new Response(null, { status: 99 }); } catch (e) { return e.name; } })());
      out.push((() => { try { new Request("https://a/", { body: "x" }); } catch (e) { return e.name; } })());
      out.push((() => { try { new Request("/relative"); } catch (e) { return e.name; } })());
      const req = new Request("https://a.example/p?q=1", { method: "post", body: "hello", headers: { "x-k": "v" } });
      const copy = req.clone();
      out.push(req.method, req.url, req.headers.get("content-type"), await req.text(), await copy.text(), req.bodyUsed);
      const stream = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode("str")); c.enqueue(new TextEncoder().encode("eam")); c.close(); } });
      const s = new Response(stream);
      const s2 = s.clone();
      out.push(await s.text(), await s2.arrayBuffer().then((b) => b.byteLength), s.body instanceof ReadableStream);
      const bytes = new Response(new Uint8Array([1, 2, 3]));
      out.push([...(await bytes.bytes())], (await new Response(new Blob(["b"], { type: "t/x" })).blob()).type);
      out.push(Response.error().type, Response.error().status, new Response().body, await new Response().text());
      return out;
    } }"#,
    );
    assert_eq!(
        v,
        json!([
            201,
            true,
            "application/json",
            "z",
            {"a": 1},
            true,
            "TypeError",
            301,
            "https://example.com/next",
            null,
            "RangeError",
            "TypeError",
            "RangeError",
            "TypeError",
            "TypeError",
            "POST",
            "https://a.example/p?q=1",
            "text/plain;charset=UTF-8",
            "hello",
            "hello",
            true,
            "stream",
            6,
            true,
            [1, 2, 3],
            "t/x",
            "error",
            0,
            null,
            ""
        ])
    );
}

const RELAY: &str = r#"
export class Echo extends DurableObject {
  async fetch(request) {
    const url = new URL(request.url);
    const body = await request.text();
    return Response.json({ path: url.pathname, q: url.searchParams.get("q"), method: request.method, body, h: request.headers.get("x-h") });
  }
}
export class T extends DurableObject {
  async viaStub() {
    const stub = this.env.ECHO.get(this.env.ECHO.idFromName("e"));
    const res = await stub.fetch("https://echo.example/a/b?q=ü", { method: "PUT", body: "né", headers: { "x-h": "1" } });
    return [res.status, res.headers.get("content-type"), await res.json()];
  }
  async streamed() {
    const { readable, writable } = new TransformStream();
    const w = writable.getWriter();
    w.write(new TextEncoder().encode("whole "));
    w.write(new TextEncoder().encode("body"));
    w.close();
    await new Promise((r) => setTimeout(r, 1));
    return new Response(readable, { headers: { "content-type": "text/plain" } });
  }
  open() {
    return new Response(new ReadableStream({ pull() {} }));
  }
}
"#;

#[test]
fn responses_cross_to_other_objects_and_to_the_caller_whole() {
    let program = JsProgram::from_source("t.js", RELAY).unwrap();
    let report = run(SimConfig::new(2).faults(FaultPolicy::Off), move |world| async move {
        register(&world, "ECHO", Backend::Sqlite, JsClass::new(program.clone(), "Echo"));
        let ns = register(&world, "T", Backend::Sqlite, JsClass::new(program, "T"));
        let stub = ns.get(&ns.id_from_name("t"));
        for m in ["viaStub", "streamed", "open"] {
            let _ = world.client(0).call(&stub, JsCall::new(m, vec![])).await;
        }
    });
    assert_eq!(
        report.history[0].ok_value(),
        Some(&json!([200, "application/json", {"path": "/a/b", "q": "ü", "method": "PUT", "body": "né", "h": "1"}]))
    );
    assert_eq!(
        report.history[1].ok_value(),
        Some(
            &json!({"$js": "Response", "status": 200, "headers": {"content-type": "text/plain"}, "body": "whole body"})
        )
    );
    match &report.history[2].completion {
        Completion::Fail { error } => assert!(error.message.contains("ReadableStream still open"), "{}", error.message),
        other => panic!("an open stream cannot leave whole: {other:?}"),
    }
}

#[test]
fn a_fetch_handler_routes_on_url_and_answers_the_same_per_seed() {
    let source = r#"export class T extends DurableObject {
      async fetch(request) {
        const url = new URL(request.url);
        if (url.pathname.startsWith("/items/")) {
          const id = url.pathname.split("/")[2];
          await this.ctx.storage.put(id, await request.text());
          return new Response(null, { status: 204 });
        }
        return new Response("not found", { status: 404 });
      }
      run() { return crypto.randomUUID(); }
    }"#;
    let a = call_all(source, &["run"]);
    let b = call_all(source, &["run"]);
    assert_eq!(a, b);
    let program = JsProgram::from_source("t.js", source).unwrap();
    let report = run(SimConfig::new(3).faults(FaultPolicy::Off), move |world| async move {
        let ns = register(&world, "T", Backend::Sqlite, JsClass::new(program, "T"));
        let stub = ns.get(&ns.id_from_name("t"));
        let _ = world.client(0).call(&stub, JsCall::fetch("https://t/items/7", "POST", Some("x"))).await;
        let _ = world.client(0).call(&stub, JsCall::fetch("https://t/other", "GET", None)).await;
    });
    assert_eq!(report.history[0].ok_value().and_then(|v| v.get("status")), Some(&json!(204)));
    assert_eq!(report.history[1].ok_value().and_then(|v| v.get("body")), Some(&json!("not found")));
}

#[test]
fn errors_carry_workerds_texts() {
    // Each text as workerd 1.20261117.1 gives it for the same expression.
    let v = run_one(
        r#"export class T extends DurableObject { async run() {
      const t = async (f) => { try { await f(); return "no error"; } catch (e) { return [e.name, e.message]; } };
      const used = Response.json(1);
      await used.text();
      return [
        await t(() => new URL("not a url")),
        await t(() => new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array([0xC3]))),
        await t(() => new Headers().set("bad name", "x")),
        await t(() => Response.redirect("/x", 200)),
        await t(() => Response.redirect("/x", 301)),
        await t(() => new Response("x", { status: 204 })),
        await t(() => used.text()),
        await t(() => new Response(new ReadableStream({ start(c) { c.enqueue("s"); c.close(); } })).text()),
        await t(() => crypto.subtle.digest("MD4", new Uint8Array(1))),
        new AbortController().signal.reason,
        (() => { const c = new AbortController(); c.abort(); return c.signal.reason.message; })(),
      ];
    } }"#,
    );
    assert_eq!(
        v,
        json!([
            ["TypeError", "Invalid URL string."],
            ["TypeError", "Failed to decode input."],
            ["TypeError", "Invalid header name."],
            ["RangeError", "200 is not a redirect status code. It must be one of: 301, 302, 303, 307, or 308."],
            ["TypeError", "Unable to parse URL: /x"],
            ["TypeError", "Response with null body status (101, 204, 205, or 304) cannot have a body."],
            ["TypeError", "Body has already been used. It can only be used once. Use tee() first if you need to read it twice."],
            ["TypeError", "This ReadableStream did not return bytes."],
            ["NotSupportedError", "Unrecognized or unimplemented digest algorithm requested."],
            {"$js": "undefined"},
            "The operation was aborted"
        ])
    );
}

#[test]
fn structured_clone_carries_headers_and_blobs_and_refuses_what_v8_refuses() {
    // As workerd 1.20261117.1's structuredClone (measured): Headers and Blob survive, a
    // Buffer arrives as a Uint8Array, URL, FormData, streams and signals are refused.
    let v = run_one(
        r#"export class T extends DurableObject { async run() {
      const t = (f) => { try { return f(); } catch (e) { return [e.name, e.message, e instanceof DOMException]; } };
      const h = structuredClone(new Headers({ a: "1" }));
      const b = structuredClone(new Blob(["xy"], { type: "t/p" }));
      const buf = structuredClone(Buffer.from("ab"));
      await this.ctx.storage.put("h", new Headers({ k: "v" }));
      const stored = await this.ctx.storage.get("h");
      return [h instanceof Headers, h.get("a"), b instanceof Blob, await b.text(), b.type,
        Object.prototype.toString.call(buf), buf.constructor.name, stored.get("k"),
        t(() => structuredClone(new URL("https://a.com/"))),
        t(() => structuredClone(new ReadableStream())),
        t(() => structuredClone(new AbortController().signal)),
        await this.ctx.storage.put("u", new URLSearchParams("a=1")).then(() => "stored", (e) => e.name)];
    } }"#,
    );
    assert_eq!(
        v,
        json!([
            true,
            "1",
            true,
            "xy",
            "t/p",
            "[object Uint8Array]",
            "Uint8Array",
            "v",
            [
                "DataCloneError",
                "Could not serialize object of type \"URL\". This type does not support serialization.",
                true
            ],
            ["DataCloneError", "ReadableStream can only be serialized for RPC.", true],
            ["DataCloneError", "AbortSignal serialization is not enabled.", true],
            "DataCloneError"
        ])
    );
}

#[test]
fn a_request_made_from_another_takes_its_body() {
    // As on workerd (measured): the old request's body is used afterwards; clone() tees.
    let v = run_one(
        r#"export class T extends DurableObject { async run() {
      const a = new Request("https://a.com/", { method: "POST", body: "x" });
      const b = new Request(a, { headers: { z: "1" } });
      const c = b.clone();
      return [b.method, b.headers.get("z"), a.bodyUsed, await b.text(), await c.text(), await a.text().catch((e) => e.name)];
    } }"#,
    );
    assert_eq!(v, json!(["POST", "1", true, "x", "x", "TypeError"]));
}
