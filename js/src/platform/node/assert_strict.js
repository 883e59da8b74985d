// `node:assert/strict`: the strict assertions as the module's default and names.
import { strict } from "node:assert";
export const { AssertionError, ok, fail, ifError, throws, doesNotThrow, rejects, doesNotReject, match, doesNotMatch } = strict;
export const { equal, notEqual, deepEqual, notDeepEqual, strictEqual, notStrictEqual, deepStrictEqual, notDeepStrictEqual } = strict;
export { strict };
export default strict;
