// fetch's `Headers`, `Request` and `Response` as the Fetch Standard has them: headers
// validated, combined and sorted; bodies from text, bytes, blobs, forms, search params or
// a `ReadableStream`, read once (`text`, `json`, `arrayBuffer`, `bytes`, `blob`,
// `formData`, `body`, `bodyUsed`, `clone`); `Response.json`, `redirect` and `error`.

const [TextEncoder, TextDecoder, URL, URLSearchParams, Blob, FormData, ReadableStream, AbortController] =
  globalThis.__dosimPlatform("TextEncoder", "TextDecoder", "URL", "URLSearchParams", "Blob", "FormData", "ReadableStream", "AbortController");
const [takeAllNow, blobBytes, forms] = globalThis.__dosimPlatform("__dosimTakeAllNow", "__dosimBlobBytes", "__dosimForms");
const { formDataToMultipart, parseFormData } = forms;
// The helpers stay reachable through __dosimPlatform only.
delete globalThis.__dosimTakeAllNow;
delete globalThis.__dosimBlobBytes;
delete globalThis.__dosimForms;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

// ---- Headers ----

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const headerName = (name) => {
  const n = String(name);
  if (!TOKEN.test(n)) throw new TypeError("Invalid header name.");
  return n.toLowerCase();
};
const headerValue = (value) => {
  const v = String(value).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");
  if (/[\0\r\n]/.test(v)) throw new TypeError("Invalid header value.");
  return v;
};

