//! Writing to standard output and standard error without panicking.
//!
//! `println!` panics when stdout is a closed pipe (`stylecam styles | head -c1`) or a full disk
//! (`>/dev/full`), and `eprintln!` does the same for stderr. The binaries print through these
//! macros instead:
//! - [`outln!`](crate::outln) / [`out!`](crate::out) return a [`crate::Error::Stdout`] that the
//!   binary turns into an exit: a broken pipe ends the program quietly with status 0 (the reader
//!   has what it wanted, as with `ripgrep` or `ls | head`), any other failure (a full disk) is an
//!   error message and a non-zero status. Call [`flush_stdout`] before exiting: output left in
//!   the buffer would otherwise be lost without an error.
//! - [`note!`](crate::note) writes a diagnostic line to stderr and ignores failure: a closed
//!   stderr must not stop a job that is writing files.

use std::io::Write;

use crate::{Error, Result};

/// Writes `args` to stdout (buffered; see [`flush_stdout`]).
pub fn write_stdout(args: std::fmt::Arguments<'_>) -> Result<()> {
    std::io::stdout()
        .lock()
        .write_fmt(args)
        .map_err(Error::Stdout)
}

/// Flushes stdout, reporting what the buffer could not write.
pub fn flush_stdout() -> Result<()> {
    std::io::stdout().lock().flush().map_err(Error::Stdout)
}

/// Writes `args` to stderr, ignoring failure (diagnostics never stop the work).
pub fn write_stderr(args: std::fmt::Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// True when `err` or one of its sources is a failed stdout write on a closed pipe.
pub fn is_broken_pipe(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(Error::Stdout(io)) = e.downcast_ref::<Error>() {
            return io.kind() == std::io::ErrorKind::BrokenPipe;
        }
        cur = e.source();
    }
    false
}

/// `println!` to stdout that returns `Result<(), stylecam::Error>` instead of panicking.
#[macro_export]
macro_rules! outln {
    () => { $crate::output::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` to stdout that returns `Result<(), stylecam::Error>` instead of panicking.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::write_stdout(format_args!($($arg)*)) };
}

/// `eprintln!` that ignores a closed or full stderr.
#[macro_export]
macro_rules! note {
    ($($arg:tt)*) => {
        $crate::output::write_stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_stdout_broken_pipe_counts_as_one() {
        let pipe = Error::Stdout(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert!(is_broken_pipe(&pipe));
        let full = Error::Stdout(std::io::Error::from_raw_os_error(28));
        assert!(!is_broken_pipe(&full));
        assert!(full.to_string().contains("standard output"), "{full}");
        let file = Error::io("x", std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert!(!is_broken_pipe(&file));
    }
}
