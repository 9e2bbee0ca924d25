//! `cargo xtask aarch64-test`: the edgevec-simd tests cross-built for aarch64-unknown-linux-gnu
//! (NEON) and run under qemu-user.
//!
//! rustup here has no aarch64 std, so this uses Debian's Rust with its std source and
//! `-Z build-std` (see `toolchain`), Debian's aarch64 cross gcc as the linker, and
//! `qemu-aarch64-static` (with the cross libc as its sysroot) as the test runner. All of the
//! configuration is passed as environment variables of these cargo calls, and the build goes to
//! its own target directory (target/aarch64), so it never disturbs the native stable build.

use std::process::Command;

use crate::toolchain::{debian_cargo, ensure_debian_rust};
use crate::util::{Result, project_root, run};

const TARGET: &str = "aarch64-unknown-linux-gnu";

/// Debian packages: the cross linker, the aarch64 C library it links against (also the sysroot
/// qemu loads the dynamic loader and libc from), and qemu-user-static (no library dependencies;
/// the runner is named explicitly, so no binfmt registration is needed).
const PACKAGES: &[&str] = &[
    "gcc-aarch64-linux-gnu",
    "libc6-dev-arm64-cross",
    "qemu-user-static",
];

/// The aarch64 test command: edgevec-simd's unit tests, tests/oracle.rs (proptest + sweep over
/// every available backend, NEON included) and doc-tests, under qemu; then, with
/// `EDGEVEC_SIMD=scalar`, the tests whose meaning depends on the active backend.
pub(crate) fn test() -> Result {
    ensure_debian_rust(PACKAGES)?;
    eprintln!("xtask: edgevec-simd for {TARGET} (NEON) under qemu-user");
    run(&mut aarch64_cargo(&["test", "-p", "edgevec-simd"]))?;
    eprintln!("xtask: aarch64 again with the scalar kernels forced (EDGEVEC_SIMD=scalar)");
    // The oracle suite runs over every available backend whatever the active one is, so it is
    // not repeated (under qemu that would double the time); only the unit tests and the check
    // that the free functions use the active backend are.
    run(aarch64_cargo(&["test", "-p", "edgevec-simd", "--lib"]).env("EDGEVEC_SIMD", "scalar"))?;
    run(aarch64_cargo(&[
        "test",
        "-p",
        "edgevec-simd",
        "--test",
        "oracle",
        "free_functions_use_the_active_backend",
    ])
    .env("EDGEVEC_SIMD", "scalar"))?;
    Ok(())
}

/// `cargo +debian-web <args> --target aarch64-unknown-linux-gnu -Z build-std`, with the linker,
/// the qemu runner and the separate target directory set for this call only.
fn aarch64_cargo(args: &[&str]) -> Command {
    let mut c = debian_cargo();
    c.args(args)
        .args(["--target", TARGET, "-Z", "build-std"])
        .env(
            "CARGO_TARGET_DIR",
            project_root().join("target").join("aarch64"),
        )
        .env(
            "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER",
            "aarch64-linux-gnu-gcc",
        )
        .env(
            "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER",
            "qemu-aarch64-static -L /usr/aarch64-linux-gnu",
        );
    c
}
