//! The crate's one error type. Every message says what went wrong and what to do about it.

use std::path::PathBuf;

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// libonnxruntime could not be found or loaded anywhere.
    #[error("could not load ONNX Runtime (libonnxruntime).\nPlaces tried:\n{tried}\nFix: run `make setup` (installs it into .venv), or pass --ort-lib /path/to/libonnxruntime.so, or set ORT_DYLIB_PATH")]
    RuntimeNotFound { tried: String },

    /// An explicitly requested execution provider could not start.
    #[error("the {provider} execution provider could not start: {reason}\nFix: use --device cpu (or auto), or install the GPU runtime (`make setup` installs onnxruntime-gpu when an NVIDIA driver is present)")]
    ProviderUnavailable { provider: String, reason: String },

    /// A style model file is unreadable or has the wrong interface.
    #[error("model {}: {problem}", path.display())]
    InvalidModel { path: PathBuf, problem: String },

    /// A style name that is not in the models folder.
    #[error("unknown style '{name}'. Known styles: {known}.\nFix: pick one of those, pass a path to an .onnx file, or point --models at another folder")]
    UnknownStyle { name: String, known: String },

    /// An input file could not be read or decoded.
    #[error("cannot read {}: {reason}", path.display())]
    Input { path: PathBuf, reason: String },

    /// An output file could not be written.
    #[error("cannot write {}: {reason}", path.display())]
    Output { path: PathBuf, reason: String },

    /// A value the user gave is out of range or malformed.
    #[error("{0}")]
    InvalidArgument(String),

    /// The camera could not be listed or opened.
    #[error("camera: {0}")]
    Camera(String),

    /// The window could not be opened or drawn.
    #[error("window: {0}")]
    Window(String),

    /// An output of the live view (pipe, virtual camera, recording) stopped or could not start.
    #[error("{0}")]
    Sink(String),

    /// Video decoding, encoding or (de)muxing failed.
    #[error("video: {0}")]
    Video(String),

    /// ONNX Runtime reported an error while running a model.
    #[error("ONNX Runtime: {0}")]
    Ort(#[from] ort::Error),

    /// Standard output could not be written (a closed pipe or a full disk).
    #[error("cannot write to standard output: {0}; check where the output goes (free disk space, the reading program)")]
    Stdout(std::io::Error),

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
