//! The command's one error type: a message for stderr.

use std::fmt;
use std::path::Path;

/// A failure of a command, reported on stderr with exit status 1.
#[derive(Debug)]
pub(crate) struct CliError(String);

/// The result of every fallible step of a command.
pub(crate) type Result<T, E = CliError> = std::result::Result<T, E>;

impl CliError {
    /// An error with this message.
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    /// An I/O failure on `path`: "`<path>`: `<doing>` it: `<error>`".
    pub(crate) fn io(path: &Path, doing: &str, e: &std::io::Error) -> Self {
        Self(format!("{}: {doing} the file: {e}", path.display()))
    }

    /// An index error on `path`.
    pub(crate) fn index(path: &Path, e: &edgevec::Error) -> Self {
        Self(format!("{}: {e}", path.display()))
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
