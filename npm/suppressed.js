"use strict";
// The error a `withLock` throws when both its callback and the release failed: neither is lost.

function suppressed(releaseError, callbackError, message) {
  if (typeof SuppressedError === "function") return new SuppressedError(releaseError, callbackError, message);
  return Object.assign(new Error(message), { name: "SuppressedError", error: releaseError, suppressed: callbackError });
}

module.exports = { suppressed };
