"use strict";
// Loads the native addon, as napi-rs packages do, from the first of:
//   1. SESSION_WRITE_LOCK_NATIVE_PATH, when set: a .node file (a custom build);
//   2. session-write-lock.<platform>.node next to this file: the build of a checkout
//      (`npm run build` in npm/, or scripts/build-node.sh);
//   3. the package session-write-lock-<platform>, which npm installs as an optional dependency
//      on the platforms in package.json's optionalDependencies.
// Windows has two builds, and no libc to tell them apart by: there <platform> is tried as
// win32-<arch>-msvc, then win32-<arch>-gnu (see platformNames).

const { existsSync } = require("node:fs");
const path = require("node:path");
const { optionalDependencies } = require("./package.json");

const REPOSITORY = "https://github.com/session-write-lock/session-write-lock";

/** napi-rs platform names, in the order to try: linux-x64-gnu, darwin-arm64, win32-x64-msvc, … */
function platformNames() {
  const { platform, arch } = process;
  if (platform === "linux") return [`linux-${arch}-${glibcVersion() ? "gnu" : "musl"}`];
  // npm installs both on Windows (os and cpu match both). The msvc build first: it is built
  // with Windows' own toolchain and tested on Windows by the release workflow; the gnu build
  // (mingw-w64, tested under wine) where it is the only one, e.g. built from a checkout.
  if (platform === "win32") return [`win32-${arch}-msvc`, `win32-${arch}-gnu`];
  return [`${platform}-${arch}`];
}

/** The C library's version from Node's diagnostic report, which names it only on glibc. The
 * report without its network part: that part resolves host names, which can stall start-up. */
function glibcVersion() {
  const report = process.report;
  const excluded = report.excludeNetwork;
  report.excludeNetwork = true;
  try {
    return report.getReport().header.glibcVersionRuntime;
  } finally {
    report.excludeNetwork = excluded;
  }
}

function loadNative() {
  const override = process.env.SESSION_WRITE_LOCK_NATIVE_PATH;
  if (override) return require(path.resolve(override));

  const platforms = platformNames();
  const locals = platforms.map((name) => path.join(__dirname, `session-write-lock.${name}.node`));
  const local = locals.find((file) => existsSync(file));
  if (local) return require(local);

  const packageNames = platforms.map((platform) => `session-write-lock-${platform}`);
  let missing;
  for (const packageName of packageNames) {
    try {
      return require(packageName);
    } catch (error) {
      // A package that is there but fails to load (wrong libc, corrupt file) speaks for itself.
      if (error?.code !== "MODULE_NOT_FOUND" || !String(error.message).includes(packageName)) {
        throw error;
      }
      missing ??= error;
    }
  }
  const platform = platforms.join(" or ");
  const supported = packageNames.some((name) => Object.hasOwn(optionalDependencies ?? {}, name));
  const packages = packageNames.join(" or ");
  const why = supported
    ? `npm installs ${packages} with session-write-lock as an optional dependency; it is ` +
      `missing (installed with --omit=optional, or a lockfile made on another platform?): ` +
      `reinstall session-write-lock`
    : `there is no prebuilt addon for ${platform}; supported: ` +
      Object.keys(optionalDependencies ?? {})
        .map((name) => name.replace("session-write-lock-", ""))
        .join(", ");
  throw new Error(
    `session-write-lock: no native addon for ${platform} ` +
      `(${process.platform} ${process.arch}). Looked for the package ${packages} and for ` +
      `${locals.join(" and ")}. ${why}. To build it from source (needs Rust): ` +
      `git clone ${REPOSITORY}, then in its npm/ directory run ` +
      `\`npm install --omit=optional && npm run build\`, or set ` +
      `SESSION_WRITE_LOCK_NATIVE_PATH to a built .node file.`,
    { cause: missing },
  );
}

module.exports = loadNative();
