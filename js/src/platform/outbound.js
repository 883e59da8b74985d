// Outbound `fetch` on dosim's simulated network: the request goes to the responder the run
// registered for its host (a 404 when none is), never out of the process. The Rust side
// (`host.fetch`) holds it behind the output gate, draws the network's faults and records
// the exchange; a failed connection or a timeout rejects with a `TypeError`, as workerd's.
// `Request`/`Response` are the platform's (platform/fetch.js), taken when first used.
function installFetch(host) {
  globalThis.fetch = function fetch(input, init) {
    const [Request, Response, URL] = globalThis.__dosimPlatform("Request", "Response", "URL");
    if (!(input instanceof Request) && URL.parse(String(input)) === null) {
      return Promise.reject(new TypeError(`Fetch API cannot load: ${String(input)}`));
    }
    let request;
    let sent;
    try {
      request = input instanceof Request && init === undefined ? input : new Request(input, init);
      sent = host.fetch(request.method, request.url, JSON.stringify(Object.fromEntries(request.headers)), request._body);
    } catch (e) {
      return Promise.reject(e);
    }
    return sent.then(([status, headersText, body]) => {
      const headers = JSON.parse(headersText);
      const response = new Response(body, { status, headers });
      // The responder's headers exactly: no content-type a text body would imply.
      if (!Object.keys(headers).some((k) => k.toLowerCase() === "content-type")) response.headers.delete("content-type");
      Object.defineProperty(response, "url", { value: request.url, enumerable: false });
      return response;
    });
  };
}
