// `FormData`: ordered entries of text or `File` values, and the two body forms it has
// (`multipart/form-data` with a boundary drawn from the seeded stream, and
// `application/x-www-form-urlencoded`) for `fetch.js` to write and read.

const [TextEncoder, TextDecoder, Blob, File, URLSearchParams, __dosimBlobBytes] = globalThis.__dosimPlatform("TextEncoder", "TextDecoder", "Blob", "File", "URLSearchParams", "__dosimBlobBytes");
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const blobBytes = __dosimBlobBytes;

const entryValue = (value, filename) => {
  if (value instanceof Blob) {
    if (value instanceof File && filename === undefined) return value;
    return new File([value], filename === undefined ? "blob" : String(filename), { type: value.type });
  }
  return String(value);
};

class FormData {
  #entries = [];
  constructor(form) {
    if (form !== undefined) throw new TypeError("dosim's FormData takes no form element");
  }
  append(name, value, filename) {
    this.#entries.push([String(name), entryValue(value, filename)]);
  }
  set(name, value, filename) {
    name = String(name);
    const entry = [name, entryValue(value, filename)];
    const i = this.#entries.findIndex(([k]) => k === name);
    if (i < 0) this.#entries.push(entry);
    else this.#entries = this.#entries.filter(([k], j) => j <= i || k !== name).map((e, j) => (j === i ? entry : e));
  }
  get(name) {
    const e = this.#entries.find(([k]) => k === String(name));
    return e ? e[1] : null;
  }
  getAll(name) {
    return this.#entries.filter(([k]) => k === String(name)).map(([, v]) => v);
  }
  has(name) {
    return this.#entries.some(([k]) => k === String(name));
  }
  delete(name) {
    this.#entries = this.#entries.filter(([k]) => k !== String(name));
  }
  forEach(callback, thisArg) {
    for (const [k, v] of this.#entries) callback.call(thisArg, v, k, this);
  }
  *entries() {
    for (const [k, v] of this.#entries) yield [k, v];
  }
  *keys() {
    for (const [k] of this.#entries) yield k;
  }
  *values() {
    for (const [, v] of this.#entries) yield v;
  }
  [Symbol.iterator]() {
    return this.entries();
  }
  get [Symbol.toStringTag]() {
    return "FormData";
  }
}

const escapeName = (s) => s.replace(/"/g, "%22").replace(/\n/g, "%0A").replace(/\r/g, "%0D");

const concat = (parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

// The multipart body of `form`: [bytes, content type]. The boundary's bytes come from
// the seeded `crypto.getRandomValues`, so a seed writes the same body every time.
function formDataToMultipart(form) {
  const hex = [...crypto.getRandomValues(new Uint8Array(12))].map((b) => b.toString(16).padStart(2, "0")).join("");
  const boundary = "----dosimFormBoundary" + hex;
  const parts = [];
  for (const [name, value] of form) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${escapeName(name)}"`;
    if (typeof value === "string") {
      parts.push(encoder.encode(`${head}\r\n\r\n${value.replace(/\r\n|\r|\n/g, "\r\n")}\r\n`));
    } else {
      head += `; filename="${escapeName(value.name)}"\r\nContent-Type: ${value.type || "application/octet-stream"}\r\n\r\n`;
      parts.push(encoder.encode(head), blobBytes(value), encoder.encode("\r\n"));
    }
  }
  parts.push(encoder.encode(`--${boundary}--\r\n`));
  return [concat(parts), `multipart/form-data; boundary=${boundary}`];
}

const indexOf = (bytes, pattern, from) => {
  outer: for (let i = from; i <= bytes.length - pattern.length; i++) {
    for (let j = 0; j < pattern.length; j++) if (bytes[i + j] !== pattern[j]) continue outer;
    return i;
  }
  return -1;
};

const param = (header, key) => {
  const m = new RegExp(`;\\s*${key}="([^"]*)"`, "i").exec(header) || new RegExp(`;\\s*${key}=([^;\\s]*)`, "i").exec(header);
  return m ? m[1] : null;
};

// The form in a body of type `contentType` (multipart or urlencoded), or a TypeError.
function parseFormData(bytes, contentType) {
  const type = (contentType || "").toLowerCase();
  const form = new FormData();
  if (type.startsWith("application/x-www-form-urlencoded")) {
    for (const [k, v] of new URLSearchParams(decoder.decode(bytes))) form.append(k, v);
    return form;
  }
  const boundary = type.startsWith("multipart/form-data") ? param(contentType, "boundary") : null;
  if (!boundary) {
    throw new TypeError(
      "Unrecognized Content-Type header value. FormData can only parse the following MIME types: multipart/form-data, application/x-www-form-urlencoded"
    );
  }
  const delimiter = encoder.encode(`--${boundary}`);
  const headEndMark = encoder.encode("\r\n\r\n");
  let at = indexOf(bytes, delimiter, 0);
  if (at < 0) throw new TypeError("The body is not multipart/form-data: its boundary is missing.");
  for (;;) {
    at += delimiter.length;
    if (bytes[at] === 0x2d && bytes[at + 1] === 0x2d) break;
    at += 2;
    const headEnd = indexOf(bytes, headEndMark, at);
    const next = indexOf(bytes, delimiter, at);
    if (headEnd < 0 || next < 0) throw new TypeError("The body is not well-formed multipart/form-data.");
    const lines = decoder.decode(bytes.subarray(at, headEnd)).split("\r\n");
    const body = bytes.subarray(headEnd + 4, next - 2);
    const disposition = lines.find((l) => /^content-disposition:/i.test(l)) || "";
    const name = param(disposition, "name");
    const filename = param(disposition, "filename");
    const typeLine = lines.find((l) => /^content-type:/i.test(l));
    if (name !== null) {
      if (filename !== null) {
        const fileType = typeLine ? typeLine.slice(typeLine.indexOf(":") + 1).trim() : "";
        form.append(name, new File([body.slice()], filename, { type: fileType }));
      } else form.append(name, decoder.decode(body));
    }
    at = next;
  }
  return form;
}

globalThis.FormData = FormData;
// For fetch.js, which takes these and removes the global.
globalThis.__dosimForms = { formDataToMultipart, parseFormData };
