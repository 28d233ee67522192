// The ES module entry of session-write-lock/proper-lockfile: the same functions as the CommonJS
// one, and `lock` as the default export, as proper-lockfile's.
import properLockfile from "./proper-lockfile.js";

export default properLockfile;
export const { lock, unlock, check, lockSync, unlockSync, checkSync } = properLockfile;