class Headers {
  #list = [];
  #immutable = false;
  constructor(init) {
    if (init === undefined || init === null) return;
    if (init instanceof Headers) {
      this.#list = init.#list.map(([k, v]) => [k, v]);
    } else if (typeof init === "object" && typeof init[Symbol.iterator] === "function") {
      for (const pair of init) {
        const p = [...pair];
        if (p.length !== 2) throw new TypeError("Headers constructor: expected name/value pair to be length 2");
        this.append(p[0], p[1]);
      }
    } else if (typeof init === "object") {
      for (const k of Object.keys(init)) this.append(k, init[k]);
    } else {
      throw new TypeError("Failed to construct 'Headers': The provided value is not of type 'HeadersInit'.");
    }
  }
  static freeze(headers) {
    headers.#immutable = true;
    return headers;
  }
  #check() {
    if (this.#immutable) throw new TypeError("Can't modify immutable headers.");
  }
  append(name, value) {
    this.#check();
    this.#list.push([headerName(name), headerValue(value)]);
  }
  set(name, value) {
    this.#check();
    const n = headerName(name);
    const v = headerValue(value);
    const i = this.#list.findIndex(([k]) => k === n);
    if (i < 0) this.#list.push([n, v]);
    else {
      this.#list[i] = [n, v];
      this.#list = this.#list.filter(([k], j) => j <= i || k !== n);
    }
  }
  delete(name) {
    this.#check();
    const n = headerName(name);
    this.#list = this.#list.filter(([k]) => k !== n);
  }
  get(name) {
    const n = headerName(name);
    const values = this.#list.filter(([k]) => k === n).map(([, v]) => v);
    return values.length === 0 ? null : values.join(", ");
  }
  getSetCookie() {
    return this.#list.filter(([k]) => k === "set-cookie").map(([, v]) => v);
  }
  getAll(name) {
    // workerd's extension, for set-cookie only.
    if (headerName(name) !== "set-cookie") throw new TypeError("getAll() can only be used with the header name \"Set-Cookie\".");
    return this.getSetCookie();
  }
  has(name) {
    const n = headerName(name);
    return this.#list.some(([k]) => k === n);
  }
  // Sorted by name, values of one name combined, except set-cookie's (the Standard's order).
  #sorted() {
    const names = [...new Set(this.#list.map(([k]) => k))].sort();
    const out = [];
    for (const n of names) {
      if (n === "set-cookie") for (const v of this.getSetCookie()) out.push([n, v]);
      else out.push([n, this.get(n)]);
    }
    return out;
  }
  forEach(callback, thisArg) {
    for (const [k, v] of this.#sorted()) callback.call(thisArg, v, k, this);
  }
  *entries() {
    yield* this.#sorted();
  }
  *keys() {
    for (const [k] of this.#sorted()) yield k;
  }
  *values() {
    for (const [, v] of this.#sorted()) yield v;
  }
  [Symbol.iterator]() {
    return this.entries();
  }
  get [Symbol.toStringTag]() {
    return "Headers";
  }
}
const freezeHeaders = Headers.freeze;
delete Headers.freeze;

// ---- bodies ----

const copyBytes = (view) => new Uint8Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));

// [source, content type]: the source is null, bytes or a ReadableStream.
function extractBody(body) {
  if (body === undefined || body === null) return [null, null];
  if (typeof body === "string") return [encoder.encode(body), "text/plain;charset=UTF-8"];
  if (body instanceof ArrayBuffer) return [new Uint8Array(body.slice(0)), null];
  if (ArrayBuffer.isView(body)) return [copyBytes(body), null];
  if (body instanceof Blob) return [blobBytes(body), body.type || null];
  if (body instanceof URLSearchParams) return [encoder.encode(body.toString()), "application/x-www-form-urlencoded;charset=UTF-8"];
  if (body instanceof FormData) return formDataToMultipart(body);
  if (body instanceof ReadableStream) return [body, null];
  return [encoder.encode(String(body)), "text/plain;charset=UTF-8"];
}

const concat = (chunks) => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
};

const USED = "Body has already been used. It can only be used once. Use tee() first if you need to read it twice.";

const chunkBytes = (chunk) => {
  if (chunk instanceof Uint8Array) return chunk;
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError("This ReadableStream did not return bytes.");
};

const bytesStream = (bytes) =>
  new ReadableStream({
    start(controller) {
      if (bytes.length > 0) controller.enqueue(bytes);
      controller.close();
    },
  });

class Body {
  #source = null;
  #stream = null;
  #used = false;
  static init(b, source) {
    b.#source = source;
    b.#stream = source instanceof ReadableStream ? source : null;
  }
  get body() {
    if (this.#source === null) return null;
    if (this.#stream === null) this.#stream = bytesStream(this.#source);
    return this.#stream;
  }
  get bodyUsed() {
    return this.#used || (this.#stream !== null && this.#stream.locked);
  }
  async #consume() {
    if (this.bodyUsed) throw new TypeError(USED);
    this.#used = true;
    const source = this.#source;
    if (source === null) return new Uint8Array(0);
    if (!(source instanceof ReadableStream) && this.#stream === null) return source;
    const reader = this.#stream.getReader();
    const chunks = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks.push(chunkBytes(value));
    }
    return concat(chunks);
  }
  async arrayBuffer() {
    return (await this.#consume()).slice().buffer;
  }
  async bytes() {
    return (await this.#consume()).slice();
  }
  async text() {
    return decoder.decode(await this.#consume());
  }
  async json() {
    return JSON.parse(await this.text());
  }
  async blob() {
    const type = this.headers.get("content-type") || "";
    return new Blob([await this.#consume()], { type });
  }
  async formData() {
    return parseFormData(await this.#consume(), this.headers.get("content-type"));
  }
  // For clone(): this body's source split in two, one half kept and one returned.
  static split(b) {
    if (b.bodyUsed) throw new TypeError(USED);
    if (b.#source === null) return null;
    if (b.#stream === null) return b.#source;
    const [mine, theirs] = b.#stream.tee();
    b.#source = mine;
    b.#stream = mine;
    return theirs;
  }
  // For `new Request(request)`: the body moves to the new request; the old one is used.
  static take(b) {
    if (b.bodyUsed) throw new TypeError(USED);
    const source = b.#stream !== null ? b.#stream : b.#source;
    if (source !== null) b.#used = true;
    return source;
  }
  // The body as text for a value leaving the object (dosim's structured clone): the
  // bytes must all be there now; an open stream cannot be sent whole.
  static wire(b) {
    if (b.#source === null) return null;
    if (b.#stream !== null) {
      if (b.bodyUsed) throw new TypeError(USED);
      const chunks = takeAllNow(b.#stream);
      if (chunks === null) {
        throw new TypeError(
          "dosim sends a body whole: this body is a ReadableStream still open when its Request or Response left the object (close it before returning)"
        );
      }
      b.#source = concat(chunks.map(chunkBytes));
      b.#stream = null;
    }
    return decoder.decode(b.#source);
  }
}
const initBody = Body.init;
const splitBody = Body.split;
const takeBody = Body.take;
const wireBody = Body.wire;
delete Body.init;
delete Body.split;
delete Body.take;
delete Body.wire;

// ---- Request ----

// The methods workerd's HTTP layer knows (others are a TypeError there, measured).
const METHODS = new Set(
  ("GET HEAD POST PUT DELETE PATCH PURGE OPTIONS TRACE COPY LOCK MKCOL MOVE PROPFIND PROPPATCH SEARCH UNLOCK ACL " +
    "REPORT MKACTIVITY CHECKOUT MERGE MSEARCH NOTIFY SUBSCRIBE UNSUBSCRIBE QUERY BAN CONNECT").split(" ")
);
const normalMethod = (m) => {
  const s = String(m).toUpperCase();
  if (!METHODS.has(s)) throw new TypeError(`Invalid HTTP method string: ${String(m)}`);
  return s;
};

class Request extends Body {
  #url;
  #method;
  #headers;
  #signal;
  #redirect;
  constructor(input, init = {}) {
    super();
    init = init || {};
    const from = input instanceof Request ? input : null;
    if (from) this.#url = from.url;
    else {
      const parsed = URL.parse(String(input));
      if (parsed === null) throw new TypeError(`Invalid URL: ${String(input)}`);
      this.#url = parsed.href;
    }
    this.#method = init.method !== undefined ? normalMethod(init.method) : from ? from.method : "GET";
    this.#headers = new Headers(init.headers !== undefined ? init.headers : from ? from.headers : undefined);
    this.#signal = init.signal || (from ? from.signal : new AbortController().signal);
    this.#redirect = init.redirect || (from ? from.redirect : "follow");
    this.cf = init.cf !== undefined ? init.cf : from ? from.cf : undefined;
    let source = null;
    if (init.body !== undefined && init.body !== null) {
      if (this.#method === "GET" || this.#method === "HEAD") throw new TypeError("Request with a GET or HEAD method cannot have a body.");
      const [s, type] = extractBody(init.body);
      source = s;
      if (type !== null && !this.#headers.has("content-type")) this.#headers.set("content-type", type);
    } else if (from && init.body === undefined) {
      source = takeBody(from);
    }
    initBody(this, source);
  }
  get url() {
    return this.#url;
  }
  get method() {
    return this.#method;
  }
  get headers() {
    return this.#headers;
  }
  get signal() {
    return this.#signal;
  }
  get redirect() {
    return this.#redirect;
  }
  clone() {
    const copy = new Request(this.#url, { method: this.#method, headers: this.#headers, signal: this.#signal, redirect: this.#redirect });
    copy.cf = this.cf;
    initBody(copy, splitBody(this));
    return copy;
  }
  get _body() {
    return wireBody(this);
  }
  get [Symbol.toStringTag]() {
    return "Request";
  }
}

// ---- Response ----

const NULL_BODY = new Set([101, 204, 205, 304]);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

class Response extends Body {
  #status;
  #statusText;
  #headers;
  #type = "default";
  constructor(body = null, init = {}) {
    super();
    init = init || {};
    const status = init.status === undefined ? 200 : Number(init.status);
    // workerd allows 101 for a WebSocket upgrade.
    const webSocket = init.webSocket === undefined ? null : init.webSocket;
    if (!((status >= 200 && status <= 599) || (status === 101 && webSocket !== null)) || !Number.isInteger(status)) {
      throw new RangeError(`Responses may only be constructed with status codes in the range 200 to 599, inclusive.`);
    }
    this.#status = status;
    this.#statusText = init.statusText === undefined ? "" : String(init.statusText);
    this.#headers = new Headers(init.headers);
    this.webSocket = webSocket;
    this.cf = init.cf;
    let source = null;
    if (body !== null && body !== undefined) {
      if (NULL_BODY.has(status)) throw new TypeError("Response with null body status (101, 204, 205, or 304) cannot have a body.");
      const [s, type] = extractBody(body);
      source = s;
      if (type !== null && !this.#headers.has("content-type")) this.#headers.set("content-type", type);
    }
    initBody(this, source);
  }
  static json(data, init = {}) {
    const text = JSON.stringify(data);
    if (text === undefined) throw new TypeError("The data is not JSON serializable");
    const headers = new Headers(init && init.headers);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
    return new Response(text, { ...init, headers });
  }
  static redirect(url, status = 302) {
    if (!REDIRECTS.has(Number(status))) {
      throw new RangeError(`${status} is not a redirect status code. It must be one of: 301, 302, 303, 307, or 308.`);
    }
    const parsed = URL.parse(String(url));
    if (parsed === null) throw new TypeError(`Unable to parse URL: ${String(url)}`);
    const response = new Response(null, { status: Number(status), headers: { location: parsed.href } });
    freezeHeaders(response.#headers);
    return response;
  }
  static error() {
    const response = new Response(null, { status: 200 });
    response.#status = 0;
    response.#type = "error";
    freezeHeaders(response.#headers);
    return response;
  }
  get status() {
    return this.#status;
  }
  get statusText() {
    return this.#statusText;
  }
  get ok() {
    return this.#status >= 200 && this.#status <= 299;
  }
  get headers() {
    return this.#headers;
  }
  get type() {
    return this.#type;
  }
  get url() {
    return "";
  }
  get redirected() {
    return false;
  }
  clone() {
    if (this.webSocket !== null) throw new TypeError("Cannot clone a response to a WebSocket handshake.");
    const copy = new Response(null, { status: this.#status === 0 ? 200 : this.#status, statusText: this.#statusText, headers: this.#headers });
    copy.#status = this.#status;
    copy.#type = this.#type;
    copy.cf = this.cf;
    initBody(copy, splitBody(this));
    return copy;
  }
  get _body() {
    return wireBody(this);
  }
  get [Symbol.toStringTag]() {
    return "Response";
  }
}

globalThis.Headers = Headers;
globalThis.Request = Request;
globalThis.Response = Response;
