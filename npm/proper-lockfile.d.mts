// Types of the ES module entry (proper-lockfile.mjs): the CommonJS entry's functions and types,
// and the module itself (`lock`, with the others as its properties) as the default export.
import properLockfile = require("./proper-lockfile.js");

export default properLockfile;
export declare const lock: typeof properLockfile.lock;
export declare const unlock: typeof properLockfile.unlock;
export declare const check: typeof properLockfile.check;
export declare const lockSync: typeof properLockfile.lockSync;
export declare const unlockSync: typeof properLockfile.unlockSync;
export declare const checkSync: typeof properLockfile.checkSync;
export type RetryOptions = properLockfile.RetryOptions;
export type FileSystem = properLockfile.FileSystem;
export type LockError = properLockfile.LockError;
export type LockOptions = properLockfile.LockOptions;
export type UnlockOptions = properLockfile.UnlockOptions;
export type CheckOptions = properLockfile.CheckOptions;
