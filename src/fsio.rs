//! Checked file access for everything stylecam reads from a path the user gave.
//!
//! Before a byte is read, [`check_file`] looks at the path's metadata (`stat`, which never opens
//! it, so a FIFO without a writer cannot hang us) and refuses what is not a regular file: a folder,
//! a FIFO, a socket, a character or block device (`/dev/zero` would otherwise be read until the
//! kernel kills the process). It then compares the size with the limit of the file's [`Kind`].
//! [`read_file`] reads at most that limit even if the file grows meanwhile.
//!
//! [`walk_images`] lists the image files of a folder tree with `walkdir` (symlinks followed, with
//! its loop detection), and reports each entry it skipped instead of dropping it silently.

use std::fs::{File, Metadata};
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// What a file is read as; decides the size limit and the wording of errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A still image (decoded whole).
    Image,
    /// A video container (streamed; its index is read whole by the MP4 reader).
    Video,
    /// An ONNX model (read whole).
    Model,
    /// A small text file (profiles, reports).
    Text,
}

impl Kind {
    /// Largest file accepted, in bytes.
    pub fn max_bytes(self) -> u64 {
        match self {
            Kind::Image => 1 << 30,
            Kind::Video => 1 << 40,
            Kind::Model => 2 << 30,
            Kind::Text => 256 << 20,
        }
    }

    /// How the file is named in messages ("an image file").
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Image => "an image file",
            Kind::Video => "a video file",
            Kind::Model => "an ONNX model file (.onnx)",
            Kind::Text => "a text file",
        }
    }
}

fn input_error(path: &Path, reason: String) -> Error {
    Error::Input {
        path: path.to_path_buf(),
        reason,
    }
}

/// What a non-regular, non-folder file is, in words ("a FIFO (named pipe)").
pub fn special_kind(meta: &Metadata) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if t.is_socket() {
            return Some("a socket");
        }
        if t.is_char_device() {
            return Some("a character device");
        }
        if t.is_block_device() {
            return Some("a block device");
        }
    }
    if meta.is_file() || meta.is_dir() {
        None
    } else {
        Some("not a regular file")
    }
}

/// Checks that `path` is a non-empty regular file within `kind`'s size limit; returns its
/// metadata. Never opens the file.
pub fn check_file(path: &Path, kind: Kind) -> Result<Metadata> {
    let meta = std::fs::metadata(path).map_err(|e| {
        let reason = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file; check the path".to_string(),
            std::io::ErrorKind::PermissionDenied => {
                "permission denied; check the file's permissions".to_string()
            }
            _ => e.to_string(),
        };
        input_error(path, reason)
    })?;
    if meta.is_dir() {
        return Err(input_error(
            path,
            format!("is a folder, expected {}", kind.noun()),
        ));
    }
    if let Some(what) = special_kind(&meta) {
        return Err(input_error(
            path,
            format!("is {what}, not a regular file; give {}", kind.noun()),
        ));
    }
    if meta.len() == 0 {
        return Err(input_error(path, "the file is empty (0 bytes)".into()));
    }
    if meta.len() > kind.max_bytes() {
        return Err(input_error(
            path,
            format!(
                "the file is {} MiB, more than the {} MiB accepted for {}",
                meta.len() >> 20,
                kind.max_bytes() >> 20,
                kind.noun()
            ),
        ));
    }
    Ok(meta)
}

/// [`check_file`], then opens it for reading.
pub fn open_file(path: &Path, kind: Kind) -> Result<(File, Metadata)> {
    let meta = check_file(path, kind)?;
    let file = File::open(path).map_err(|e| input_error(path, e.to_string()))?;
    Ok((file, meta))
}

/// [`check_file`], then reads the whole file (never more than `kind`'s limit).
pub fn read_file(path: &Path, kind: Kind) -> Result<Vec<u8>> {
    let (file, meta) = open_file(path, kind)?;
    let limit = kind.max_bytes();
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(meta.len() as usize)
        .map_err(|_| input_error(path, "not enough memory to read the file".into()))?;
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| input_error(path, e.to_string()))?;
    if bytes.len() as u64 > limit {
        return Err(input_error(
            path,
            format!(
                "the file grew past the {} MiB limit while read",
                limit >> 20
            ),
        ));
    }
    Ok(bytes)
}

