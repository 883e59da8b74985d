//! The web platform's small standards as an object sees them: URL and URLSearchParams,
//! TextEncoder/TextDecoder, atob/btoa, crypto.subtle, events and AbortSignal.

mod common;
use common::{call_all, run_one};
use serde_json::json;

#[test]
fn url_parses_resolves_and_sets_as_the_standard_says() {
    let v = run_one(
        r#"export class T extends DurableObject { run() {
      const u = new URL("https://user:pw@EXAMPLE.com:8080/a/./b/../c?x=1&y=%20two#frag");
      const rel = new URL("../d?q", "https://h.example/a/b/c");
      const out = [u.href, u.origin, u.protocol, u.username, u.password, u.host, u.hostname, u.port,
        u.pathname, u.search, u.hash, rel.href, u.searchParams.get("y"), String(u), JSON.stringify({ u })];
      u.pathname = "/new path";
      u.port = "443";
      u.hash = "";
      u.searchParams.append("z", "a b&c");
      out.push(u.href);
      u.search = "?k=v";
      out.push(u.searchParams.get("k"), u.searchParams.get("x"));
      let threw = null;
      try { new URL("not a url"); } catch (e) { threw = [e.name, e instanceof TypeError]; }
      out.push(threw, URL.canParse("/x"), URL.canParse("/x", "http://a"), new URL("http://[::1]:80/").href);
      out.push(new URL("http://xn--nxasmq6b.example/").hostname, new URL("http://ÉXAMPLE.com/").hostname);
      return out;
    } }"#,
    );
    assert_eq!(
        v,
        json!([
            "https://user:pw@example.com:8080/a/c?x=1&y=%20two#frag",
            "https://example.com:8080",
            "https:",
            "user",
            "pw",
            "example.com:8080",
            "example.com",
            "8080",
            "/a/c",
            "?x=1&y=%20two",
            "#frag",
            "https://h.example/a/d?q",
            " two",
            "https://user:pw@example.com:8080/a/c?x=1&y=%20two#frag",
            "{\"u\":\"https://user:pw@example.com:8080/a/c?x=1&y=%20two#frag\"}",
            "https://user:pw@example.com/new%20path?x=1&y=+two&z=a+b%26c",
            "v",
            null,
            ["TypeError", true],
            false,
            true,
            "http://[::1]/",
            "xn--nxasmq6b.example",
            "xn--xample-9ua.com"
        ])
    );
}

#[test]
fn url_search_params_keep_order_and_encode_as_forms() {
    let v = run_one(
        r#"export class T extends DurableObject { run() {
      const p = new URLSearchParams("?a=1&b=2&a=3&c=%E2%9C%93&d=x+y");
      const out = [p.getAll("a"), p.get("c"), p.get("d"), p.has("b"), p.has("a", "3"), p.size];
      p.set("a", "only");
      p.delete("b");
      p.append("e", "é ü");
      out.push(p.toString());
      p.sort();
      out.push([...p.keys()].join(","));
      out.push(new URLSearchParams({ x: 1, y: "two" }).toString(), new URLSearchParams([["k", "v"]]).toString());
      const seen = [];
      p.forEach((v, k) => seen.push(k + "=" + v));
      out.push(seen);
      return out;
    } }"#,
    );
    assert_eq!(
        v,
        json!([
            ["1", "3"],
            "✓",
            "x y",
            true,
            true,
            5,
            "a=only&c=%E2%9C%93&d=x+y&e=%C3%A9+%C3%BC",
            "a,c,d,e",
            "x=1&y=two",
            "k=v",
            ["a=only", "c=✓", "d=x y", "e=é ü"]
        ])
    );
}

