// `node:buffer`: the global `Buffer` (buffer_global.js) and its neighbours.
export const Buffer = globalThis.Buffer;
export const Blob = globalThis.Blob;
export const File = globalThis.File;
export const atob = globalThis.atob;
export const btoa = globalThis.btoa;
export const kMaxLength = 2 ** 32;
export const kStringMaxLength = 2 ** 29 - 24;
export const constants = { MAX_LENGTH: kMaxLength, MAX_STRING_LENGTH: kStringMaxLength };
export const INSPECT_MAX_BYTES = 50;
export default { Buffer, Blob, File, atob, btoa, kMaxLength, kStringMaxLength, constants, INSPECT_MAX_BYTES };
