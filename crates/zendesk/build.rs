//! The guest's shadow stack is 256 KiB instead of Rust's default 1 MiB. It sits first in linear
//! memory, so a smaller one moves the data and the heap, the pages a call touches, down into the
//! first 512 KiB: the part the host's instance pool keeps resident between calls, so a new
//! instance starts without page faults.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg=-zstack-size=262144");
    }
}