#[test]
fn text_encoder_and_decoder_are_utf8_with_fatal_bom_and_streaming() {
    let v = run_one(
        r#"export class T extends DurableObject { run() {
      const enc = new TextEncoder();
      const bytes = enc.encode("aé€😀");
      const lone = enc.encode("x\uD800y");
      const dec = new TextDecoder();
      const out = [enc.encoding, [...bytes], [...lone], dec.decode(bytes), dec.decode(new Uint8Array([0xEF, 0xBB, 0xBF, 0x41]))];
      out.push(new TextDecoder("utf-8", { ignoreBOM: true }).decode(new Uint8Array([0xEF, 0xBB, 0xBF, 0x41])).length);
      out.push(dec.decode(new Uint8Array([0x61, 0xFF, 0x62])));
      let fatal = null;
      try { new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array([0xC3])); } catch (e) { fatal = e.name; }
      out.push(fatal);
      const s = new TextDecoder();
      out.push(s.decode(new Uint8Array([0xE2, 0x82]), { stream: true }) + "|" + s.decode(new Uint8Array([0xAC])));
      const target = new Uint8Array(4);
      out.push(enc.encodeInto("a€b", target), [...target]);
      let bad = null;
      try { new TextDecoder("latin1"); } catch (e) { bad = e.name; }
      out.push(bad, dec.decode(bytes.buffer), dec.decode());
      out.push(btoa("hello"), atob("aGVsbG8="));
      return out;
    } }"#,
    );
    assert_eq!(
        v,
        json!([
            "utf-8",
            [97, 195, 169, 226, 130, 172, 240, 159, 152, 128],
            [120, 239, 191, 189, 121],
            "aé€😀",
            "A",
            2,
            "a\u{FFFD}b",
            "TypeError",
            "|€",
            {"read": 2, "written": 4},
            [97, 226, 130, 172],
            "RangeError",
            "aé€😀",
            "",
            "aGVsbG8=",
            "hello"
        ])
    );
}

const HEX: &str = "const hex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, '0')).join('');";

#[test]
fn subtle_digest_and_hmac_match_known_answers() {
    let source = format!(
        r#"{HEX}
    export class T extends DurableObject {{ async run() {{
      const data = new TextEncoder().encode("abc");
      const out = [];
      for (const alg of ["SHA-1", "SHA-256", "SHA-384", "SHA-512"]) out.push(hex(await crypto.subtle.digest(alg, data)).slice(0, 16));
      out.push(hex(await crypto.subtle.digest({{ name: "sha-256" }}, data.buffer)).length);
      const key = await crypto.subtle.importKey("raw", new TextEncoder().encode("Jefe"), {{ name: "HMAC", hash: "SHA-256" }}, true, ["sign", "verify"]);
      const msg = new TextEncoder().encode("what do ya want for nothing?");
      const sig = await crypto.subtle.sign("HMAC", key, msg);
      out.push(hex(sig), await crypto.subtle.verify("HMAC", key, sig, msg), await crypto.subtle.verify("HMAC", key, sig, data));
      out.push(key.type, key.algorithm, key.usages, hex(await crypto.subtle.exportKey("raw", key)));
      const jwk = await crypto.subtle.exportKey("jwk", key);
      const back = await crypto.subtle.importKey("jwk", jwk, {{ name: "HMAC", hash: {{ name: "SHA-256" }} }}, false, ["sign"]);
      out.push(hex(await crypto.subtle.sign("HMAC", back, msg)) === hex(sig));
      out.push(await crypto.subtle.digest("MD4", data).then(() => "ok", (e) => e.name));
      out.push(await crypto.subtle.sign("HMAC", back, "text").then(() => "ok", (e) => e.name));
      out.push(await crypto.subtle.exportKey("raw", back).then(() => "ok", (e) => e.name));
      out.push(crypto.subtle.timingSafeEqual(data, new TextEncoder().encode("abc")));
      return out;
    }} }}"#
    );
    assert_eq!(
        run_one(&source),
        json!([
            "a9993e364706816a",
            "ba7816bf8f01cfea",
            "cb00753f45a35e8b",
            "ddaf35a193617aba",
            64,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            true,
            false,
            "secret",
            {"name": "HMAC", "hash": {"name": "SHA-256"}, "length": 32},
            ["sign", "verify"],
            "4a656665",
            true,
            "NotSupportedError",
            "TypeError",
            "InvalidAccessError",
            true
        ])
    );
}

#[test]
fn generated_keys_and_random_values_follow_the_seed() {
    let source = format!(
        r#"{HEX}
    export class T extends DurableObject {{ async run() {{
      const key = await crypto.subtle.generateKey({{ name: "HMAC", hash: "SHA-256" }}, true, ["sign"]);
      return [hex(await crypto.subtle.exportKey("raw", key)), crypto.randomUUID()];
    }} }}"#
    );
    let a = common::call_all_seeded(&source, &["run"], 5);
    let b = common::call_all_seeded(&source, &["run"], 5);
    let c = common::call_all_seeded(&source, &["run"], 6);
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(a[0][0].as_str().map(str::len), Some(128));
}

