// WHATWG `URL` and `URLSearchParams`. Parsing, serialising and the setters are the Rust
// `url` crate's (servo's implementation of the URL Standard) and `form_urlencoded`'s,
// behind `__dosimNative`; this file is only the JavaScript shape of them.

const native = globalThis.__dosimNative;
const FIELDS = ["href", "origin", "protocol", "username", "password", "host", "hostname", "port", "pathname", "search", "hash"];

class URLSearchParams {
  #pairs = [];
  #url = null;
  constructor(init = "") {
    if (init instanceof URLSearchParams) {
      this.#pairs = init.#pairs.map(([k, v]) => [k, v]);
    } else if (init !== null && typeof init === "object") {
      if (typeof init[Symbol.iterator] === "function") {
        for (const pair of init) {
          const p = [...pair];
          if (p.length !== 2) throw new TypeError("Each query pair must be an iterable [name, value] tuple");
          this.#pairs.push([String(p[0]), String(p[1])]);
        }
      } else {
        for (const k of Object.keys(init)) this.#pairs.push([k, String(init[k])]);
      }
    } else {
      const text = String(init);
      this.#pairs = native.formParse(text.startsWith("?") ? text.slice(1) : text);
    }
  }
  // For URL: the params of a URL follow its query, and write it back.
  static attach(params, url, search) {
    params.#url = url;
    params.#pairs = native.formParse(search.startsWith("?") ? search.slice(1) : search);
  }
  static reparse(params, search) {
    params.#pairs = native.formParse(search.startsWith("?") ? search.slice(1) : search);
  }
  #update() {
    if (this.#url) setQuery(this.#url, this.toString());
  }
  get size() {
    return this.#pairs.length;
  }
  append(name, value) {
    this.#pairs.push([String(name), String(value)]);
    this.#update();
  }
  delete(name, value) {
    name = String(name);
    this.#pairs = this.#pairs.filter(([k, v]) => !(k === name && (value === undefined || v === String(value))));
    this.#update();
  }
  get(name) {
    const p = this.#pairs.find(([k]) => k === String(name));
    return p ? p[1] : null;
  }
  getAll(name) {
    return this.#pairs.filter(([k]) => k === String(name)).map(([, v]) => v);
  }
  has(name, value) {
    return this.#pairs.some(([k, v]) => k === String(name) && (value === undefined || v === String(value)));
  }
  set(name, value) {
    name = String(name);
    const i = this.#pairs.findIndex(([k]) => k === name);
    if (i < 0) this.#pairs.push([name, String(value)]);
    else {
      this.#pairs[i][1] = String(value);
      this.#pairs = this.#pairs.filter(([k], j) => j <= i || k !== name);
    }
    this.#update();
  }
  sort() {
    // Stable, by UTF-16 code units, as the Standard says.
    this.#pairs = this.#pairs
      .map((p, i) => [p, i])
      .sort(([a, i], [b, j]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : i - j))
      .map(([p]) => p);
    this.#update();
  }
  forEach(callback, thisArg) {
    for (const [k, v] of this.#pairs) callback.call(thisArg, v, k, this);
  }
  *entries() {
    for (const [k, v] of this.#pairs) yield [k, v];
  }
  *keys() {
    for (const [k] of this.#pairs) yield k;
  }
  *values() {
    for (const [, v] of this.#pairs) yield v;
  }
  [Symbol.iterator]() {
    return this.entries();
  }
  toString() {
    return native.formSerialize(this.#pairs);
  }
  get [Symbol.toStringTag]() {
    return "URLSearchParams";
  }
}

const attachParams = URLSearchParams.attach;
const reparseParams = URLSearchParams.reparse;
delete URLSearchParams.attach;
delete URLSearchParams.reparse;

class URL {
  #parts;
  #params = null;
  constructor(url, base) {
    if (arguments.length === 0) throw new TypeError("Failed to construct 'URL': 1 argument required, but only 0 present.");
    const parts = base === undefined ? native.urlParse(String(url)) : native.urlParse(String(url), String(base));
    if (parts == null) throw new TypeError("Invalid URL string.");
    this.#parts = parts;
  }
  static canParse(url, base) {
    return (base === undefined ? native.urlParse(String(url)) : native.urlParse(String(url), String(base))) != null;
  }
  static parse(url, base) {
    try {
      return new URL(url, base);
    } catch {
      return null;
    }
  }
  // For URLSearchParams: its URL's query follows it.
  static setQuery(url, query) {
    url.#parts = native.urlSet(url.#parts[0], "search", query === "" ? "" : "?" + query);
  }
  static part(url, i) {
    return url.#parts[i];
  }
  static setPart(url, field, value) {
    const parts = native.urlSet(url.#parts[0], field, String(value));
    if (parts == null) {
      throw new TypeError(`Failed to set the '${field}' property on 'URL': the provided value is not of type 'valid URL string'.`);
    }
    url.#parts = parts;
    if (url.#params && (field === "href" || field === "search")) reparseParams(url.#params, url.#parts[9]);
  }
  get searchParams() {
    if (this.#params === null) {
      this.#params = new URLSearchParams();
      attachParams(this.#params, this, this.#parts[9]);
    }
    return this.#params;
  }
  toString() {
    return this.#parts[0];
  }
  toJSON() {
    return this.#parts[0];
  }
  get [Symbol.toStringTag]() {
    return "URL";
  }
}

const setQuery = URL.setQuery;
const part = URL.part;
const setPart = URL.setPart;
delete URL.setQuery;
delete URL.part;
delete URL.setPart;
FIELDS.forEach((field, i) => {
  const descriptor = {
    enumerable: true,
    configurable: true,
    get() {
      return part(this, i);
    },
  };
  if (field !== "origin") {
    descriptor.set = function (value) {
      setPart(this, field, value);
    };
  }
  Object.defineProperty(URL.prototype, field, descriptor);
});

globalThis.URL = URL;
globalThis.URLSearchParams = URLSearchParams;
