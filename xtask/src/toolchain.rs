//! The cross toolchain: Debian's Rust ("rustc-web") with its std source, linked into rustup as
//! `debian-web` and used with `-Z build-std`, because rustup here carries only the x86_64 std
//! and cannot download other targets. See docs/ARCHITECTURE.md, "Cross targets".

use std::process::Command;

use crate::util::{Result, apt_install, cmd, output, run};

/// The exact Debian version that is known to work with its own std source.
pub(crate) const DEBIAN_RUST_VERSION: &str = "1.96.0+dfsg1-1~deb12u2";
/// The rustup name the Debian toolchain is linked under.
pub(crate) const TOOLCHAIN: &str = "debian-web";

/// Installs Debian's Rust + std source (and `extra` packages) and links it into rustup, unless
/// that is already done.
pub(crate) fn ensure_debian_rust(extra: &[&str]) -> Result {
    let have_src = std::path::Path::new("/usr/lib/rustlib/src/rust/library/std").is_dir();
    let missing_extra = extra.iter().any(|p| !dpkg_installed(p));
    if !have_src || missing_extra {
        let pinned: Vec<String> = ["rustc-web", "cargo-web", "rust-web-src"]
            .iter()
            .map(|p| format!("{p}={DEBIAN_RUST_VERSION}"))
            .collect();
        let mut all: Vec<&str> = pinned.iter().map(String::as_str).collect();
        all.extend_from_slice(extra);
        apt_install(&all)?;
    }
    let linked = output(cmd("rustup").args(["toolchain", "list"]))?;
    if !linked.lines().any(|l| l.starts_with(TOOLCHAIN)) {
        run(cmd("rustup").args(["toolchain", "link", TOOLCHAIN, "/usr"]))?;
    }
    Ok(())
}

fn dpkg_installed(package: &str) -> bool {
    let name = package.split('=').next().unwrap_or(package);
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", name])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

/// `cargo +debian-web` with `RUSTC_BOOTSTRAP=1` (needed for `-Z build-std`), with the rustup
/// environment of the calling cargo removed so the toolchain override takes effect.
pub(crate) fn debian_cargo() -> Command {
    let mut c = cmd("cargo");
    c.arg(format!("+{TOOLCHAIN}"))
        .env("RUSTC_BOOTSTRAP", "1")
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("RUSTDOC");
    c
}