#[test]
fn event_targets_dispatch_to_listeners_in_order() {
    let v = run_one(
        r#"export class T extends DurableObject { run() {
      const t = new EventTarget();
      const seen = [];
      const f = (e) => seen.push("f:" + e.type + ":" + (e.target === t));
      t.addEventListener("x", f);
      t.addEventListener("x", f);
      t.addEventListener("x", { handleEvent: (e) => seen.push("obj:" + e.detail) });
      t.addEventListener("x", () => seen.push("once"), { once: true });
      t.dispatchEvent(new CustomEvent("x", { detail: 7 }));
      t.dispatchEvent(new Event("x"));
      t.removeEventListener("x", f);
      t.dispatchEvent(new Event("x"));
      const e = new Event("y", { cancelable: true });
      t.addEventListener("y", (ev) => { ev.preventDefault(); ev.stopImmediatePropagation(); });
      t.addEventListener("y", () => seen.push("never"));
      const result = t.dispatchEvent(e);
      const ex = new DOMException("m", "AbortError");
      return [seen, result, e.defaultPrevented, ex.name, ex.message, ex.code, ex instanceof Error];
    } }"#,
    );
    assert_eq!(
        v,
        json!([
            ["f:x:true", "obj:7", "once", "f:x:true", "obj:undefined", "obj:undefined"],
            false,
            true,
            "AbortError",
            "m",
            20,
            true
        ])
    );
}

#[test]
fn abort_signals_abort_once_and_time_out_on_the_simulated_clock() {
    let v = call_all(
        r#"export class T extends DurableObject {
      run() {
        const c = new AbortController();
        const seen = [];
        c.signal.addEventListener("abort", () => seen.push("listener"));
        c.signal.onabort = () => seen.push("onabort");
        const any = AbortSignal.any([c.signal, new AbortController().signal]);
        c.abort("why");
        c.abort("again");
        let thrown = null;
        try { c.signal.throwIfAborted(); } catch (e) { thrown = e; }
        const plain = AbortSignal.abort();
        return [seen, c.signal.aborted, c.signal.reason, thrown, any.aborted, any.reason, plain.reason.name];
      }
      async timeout() {
        const start = Date.now();
        const s = AbortSignal.timeout(250);
        const fired = await new Promise((resolve) => s.addEventListener("abort", () => resolve(Date.now() - start)));
        return [fired, s.reason.name, s.aborted];
      }
    }"#,
        &["run", "timeout"],
    );
    assert_eq!(
        v,
        vec![
            json!([["onabort", "listener"], true, "why", "why", true, "why", "AbortError"]),
            json!([250, "TimeoutError", true])
        ]
    );
}

#[test]
fn platform_globals_load_on_first_use_and_can_be_replaced() {
    let v = run_one(
        r#"export class T extends DurableObject { run() {
      const before = Object.keys(globalThis).filter((k) => ["URL", "Response", "ReadableStream", "Buffer"].includes(k));
      const kinds = [typeof URL, typeof ReadableStream, typeof Buffer, "Blob" in globalThis, typeof crypto.subtle.digest, typeof process.nextTick];
      // As on workerd: the standards' classes are not enumerable globals, Node's are.
      const after = Object.keys(globalThis).filter((k) => ["URL", "Response", "ReadableStream", "Buffer", "process"].includes(k));
      // The object's own TextEncoder stays its own, and the platform keeps using its own.
      globalThis.TextEncoder = function Mine() {};
      // A script that builds on others loads them: a Response's body is a ReadableStream.
      const body = new Response("x").body instanceof ReadableStream;
      const replaced = TextEncoder.name;
      return [before, kinds, after, replaced, body];
    } }"#,
    );
    assert_eq!(
        v,
        json!([
            ["Buffer"],
            ["function", "function", "function", true, "function", "function"],
            ["Buffer", "process"],
            "Mine",
            true
        ])
    );
}

#[test]
fn hooks_outside_a_run_see_the_platform_and_node_modules() {
    let program = dosim_js::JsProgram::from_source(
        "t.js",
        r#"import { EventEmitter } from "node:events";
    import { createHash } from "node:crypto";
    const base = new URL("https://h.example/");
    export class T extends DurableObject { m() {} }
    export function invariant(run) {
      const e = new EventEmitter();
      let seen = null;
      e.on("x", (v) => (seen = v));
      e.emit("x", new URL("/p?q=1", base).searchParams.get("q"));
      return [seen, createHash("sha1").update("abc").digest("hex")];
    }"#,
    )
    .unwrap();
    let exports = dosim_js::exports(&program).unwrap();
    assert!(exports.iter().any(|e| e.name == "T" && e.is_class));
    let out = dosim_js::call_export(&program, "invariant", &json!({})).unwrap();
    assert_eq!(out, json!(["1", "a9993e364706816aba3e25717850c26c9cd0d89d"]));
}
