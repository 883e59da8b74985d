// Counter load against a running workerd (see run.sh, which starts and stops workerd).
//
//   node bench.mjs --port P [--clients 4] [--requests 2000] [--objects 4] [--reps 3]
//                  [--warmup 200] [--json]
//
// Workload (the one of dosim's `counter` scenario, scaled up): CLIENTS concurrent clients, each
// sending REQUESTS sequential `POST /increment?id=NAME` (each waits for the previous answer),
// each client on its own keep-alive connection. Two variants:
//   single  all clients on one object;
//   spread  client i on object i mod OBJECTS.
// Each variant runs REPS times on fresh objects; the wall time of a repetition is from the
// first request sent to the last answer received (process.hrtime.bigint).
//
// Correctness, per object and repetition: every request is answered 200 with a number; the
// answers are exactly 1..n for the n acknowledged increments (no value twice: no lost update);
// and `GET /get` afterwards returns n (the acknowledged increments, all of them durable in
// the object's storage). Exit status 1 if any check fails.
//
// All traffic goes to 127.0.0.1.

import http from "node:http";
import os from "node:os";
import { parseArgs } from "node:util";

const { values: opts } = parseArgs({
  options: {
    port: { type: "string" },
    clients: { type: "string", default: "4" },
    requests: { type: "string", default: "2000" },
    objects: { type: "string", default: "" },
    reps: { type: "string", default: "3" },
    warmup: { type: "string", default: "200" },
    json: { type: "boolean", default: false },
  },
});

function positiveInt(name, text, { zeroOk = false } = {}) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < (zeroOk ? 0 : 1)) {
    console.error(`bench.mjs: --${name} must be a ${zeroOk ? "non-negative" : "positive"} integer, got "${text}"`);
    process.exit(2);
  }
  return n;
}

const port = positiveInt("port", opts.port ?? "");
const clients = positiveInt("clients", opts.clients);
const requests = positiveInt("requests", opts.requests);
const objects = positiveInt("objects", opts.objects || String(clients));
const reps = positiveInt("reps", opts.reps);
const warmup = positiveInt("warmup", opts.warmup, { zeroOk: true });
const tag = `${process.pid}-${Date.now()}`; // object names unique to this run

function call(agent, method, path) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, method, path, agent, headers: { "content-length": "0" } },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode, body }));
        res.on("error", reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error("no answer within 10 s")));
    req.on("error", reject);
    req.end();
  });
}

// One repetition: `clients` clients, client c on objectNames[c % objectNames.length].
async function round(objectNames, perClient) {
  const acks = new Map(objectNames.map((n) => [n, []])); // object -> values acknowledged
  const errors = [];
  const agents = [];
  const client = async (c) => {
    const name = objectNames[c % objectNames.length];
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    const path = `/increment?id=${encodeURIComponent(name)}`;
    for (let i = 0; i < perClient; i++) {
      try {
        const { status, body } = await call(agent, "POST", path);
        const v = Number(body);
        if (status === 200 && Number.isInteger(v)) acks.get(name).push(v);
        else errors.push(`client ${c} request ${i}: HTTP ${status}: ${body.slice(0, 200)}`);
      } catch (e) {
        errors.push(`client ${c} request ${i}: ${e.message}`);
      }
    }
  };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  for (const a of agents) a.destroy();

  // Correctness: answers are 1..n, and the stored value is n.
  const problems = [];
  const reader = new http.Agent({ keepAlive: false });
  let finalTotal = 0;
  for (const [name, values] of acks) {
    const n = values.length;
    const sorted = [...values].sort((x, y) => x - y);
    const bad = sorted.findIndex((v, i) => v !== i + 1);
    if (bad !== -1) {
      problems.push(`${name}: acknowledged values are not 1..${n} (sorted, position ${bad} holds ${sorted[bad]})`);
    }
    try {
      const { status, body } = await call(reader, "GET", `/get?id=${encodeURIComponent(name)}`);
      const final = Number(body);
      if (status !== 200 || !Number.isInteger(final)) {
        problems.push(`${name}: GET /get answered HTTP ${status}: ${body.slice(0, 200)}`);
      } else {
        finalTotal += final;
        if (final !== n) problems.push(`${name}: final value ${final} != ${n} acknowledged increments`);
      }
    } catch (e) {
      problems.push(`${name}: GET /get failed: ${e.message}`);
    }
  }
  reader.destroy();
  const acked = [...acks.values()].reduce((s, v) => s + v.length, 0);
  if (errors.length > 0) {
    problems.push(`${errors.length} of ${clients * perClient} requests failed; first: ${errors[0]}`);
  }
  return { seconds, acked, finalTotal, attempted: clients * perClient, problems };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (x) => Math.round(x).toString();

const variants = [
  { name: "single", label: `${clients} clients -> 1 object`, names: (r) => [`single-${tag}-${r}`] },
  {
    name: "spread",
    label: `${clients} clients -> ${objects} objects`,
    names: (r) => Array.from({ length: objects }, (_, k) => `spread-${tag}-${r}-${k}`),
  },
];

console.log(
  `workload: ${clients} clients x ${requests} sequential increments each, ${reps} repetitions per variant` +
    (warmup > 0 ? `, after ${warmup} unmeasured warm-up increments per client` : ""),
);

let ok = true;
if (warmup > 0) {
  const w = await round([`warmup-${tag}`], warmup);
  if (w.problems.length) {
    ok = false;
    for (const p of w.problems) console.log(`  warm-up FAILED: ${p}`);
  }
}

const results = [];
for (const v of variants) {
  const rates = [];
  for (let r = 1; r <= reps; r++) {
    const res = await round(v.names(r), requests);
    const rate = res.acked / res.seconds;
    rates.push(rate);
    const check = res.problems.length === 0 ? "OK" : "FAILED";
    console.log(
      `  ${v.name} rep ${r}/${reps}: ${res.acked} increments in ${res.seconds.toFixed(3)} s = ${fmt(rate)} req/s; ` +
        `final counter total ${res.finalTotal} vs ${res.acked} acknowledged: ${check}`,
    );
    for (const p of res.problems) console.log(`    ${p}`);
    if (res.problems.length) ok = false;
  }
  const summary = { variant: v.name, label: v.label, median: median(rates), min: Math.min(...rates), max: Math.max(...rates) };
  results.push(summary);
}

console.log("");
console.log("result (requests/s, median of repetitions, [min .. max]):");
for (const s of results) {
  console.log(`  ${s.variant.padEnd(7)} ${s.label.padEnd(26)} ${fmt(s.median).padStart(7)} req/s  [${fmt(s.min)} .. ${fmt(s.max)}]`);
}
console.log(`correctness: ${ok ? "OK (every acknowledged increment counted once, final values match)" : "FAILED"}`);
if (opts.json) {
  console.log(
    JSON.stringify({
      clients, requests, objects, reps, warmup,
      cpus: os.cpus().length, node: process.version, correct: ok,
      results: results.map(({ variant, median, min, max }) => ({ variant, median, min, max })),
    }),
  );
}
process.exit(ok ? 0 : 1);
