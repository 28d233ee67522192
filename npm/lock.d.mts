// Types of the ES module entry (lock.mjs): the declarations of the CommonJS entry (lock.d.ts),
// re-exported.
export * from "./lock.js";
