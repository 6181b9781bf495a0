//! Gives libdcf.so the soname `libdcf.so`, the name DCF's library has and openGauss links
//! against: a host built against DCF loads this library unchanged. Versions are told apart
//! by `dcf_get_version()` and the pkg-config file, not by the file name.
fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libdcf.so");
    println!("cargo:rerun-if-changed=build.rs");
}
