//! Small helpers for running commands; xtask keeps no dependencies.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;

/// The error type of every task: a message for the person at the terminal.
pub(crate) type Error = Box<dyn std::error::Error>;
/// Result of a task.
pub(crate) type Result<T = ()> = std::result::Result<T, Error>;

/// The workspace root (the parent of `xtask/`).
pub(crate) fn project_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// A command that runs in the workspace root.
pub(crate) fn cmd(program: &str) -> Command {
    let mut c = Command::new(program);
    c.current_dir(project_root());
    c
}

/// `cargo` from the toolchain that runs xtask (rustup stable), in the workspace root.
pub(crate) fn cargo() -> Command {
    cmd(&std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// Prints the command line, runs it, and fails with its exit status when it fails.
pub(crate) fn run(c: &mut Command) -> Result {
    eprintln!("$ {}", show(c));
    let status = c
        .status()
        .map_err(|e| format!("could not start `{}`: {e}", show(c)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed: {status}", show(c)).into())
    }
}

/// Runs a command and returns its standard output (standard error passes through).
pub(crate) fn output(c: &mut Command) -> Result<String> {
    eprintln!("$ {}", show(c));
    let out = c
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("could not start `{}`: {e}", show(c)))?;
    if !out.status.success() {
        return Err(format!("`{}` failed: {}", show(c), out.status).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn show(c: &Command) -> String {
    let mut s = c.get_program().to_string_lossy().into_owned();
    for a in c.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Whether `program` is on PATH.
pub(crate) fn have(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Installs Debian packages (root only; runs `apt-get update` once per xtask process).
pub(crate) fn apt_install(packages: &[&str]) -> Result {
    static UPDATE: Once = Once::new();
    let mut update = Ok(());
    UPDATE.call_once(|| update = run(cmd("apt-get").args(["update", "-qq"])));
    update?;
    run(cmd("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}
