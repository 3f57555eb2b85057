//! Finding and loading `libonnxruntime` (ort's `load-dynamic` mode), once per process.
//!
//! Search order (first that loads wins):
//! 1. an explicit path (`--ort-lib PATH`) — when given, it is the only place tried;
//! 2. `$ORT_DYLIB_PATH`;
//! 3. next to the current executable, and in its `../lib`;
//! 4. a project `.venv`: `<dir>/.venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.*`
//!    where `<dir>` walks up from the executable's folder and from the current folder (so
//!    `target/debug/stylecam` finds `<repo>/.venv`);
//! 5. the system loader (`libonnxruntime.so`, `libonnxruntime.so.1`).
//!
//! A library older than the ONNX Runtime API this build needs (1.[`ort::MINOR_VERSION`]) is
//! refused with its version. If nothing loads, [`Error::RuntimeNotFound`] lists every place tried
//! and why it failed.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::environment::Environment;

use crate::{Error, Result};

struct Runtime {
    path: PathBuf,
    environment: Environment,
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
static INIT: Mutex<()> = Mutex::new(());

/// Base file name of the library on Linux.
const LIB_NAME: &str = "libonnxruntime.so";

/// Loads ONNX Runtime and creates the process-wide environment; returns the library's path.
///
/// Idempotent: once a library is loaded, later calls return its path. A later call with a
/// different explicit path logs a warning and keeps the loaded library (a process can hold only
/// one ONNX Runtime). Never panics.
pub fn init(explicit: Option<&Path>) -> Result<PathBuf> {
    let _guard = INIT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(rt) = RUNTIME.get() {
        if let Some(p) = explicit {
            if !crate::fsio::same_file(p, &rt.path) {
                tracing::warn!(
                    "ONNX Runtime is already loaded from {}; ignoring --ort-lib {}",
                    rt.path.display(),
                    p.display()
                );
            }
        }
        return Ok(rt.path.clone());
    }

    let mut tried: Vec<String> = Vec::new();
    for candidate in candidates(explicit, &mut tried) {
        match load(&candidate.path) {
            Ok(environment) => {
                let path = std::fs::canonicalize(&candidate.path).unwrap_or(candidate.path);
                tracing::debug!(
                    "ONNX Runtime loaded from {} ({})",
                    path.display(),
                    candidate.origin
                );
                let _ = RUNTIME.set(Runtime {
                    path: path.clone(),
                    environment,
                });
                return Ok(path);
            }
            Err(Failure::Fatal(reason)) => {
                tried.push(format!(
                    "  - {} ({}): {reason}",
                    candidate.path.display(),
                    candidate.origin
                ));
                break;
            }
            Err(Failure::Skip(reason)) => {
                tried.push(format!(
                    "  - {} ({}): {reason}",
                    candidate.path.display(),
                    candidate.origin
                ));
            }
        }
    }
    Err(Error::RuntimeNotFound {
        tried: tried.join("\n"),
    })
}

/// The library path, if [`init`] has succeeded.
pub fn loaded_path() -> Option<PathBuf> {
    RUNTIME.get().map(|rt| rt.path.clone())
}

/// The process-wide environment, initialising the runtime with the default search if needed.
pub fn environment() -> Result<&'static Environment> {
    if RUNTIME.get().is_none() {
        init(None)?;
    }
    Ok(&RUNTIME.get().expect("initialised above").environment)
}

struct Candidate {
    path: PathBuf,
    origin: &'static str,
}

enum Failure {
    /// Try the next candidate.
    Skip(String),
    /// A library was loaded but the environment could not be created: it cannot be unloaded, so
    /// stop searching.
    Fatal(String),
}

