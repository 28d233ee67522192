//! Gives the shared library the SONAME (ELF) or install name (Mach-O) of its major version, so
//! programs linked against it keep working across compatible releases.

fn main() {
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    match std::env::var("CARGO_CFG_TARGET_OS").as_deref() {
        Ok("macos" | "ios") => println!(
            "cargo:rustc-cdylib-link-arg=-Wl,-install_name,@rpath/libsession_write_lock.{major}.dylib"
        ),
        Ok("windows") => {}
        _ => println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libsession_write_lock.so.{major}"),
    }
}
