//! The trainer's one error type. Every message says what went wrong and what to do about it.

use std::path::PathBuf;

/// Result alias used throughout the trainer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value the user gave is out of range or malformed.
    #[error("{0}")]
    InvalidArgument(String),

    /// The VGG16 weights file is unreadable, incomplete or has wrong shapes.
    #[error("VGG16 weights {}: {problem}\nFix: convert torchvision's vgg16-397923af.pth with `python training/convert_vgg16.py vgg16-397923af.pth vgg16.safetensors` (see training/README.md), or pass --vgg random:0 (weaker styles)", path.display())]
    Vgg { path: PathBuf, problem: String },

    /// The training folder holds no usable image.
    #[error("no usable training images in {}: {detail}\nFix: point --data at a folder with .jpg/.png/.webp photos (searched recursively)", dir.display())]
    NoImages { dir: PathBuf, detail: String },

    /// An input file (style image, checkpoint, …) could not be read or decoded.
    #[error("cannot read {}: {reason}", path.display())]
    Input { path: PathBuf, reason: String },

    /// An output file could not be written.
    #[error("cannot write {}: {reason}", path.display())]
    Output { path: PathBuf, reason: String },

    /// A model file to evaluate is unreadable or not a stylecam ImfwNet.
    #[error("model {}: {problem}\nFix: check the path; --model takes .onnx files written by stylecam-train (`train`, `export` or `init`)", path.display())]
    Model { path: PathBuf, problem: String },

    /// A checkpoint is missing, unreadable or does not match the requested run.
    #[error("checkpoint {}: {problem}", path.display())]
    Checkpoint { path: PathBuf, problem: String },

    /// A loss became NaN or infinite.
    #[error("training diverged at step {step}: the {term} loss is {value}. Nothing after the last good checkpoint was kept ({last_good}).\nFix: lower --lr or the loss weights (--style-weight/--content-weight/--tv-weight), then continue with --resume")]
    Diverged {
        step: u64,
        term: &'static str,
        value: f64,
        last_good: String,
    },

    /// The exported ONNX file does not compute what the tch network computes.
    #[error("exported model {} disagrees with the tch network: max |ONNX − tch| = {max_abs_diff:e} (> {tolerance:e}). The file was kept for inspection; please report this as a bug", path.display())]
    ExportMismatch {
        path: PathBuf,
        max_abs_diff: f64,
        tolerance: f64,
    },

    /// A libtorch operation failed (e.g. CUDA out of memory).
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),

    /// The app crate (ONNX writer, runtime loader) reported an error.
    #[error(transparent)]
    App(#[from] stylecam::Error),

    /// ONNX Runtime failed while verifying an export.
    #[error("ONNX Runtime: {0}")]
    Ort(#[from] ort::Error),

    /// Any other I/O failure, with the path it concerned.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Helper: wrap an `io::Error` with the path it concerned.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
