"use strict";
// Loads the native addon, napi-rs style: the file scripts/build-node.sh puts into this checkout
// (npm/<platform>/), else the per-platform package npm installed as an optional dependency.

const { existsSync } = require("node:fs");
const path = require("node:path");

/** napi-rs platform names: linux-x64-gnu, linux-arm64-musl, darwin-arm64, … */
function platformName() {
  const { platform, arch } = process;
  if (platform !== "linux") return `${platform}-${arch}`;
  const glibc = process.report.getReport().header.glibcVersionRuntime;
  return `linux-${arch}-${glibc ? "gnu" : "musl"}`;
}

function loadNative() {
  const platform = platformName();
  const local = path.join(__dirname, "npm", platform, `session-write-lock.${platform}.node`);
  if (existsSync(local)) return require(local);
  const packageName = `session-write-lock-${platform}`;
  try {
    return require(packageName);
  } catch (error) {
    throw new Error(
      `session-write-lock: no native addon for ${platform}. Looked for ${local} ` +
        `(a checkout builds it with scripts/build-node.sh) and for the package ${packageName} ` +
        `(npm installs it with this package on supported platforms): ${error.message}`,
      { cause: error },
    );
  }
}

module.exports = loadNative();
