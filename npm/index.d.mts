// Types of the ES module entry (index.mjs): the very declarations of the CommonJS entry
// (index.d.ts), re-exported, plus the default export index.mjs also has.
export * from "./index.js";
import * as lock from "./index.js";
export default lock;
