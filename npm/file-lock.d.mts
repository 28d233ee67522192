// Types of the ES module entry (file-lock.mjs): the declarations of the CommonJS entry
// (file-lock.d.ts), re-exported.
export * from "./file-lock.js";