/// [`read_file`] for an ONNX model; errors are [`Error::InvalidModel`].
pub fn read_model(path: &Path) -> Result<Vec<u8>> {
    read_file(path, Kind::Model).map_err(|e| match e {
        Error::Input { path, reason } => Error::InvalidModel {
            path,
            problem: reason,
        },
        other => other,
    })
}

/// Checks that `path` is a folder (following symlinks); otherwise the reason, in words, for
/// each case. `what` names it ("the models folder").
pub fn check_dir(path: &Path, what: &str) -> std::result::Result<(), String> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(m) => Err(format!(
            "{what} is {}, not a folder",
            special_kind(&m).unwrap_or("a file")
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!("{what} does not exist")),
        Err(e) => Err(format!("cannot open {what}: {e}")),
    }
}

/// A temporary file in `dir` for an output that is renamed into place when complete
/// (`.stylecam-*.part`). It is created with mode 0666 less the umask, like any new file, rather
/// than `tempfile`'s private 0600: the finished output must respect the user's umask.
pub fn output_tempfile(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".stylecam-").suffix(".part");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(dir)
}

/// An entry a folder walk left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// The files under `dir` (recursively, symlinks followed, sorted) for which `wanted` is true,
/// and the entries that were skipped: symlink loops, unreadable folders, broken links, and
/// wanted names that are not regular files.
pub fn walk_files(dir: &Path, wanted: impl Fn(&Path) -> bool) -> (Vec<PathBuf>, Vec<Skipped>) {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let walk = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name();
    for entry in walk {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e.path().unwrap_or(dir).to_path_buf();
                let reason = match e.loop_ancestor() {
                    Some(a) => format!("a symlink loop back to {}", a.display()),
                    None => e
                        .io_error()
                        .map_or_else(|| e.to_string(), |io| io.to_string()),
                };
                skipped.push(Skipped { path, reason });
                continue;
            }
        };
        let ft = entry.file_type();
        if ft.is_dir() || !wanted(entry.path()) {
            continue;
        }
        if ft.is_file() {
            files.push(entry.into_path());
        } else {
            let what = entry
                .metadata()
                .ok()
                .and_then(|m| special_kind(&m))
                .unwrap_or("not a regular file");
            skipped.push(Skipped {
                path: entry.into_path(),
                reason: what.to_string(),
            });
        }
    }
    files.sort();
    (files, skipped)
}

/// True when `a` and `b` name the same file (compared after resolving links and `..`); two
/// paths of which either does not exist are the same only when they are equal.
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_files_and_sizes_are_refused_before_reading() {
        let d = tempfile::tempdir().unwrap();
        let empty = d.path().join("e.png");
        std::fs::write(&empty, b"").unwrap();
        let msg = check_file(&empty, Kind::Image).unwrap_err().to_string();
        assert!(msg.contains("empty"), "{msg}");
        let msg = check_file(d.path(), Kind::Image).unwrap_err().to_string();
        assert!(msg.contains("is a folder"), "{msg}");
        let msg = read_file(Path::new("/dev/zero"), Kind::Model)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("character device"), "{msg}");
        let msg = check_file(&d.path().join("missing"), Kind::Video)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("no such file"), "{msg}");
        let ok = d.path().join("a.bin");
        std::fs::write(&ok, b"abc").unwrap();
        assert_eq!(read_file(&ok, Kind::Text).unwrap(), b"abc");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_loop_is_walked_once_and_reported() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.png"), b"x").unwrap();
        std::os::unix::fs::symlink(d.path(), d.path().join("self")).unwrap();
        let (files, skipped) = walk_files(d.path(), |p| p.extension().is_some());
        assert_eq!(files, vec![d.path().join("a.png")]);
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert!(skipped[0].reason.contains("symlink loop"), "{skipped:?}");
    }
}
