//! The style registry: every `*.onnx` in a models folder, in a stable order, with names.
//!
//! Names come from the ONNX metadata key `name` (written by `stylecam-train`), falling back to
//! the file stem. Reading the metadata decodes only the protobuf header, so listing is instant
//! even for a folder of large models.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Environment variable naming the models folder.
pub const MODELS_ENV: &str = "STYLECAM_MODELS";

/// One style model found in a models folder.
#[derive(Debug, Clone)]
pub struct StyleEntry {
    /// Display name (metadata `name`, else file stem).
    pub name: String,
    /// The `.onnx` file.
    pub path: PathBuf,
    /// Architecture label from the metadata (e.g. `imfwnet-w32-b5`), if recorded.
    pub architecture: Option<String>,
    /// All metadata entries.
    pub metadata: BTreeMap<String, String>,
}

/// Where the models folder is: `explicit`, else `$STYLECAM_MODELS`, else the first `models/`
/// found next to the executable or in one of its parent folders (so `target/release/stylecam`
/// finds the repository's `models/`), else `./models`.
pub fn models_dir(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os(MODELS_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1) {
            let candidate = dir.join("models");
            if candidate.is_dir() && has_onnx(&candidate) {
                return candidate;
            }
        }
    }
    PathBuf::from("models")
}

fn has_onnx(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().any(|e| is_onnx(&e.path())))
        .unwrap_or(false)
}

fn is_onnx(path: &Path) -> bool {
    path.is_file()
        && path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
}

/// Read a model's metadata without starting ONNX Runtime.
pub fn describe(path: &Path) -> Result<StyleEntry> {
    let bytes = std::fs::read(path).map_err(|e| Error::InvalidModel {
        path: path.to_path_buf(),
        problem: format!("cannot read the file: {e}"),
    })?;
    let info = crate::net::onnx::read_model_info(&bytes).map_err(|e| Error::InvalidModel {
        path: path.to_path_buf(),
        problem: format!("not a readable ONNX model ({e})"),
    })?;
    let metadata = info.metadata;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(StyleEntry {
        name: metadata
            .get("name")
            .filter(|n| !n.trim().is_empty())
            .cloned()
            .unwrap_or(stem),
        path: path.to_path_buf(),
        architecture: metadata.get("architecture").cloned(),
        metadata,
    })
}

/// Every `*.onnx` file in `dir`, sorted by file name. Unreadable models are skipped with a
/// warning (they would fail again when selected, with the full reason).
pub fn discover(dir: &Path) -> Result<Vec<StyleEntry>> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::Input {
        path: dir.to_path_buf(),
        reason: format!(
            "cannot list the models folder ({e}); pass --models DIR or set {MODELS_ENV}"
        ),
    })?;
    let mut paths: Vec<PathBuf> = rd.flatten().map(|e| e.path()).filter(|p| is_onnx(p)).collect();
    paths.sort();
    let mut styles = Vec::with_capacity(paths.len());
    for p in paths {
        match describe(&p) {
            Ok(s) => styles.push(s),
            Err(e) => tracing::warn!("skipping {}: {e}", p.display()),
        }
    }
    Ok(styles)
}

/// Resolve a `--style` argument: a path to an `.onnx` file, or a style name from `dir`
/// (case-insensitive; the file stem also matches).
pub fn resolve(style: &str, dir: &Path) -> Result<StyleEntry> {
    let as_path = Path::new(style);
    let looks_like_path = style.contains(std::path::MAIN_SEPARATOR)
        || as_path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("onnx"));
    if looks_like_path {
        if !as_path.exists() {
            return Err(Error::InvalidModel {
                path: as_path.to_path_buf(),
                problem: "no such file".into(),
            });
        }
        return describe(as_path);
    }
    let styles = discover(dir).unwrap_or_default();
    let wanted = style.to_lowercase();
    if let Some(found) = styles.iter().find(|s| {
        s.name.to_lowercase() == wanted
            || s.path
                .file_stem()
                .is_some_and(|f| f.to_string_lossy().to_lowercase() == wanted)
    }) {
        return Ok(found.clone());
    }
    let known = if styles.is_empty() {
        format!("none (no .onnx files in {})", dir.display())
    } else {
        styles
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(Error::UnknownStyle {
        name: style.to_string(),
        known,
    })
}
