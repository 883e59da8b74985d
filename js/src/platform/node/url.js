// `node:url`: the WHATWG classes (url.js) and the two path helpers code reaches for.
export const URL = globalThis.URL;
export const URLSearchParams = globalThis.URLSearchParams;
export function fileURLToPath(url) {
  const u = typeof url === "string" ? new URL(url) : url;
  if (u.protocol !== "file:") throw new TypeError("The URL must be of scheme file");
  return decodeURIComponent(u.pathname);
}
export function pathToFileURL(path) {
  return new URL("file://" + encodeURI(String(path)));
}
export default { URL, URLSearchParams, fileURLToPath, pathToFileURL };