fn candidates(explicit: Option<&Path>, tried: &mut Vec<String>) -> Vec<Candidate> {
    if let Some(p) = explicit {
        return vec![Candidate {
            path: p.to_path_buf(),
            origin: "--ort-lib",
        }];
    }
    let mut out = Vec::new();
    match std::env::var_os("ORT_DYLIB_PATH") {
        Some(p) if !p.is_empty() => out.push(Candidate {
            path: PathBuf::from(p),
            origin: "$ORT_DYLIB_PATH",
        }),
        _ => tried.push("  - $ORT_DYLIB_PATH: not set".into()),
    }

    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf));
    if let Some(dir) = &exe_dir {
        for d in [dir.clone(), dir.join("../lib")] {
            let mut found = libraries_in(&d);
            if found.is_empty() {
                tried.push(format!(
                    "  - {}: no {LIB_NAME}* (next to the executable)",
                    d.display()
                ));
            }
            out.extend(found.drain(..).map(|path| Candidate {
                path,
                origin: "next to the executable",
            }));
        }
    }

    let mut starts: Vec<PathBuf> = exe_dir.into_iter().collect();
    if let Ok(cwd) = std::env::current_dir() {
        starts.push(cwd);
    }
    let mut seen_venvs = Vec::new();
    for start in &starts {
        for dir in start.ancestors() {
            let venv = dir.join(".venv");
            if !venv.is_dir() || seen_venvs.contains(&venv) {
                continue;
            }
            let found = venv_libraries(&venv);
            if found.is_empty() {
                tried.push(format!(
                    "  - {}: no lib/python3*/site-packages/onnxruntime/capi/{LIB_NAME}.*",
                    venv.display()
                ));
            }
            out.extend(found.into_iter().map(|path| Candidate {
                path,
                origin: "project .venv",
            }));
            seen_venvs.push(venv);
        }
    }
    if seen_venvs.is_empty() {
        tried.push(format!(
            "  - .venv: none in {} or their parent folders",
            starts
                .iter()
                .map(|s| s.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }

    for name in [LIB_NAME.to_string(), format!("{LIB_NAME}.1")] {
        out.push(Candidate {
            path: PathBuf::from(name),
            origin: "system loader",
        });
    }
    out
}

/// `libonnxruntime.so`, `.so.1` and `.so.1.x.y` files in `dir`, most specific name last.
fn libraries_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n == LIB_NAME || n.starts_with(&format!("{LIB_NAME}.")))
        })
        .collect();
    found.sort();
    found
}

fn venv_libraries(venv: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(venv.join("lib")) else {
        return Vec::new();
    };
    let mut pythons: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("python3"))
        })
        .collect();
    pythons.sort();
    pythons
        .iter()
        .flat_map(|py| libraries_in(&py.join("site-packages/onnxruntime/capi")))
        .collect()
}

fn load(path: &Path) -> Result<Environment, Failure> {
    // A bare name that is not a file here goes to the system loader; anything else is a file,
    // made absolute against the current folder (ort would resolve relative paths against the
    // executable's folder first).
    let is_bare = path.components().count() == 1 && !path.exists();
    let absolute;
    let path = if is_bare {
        // ort resolves bare names via the executable's folder and panics if it has none.
        if std::env::current_exe().is_err() {
            return Err(Failure::Skip(
                "skipped: the executable's path is unknown".into(),
            ));
        }
        path
    } else {
        if !path.exists() {
            return Err(Failure::Skip("not found".into()));
        }
        if path.is_dir() {
            return Err(Failure::Skip("is a folder, not a library file".into()));
        }
        absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        &absolute
    };
    let builder = ort::init_from(path).map_err(|e| Failure::Skip(describe_load_error(&e)))?;
    builder
        .with_name("stylecam")
        .with_telemetry(false)
        .build()
        .map_err(|e| {
            Failure::Fatal(format!(
                "loaded, but creating the ONNX Runtime environment failed: {e}"
            ))
        })
}

fn describe_load_error(e: &ort::LoadDynamicError) -> String {
    match e {
        ort::LoadDynamicError::BadVersion { version_str, .. } => format!(
            "ONNX Runtime {version_str} is too old: stylecam needs 1.{}.0 or newer",
            ort::MINOR_VERSION
        ),
        ort::LoadDynamicError::Dlopen { error, .. } => {
            // libloading's Display is just "dlopen failed"; the loader's reason is the source.
            match std::error::Error::source(error) {
                Some(reason) => format!("failed to load: {reason}"),
                None => format!("failed to load: {error}"),
            }
        }
        ort::LoadDynamicError::MissingApi { .. } => {
            "failed to load: not an ONNX Runtime library (no OrtGetApiBase symbol)".into()
        }
        other => format!("failed to load: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn venv_search_finds_versioned_library_only_inside_capi() {
        let d = tempfile::tempdir().unwrap();
        let capi = d
            .path()
            .join(".venv/lib/python3.11/site-packages/onnxruntime/capi");
        std::fs::create_dir_all(&capi).unwrap();
        std::fs::write(capi.join("libonnxruntime.so.1.32.0"), b"x").unwrap();
        std::fs::write(capi.join("onnxruntime_pybind11_state.so"), b"x").unwrap();
        let found = venv_libraries(&d.path().join(".venv"));
        assert_eq!(found, vec![capi.join("libonnxruntime.so.1.32.0")]);
        assert!(venv_libraries(&d.path().join("missing")).is_empty());
    }
}
