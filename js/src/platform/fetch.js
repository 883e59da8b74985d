// Outbound `fetch` on dosim's simulated network: the request goes to the responder the run
// registered for its host (a 404 when none is), never out of the process. The Rust side
// (`host.fetch`) holds it behind the output gate, draws the network's faults and records
// the exchange; a failed connection or a timeout rejects with a `TypeError`, as workerd's.
function installFetch(host, { Request, Response }) {
  globalThis.fetch = function fetch(input, init) {
    let request;
    try {
      request = input instanceof Request && init === undefined ? input : new Request(input, init);
    } catch (e) {
      return Promise.reject(e);
    }
    let sent;
    try {
      sent = host.fetch(request.method, request.url, JSON.stringify(request.headers.toJSON()), request._body);
    } catch (e) {
      return Promise.reject(e);
    }
    return sent.then(([status, headersText, body]) => {
        const response = new Response(body, { status, headers: JSON.parse(headersText) });
        response.url = request.url;
        return response;
      });
  };
}
