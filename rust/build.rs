//! `cfg(kame_avx512)` when the compiler has the AVX-512 intrinsics as
//! stable (Rust 1.89 and later): the checksum's AVX-512 path
//! (`cksum::sum_block_avx512`) is built then; with an older compiler (the
//! crate's `rust-version` is older) the AVX2 and portable paths alone.
use std::process::Command;

fn main() {
    println!("cargo:rustc-check-cfg=cfg(kame_avx512)");
    println!("cargo:rerun-if-env-changed=RUSTC");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let minor = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|v| v.split_whitespace().nth(1).and_then(|n| n.split('.').nth(1).and_then(|m| m.parse::<u32>().ok())));
    if minor.is_some_and(|m| m >= 89) {
        println!("cargo:rustc-cfg=kame_avx512");
    }
}
