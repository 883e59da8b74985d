// Hibernatable WebSockets (SEMANTICS.md §2, §7) on the runtime's connections: the
// runtime keeps each accepted connection, its tags and attachment, so they outlive the
// instance (hibernation); a JavaScript `WebSocket` is only this instance's handle on one.
// `installSockets` returns what `ctx` gains and the entry points of socket events.
function installSockets(host, { encode, decode, RealDate }) {
  // The platform's Response (platform/fetch.js), loaded only when a handler's reply is read.
  const isResponse = (v) => v instanceof globalThis.__dosimPlatform("Response")[0];
  const CONNECTING = 0;
  const OPEN = 1;
  const CLOSED = 3;
  // This instance's handles by connection number: the same object every time.
  const handles = new Map();

  class WebSocket {
    constructor() {
      throw new TypeError("dosim simulates no outbound WebSocket; use new WebSocketPair() in a Durable Object.");
    }
    static _make(server) {
      const ws = Object.create(WebSocket.prototype);
      ws._id = null;
      ws._server = server;
      ws._peer = null;
      ws._accepted = false;
      ws._tags = [];
      ws._queued = [];
      ws._attachment = undefined;
      ws._state = CONNECTING;
      return ws;
    }
    get readyState() {
      return this._state;
    }
    // The connection is the runtime's once the 101 response is returned.
    _bind(id) {
      this._id = id;
      this._state = OPEN;
      handles.set(id, this);
      host.wsAccept(id, this._tags);
      if (this._attachment !== undefined) host.wsSetAttachment(id, this._attachment);
      for (const m of this._queued) host.wsSend(id, m);
      this._queued = [];
    }
    send(message) {
      if (!this._server) throw new TypeError("dosim: only the server end of a WebSocketPair can send.");
      if (this._state === CLOSED) throw new TypeError("Can't call WebSocket send() after close().");
      const text = typeof message === "string" ? message : latin1(message);
      if (this._id === null) this._queued.push(text);
      else host.wsSend(this._id, text);
    }
    close(code = 1000, reason = "") {
      if (this._state === CLOSED) return;
      this._state = CLOSED;
      if (this._id !== null) host.wsClose(this._id, Number(code), String(reason));
    }
    accept() {
      throw new TypeError("dosim supports hibernatable WebSockets only: accept with ctx.acceptWebSocket(ws, tags).");
    }
    addEventListener() {
      throw new TypeError("dosim supports hibernatable WebSockets only: handle webSocketMessage/webSocketClose.");
    }
    serializeAttachment(value) {
      const text = encode(value);
      if (this._id === null) this._attachment = text;
      else host.wsSetAttachment(this._id, text);
    }
    deserializeAttachment() {
      const text = this._id === null ? this._attachment : host.wsGetAttachment(this._id);
      const v = decode(text);
      return v === undefined ? null : v;
    }
  }
  Object.assign(WebSocket, { CONNECTING, OPEN, CLOSING: 2, CLOSED });

  class WebSocketPair {
    constructor() {
      const client = WebSocket._make(false);
      const server = WebSocket._make(true);
      client._peer = server;
      server._peer = client;
      this[0] = client;
      this[1] = server;
    }
  }

  class WebSocketRequestResponsePair {
    constructor(request, response) {
      this._request = String(request);
      this._response = String(response);
    }
    get request() {
      return this._request;
    }
    get response() {
      return this._response;
    }
  }

  const latin1 = (m) => {
    const u8 = m instanceof ArrayBuffer ? new Uint8Array(m) : new Uint8Array(m.buffer, m.byteOffset, m.byteLength);
    let s = "";
    for (let i = 0; i < u8.length; i++) s += String.fromCharCode(u8[i]);
    return s;
  };

  // The handle of an accepted connection (made afresh after hibernation).
  const handle = (id) => {
    let ws = handles.get(id);
    if (ws === undefined) {
      ws = WebSocket._make(true);
      ws._id = id;
      ws._accepted = true;
      ws._state = OPEN;
      handles.set(id, ws);
    }
    return ws;
  };

  const ctx = {
    acceptWebSocket(ws, tags = []) {
      if (!(ws instanceof WebSocket) || !ws._server) {
        throw new TypeError("acceptWebSocket() takes the server end of a WebSocketPair.");
      }
      if (ws._accepted) throw new TypeError("This WebSocket has already been accepted.");
      ws._accepted = true;
      ws._tags = [...tags].map(String);
      if (ws._id !== null) host.wsAccept(ws._id, ws._tags);
    },
    getWebSockets(tag) {
      return host.wsList(tag === undefined || tag === null ? null : String(tag)).map(handle);
    },
    getTags(ws) {
      return ws._id === null ? [...ws._tags] : host.wsTags(ws._id);
    },
    setWebSocketAutoResponse(pair) {
      if (pair === undefined || pair === null) host.wsSetAutoResponse(null, null);
      else host.wsSetAutoResponse(pair.request, pair.response);
    },
    getWebSocketAutoResponse() {
      const pair = host.wsGetAutoResponse();
      return pair === null ? null : new WebSocketRequestResponsePair(pair[0], pair[1]);
    },
    getWebSocketAutoResponseTimestamp(ws) {
      const ms = ws && ws._id !== null ? host.wsAutoResponseTimestamp(ws._id) : null;
      return ms === null ? null : new RealDate(ms);
    },
  };

  // Socket events, as the Rust side starts them (see `SOCKET_EVENTS` in object.rs).
  const events = {
    // A client's upgrade request: the object's fetch must answer 101 with the client end
    // of a pair whose server end it accepted.
    async "#ws-open"(object, id, request) {
      if (typeof object.fetch !== "function") throw new TypeError("the Durable Object has no fetch handler to upgrade a WebSocket");
      const response = await object.fetch(request);
      const client = isResponse(response) ? response.webSocket : null;
      if (!client || response.status !== 101) {
        const status = isResponse(response) ? response.status : typeof response;
        throw new TypeError(`the WebSocket upgrade was answered with ${status}, not 101 with a WebSocket`);
      }
      const server = client._peer;
      if (!server._accepted) {
        throw new TypeError("dosim supports hibernatable WebSockets only: accept the server end with ctx.acceptWebSocket().");
      }
      server._bind(id);
    },
    "#ws-message"(object, id, message) {
      if (typeof object.webSocketMessage === "function") return object.webSocketMessage(handle(id), message);
    },
    "#ws-close"(object, id, code, reason) {
      const ws = handle(id);
      ws._state = CLOSED;
      if (typeof object.webSocketClose === "function") return object.webSocketClose(ws, code, reason, true);
    },
  };

  globalThis.WebSocket = WebSocket;
  globalThis.WebSocketPair = WebSocketPair;
  globalThis.WebSocketRequestResponsePair = WebSocketRequestResponsePair;
  return { ctx, events };
}
