//! `--request` workloads: HTTP requests with drawn path and body arguments drive the
//! class's `fetch`, and the `invariant` hook sees each reply's status and parsed JSON body.

use std::process::{Command, Output};

const MODULE: &str = r#"
import { DurableObject } from "cloudflare:workers";
export class Items extends DurableObject {
  async fetch(request) {
    const key = request.url.split("/")[4];
    const total = (await this.ctx.storage.get(key)) ?? 0;
    if (request.method === "GET") return Response.json({ key, total });
    const { n } = await request.json();
    await this.ctx.storage.put(key, total + n);
    if (total + n > (this.env.LIMIT ?? Infinity)) return new Response("over the limit", { status: 500 });
    return Response.json({ key, total: total + n }, { status: 201 });
  }
}
export function invariant(run) {
  const bad = [];
  for (const c of run.history) {
    if (c.ok !== true) continue;
    const sent = c.args[0];
    if (c.value.status === 500) bad.push(`${sent.method} ${sent.url} answered 500: ${c.value.body}`);
    else if (sent.method === "POST" && (c.value.status !== 201 || c.value.json.total < JSON.parse(sent.body).n))
      bad.push(`POST ${sent.url} answered ${c.value.status} ${c.value.body}`);
  }
  return bad;
}
"#;

fn dosim(extra: &[&str]) -> Output {
    let dir = std::env::temp_dir().join(format!("dosim-requests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let module = dir.join("items.js");
    std::fs::write(&module, MODULE).unwrap();
    let mut args = vec!["fuzz", "--module", module.to_str().unwrap(), "--class", "Items"];
    args.extend(["--request", r#"POST /items/{key} {"n": int 1..9}"#, "--request", "GET /items/{key}"]);
    args.extend(["--seeds", "30", "--no-save"]);
    args.extend(extra);
    Command::new(env!("CARGO_BIN_EXE_dosim")).args(&args).output().expect("run dosim")
}

#[test]
fn requests_drive_fetch_and_the_invariant_sees_status_and_json() {
    let o = dosim(&[]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains(" 0 failing  pass") && !out.contains("what went wrong"), "{out}");
    // With a limit, some POST answers 500, and the invariant (which reads the status) says so.
    let o = dosim(&["--env", "LIMIT=10"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("answered 500: over the limit"), "{out}");
    assert!(
        out.contains("--request 'POST /items/{key} {\"n\": int 1..9}'"),
        "the replay command carries the requests:\n{out}"
    );
}

#[test]
fn a_bad_request_spec_is_a_usage_error() {
    let o = dosim(&["--request", "FETCH /x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not one of GET"), "{}", String::from_utf8_lossy(&o.stderr));
}
