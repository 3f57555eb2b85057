//! `--device auto|cpu|cuda|tensorrt` → execution providers, and which one actually runs.
//!
//! * `auto` tries CUDA, then CPU. If CUDA cannot start, one info line says why and the session
//!   runs on the CPU.
//! * `cuda` / `tensorrt` must start, or [`Error::ProviderUnavailable`] carries ONNX Runtime's
//!   reason. TensorRT is only used when asked for (engine builds take minutes); CUDA backs it for
//!   nodes TensorRT does not take.
//! * `cpu` never touches a GPU.
//!
//! Providers are registered with `error_on_failure`, so a provider that cannot start is reported
//! instead of silently replaced by the CPU.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use ort::ep::{self, ExecutionProviderDispatch};
use ort::session::builder::SessionBuilder;
use ort::session::Session;

use super::runtime;
use super::stylizer::EngineOptions;
use crate::{Error, Result};

/// What the user asked for (`--device`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DeviceChoice {
    /// CUDA when it starts, else CPU.
    #[default]
    Auto,
    /// CPU only.
    Cpu,
    /// CUDA, or fail.
    Cuda,
    /// TensorRT (with CUDA for the rest), or fail.
    TensorRt,
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceChoice::Auto => "auto",
            DeviceChoice::Cpu => "cpu",
            DeviceChoice::Cuda => "cuda",
            DeviceChoice::TensorRt => "tensorrt",
        })
    }
}

/// The execution provider a session actually runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    Cpu,
    Cuda,
    TensorRt,
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Provider::Cpu => "CPU",
            Provider::Cuda => "CUDA",
            Provider::TensorRt => "TensorRT",
        })
    }
}

static CUDA_FALLBACK_LOGGED: AtomicBool = AtomicBool::new(false);

/// The model as stored, and optionally a CPU-lowered form of it (see [`crate::net::graph`]).
pub(crate) struct ModelBytes<'a> {
    pub stored: &'a [u8],
    /// Used instead of `stored` when the session runs on the CPU.
    pub cpu: Option<&'a [u8]>,
    /// Used instead of `stored` when the session runs on CUDA (the float16 form).
    pub cuda: Option<&'a [u8]>,
}

/// Creates a session for the model read from `model_path` on the requested device. Returns the
/// provider that runs it and whether the CPU-lowered graph is the one running.
pub(crate) fn open_session(
    model_path: &Path,
    model: ModelBytes<'_>,
    choice: DeviceChoice,
    opts: &EngineOptions,
) -> Result<(Session, Provider, bool)> {
    // ONNX Runtime 1.32 registers a custom operator domain (stylecam's, see `custom_op`) in a
    // process-wide table without a lock: two sessions created at once can fail with "the
    // domain is already exist". Sessions are created one at a time (the live view's workers
    // start together); running them is unaffected.
    static SESSION_CREATION: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = SESSION_CREATION
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let model_bytes = model.stored;
    let on_cpu = || -> Result<(Session, Provider, bool)> {
        let (session, lowered) = open_on_cpu_preferring(model_path, &model, opts)?;
        Ok((session, Provider::Cpu, lowered))
    };
    let wanted = match choice {
        DeviceChoice::Cpu => return on_cpu(),
        DeviceChoice::Auto | DeviceChoice::Cuda => Provider::Cuda,
        DeviceChoice::TensorRt => Provider::TensorRt,
    };
    let accelerated_bytes = match wanted {
        Provider::Cuda => model.cuda.unwrap_or(model_bytes),
        _ => model_bytes,
    };
    let reason = match open_accelerated(wanted, accelerated_bytes, opts) {
        Ok(session) => return Ok((session, wanted, false)),
        Err(Attempt::Registration(reason)) => reason,
        Err(Attempt::Commit(reason)) => {
            // Provider or model? A CPU session tells: if the CPU cannot load it either, the model
            // is at fault and that is the error to report.
            let cpu = on_cpu()?;
            if choice == DeviceChoice::Auto {
                log_cuda_fallback(&reason);
                return Ok(cpu);
            }
            reason
        }
    };
    if choice == DeviceChoice::Auto {
        log_cuda_fallback(&reason);
        return on_cpu();
    }
    Err(Error::ProviderUnavailable {
        provider: wanted.to_string(),
        reason,
    })
}

fn log_cuda_fallback(reason: &str) {
    if !CUDA_FALLBACK_LOGGED.swap(true, Ordering::Relaxed) {
        tracing::info!("CUDA unavailable ({}); running on CPU", first_line(reason));
    } else {
        tracing::debug!("CUDA unavailable ({reason}); running on CPU");
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s).trim()
}

enum Attempt {
    /// The provider refused to register (not built in, libraries missing, no device).
    Registration(String),
    /// Registered, but the session could not be created with it.
    Commit(String),
}

fn open_accelerated(
    provider: Provider,
    model_bytes: &[u8],
    opts: &EngineOptions,
) -> Result<Session, Attempt> {
    let builder = configured_builder(opts).map_err(|e| Attempt::Registration(e.to_string()))?;
    let eps = execution_providers(provider, opts);
    let mut builder = builder
        .with_execution_providers(eps)
        .map_err(|e| Attempt::Registration(e.to_string()))?;
    builder
        .commit_from_memory(model_bytes)
        .map_err(|e| Attempt::Commit(e.to_string()))
}

/// A CPU session on the lowered graph when there is one, else (or when ONNX Runtime refuses
/// it, which would be a stylecam bug worth reporting) on the stored graph.
fn open_on_cpu_preferring(
    model_path: &Path,
    model: &ModelBytes<'_>,
    opts: &EngineOptions,
) -> Result<(Session, bool)> {
    if let Some(lowered) = model.cpu {
        match open_on_cpu(model_path, lowered, opts) {
            Ok(session) => return Ok((session, true)),
            Err(e) => tracing::warn!(
                "{}: the CPU-lowered graph did not load ({e}); running the stored graph. Please report this; --cpu-graph reference avoids the attempt",
                model_path.display()
            ),
        }
    }
    Ok((open_on_cpu(model_path, model.stored, opts)?, false))
}

fn open_on_cpu(model_path: &Path, model_bytes: &[u8], opts: &EngineOptions) -> Result<Session> {
    let mut builder = configured_builder(opts)?;
    if !opts.cpu_arena {
        // Registering ort's CPU provider switches the session's CPU arena on or off (only here:
        // registered before CUDA it would take every node).
        builder = builder
            .with_execution_providers([ep::CPU::default()
                .with_arena_allocator(false)
                .build()
                .error_on_failure()])
            .map_err(ort::Error::from)?;
    }
    builder
        .commit_from_memory(model_bytes)
        .map_err(|e| Error::InvalidModel {
            path: model_path.to_path_buf(),
            problem: format!("ONNX Runtime cannot load it: {e}"),
        })
}

/// A session builder with the thread count and optimisation level applied.
fn configured_builder(opts: &EngineOptions) -> Result<SessionBuilder> {
    let env = runtime::environment()?;
    let threads = opts
        .intra_threads
        .unwrap_or_else(num_cpus::get_physical)
        .max(1);
    let mut builder = Session::builder(env)?
        .with_intra_threads(threads)
        .map_err(ort::Error::from)?
        .with_optimization_level(opts.optimisation.into())
        .map_err(ort::Error::from)?
        .with_memory_pattern(opts.memory_pattern)
        .map_err(ort::Error::from)?
        .with_intra_op_spinning(opts.intra_spinning)
        .map_err(ort::Error::from)?;
    if let Some(inter) = opts.inter_threads {
        builder = builder
            .with_parallel_execution(true)
            .map_err(ort::Error::from)?
            .with_inter_threads(inter.max(1))
            .map_err(ort::Error::from)?;
    }
    if opts.flush_to_zero {
        builder = builder.with_flush_to_zero().map_err(ort::Error::from)?;
    }
    if let Some(prefix) = &opts.profile {
        builder = builder.with_profiling(prefix).map_err(ort::Error::from)?;
    }
    // stylecam's own operators, which its lowered CPU graphs may contain.
    builder = builder
        .with_operators(super::custom_op::domain(threads)?)
        .map_err(ort::Error::from)?;
    if !opts.nchwc_layout {
        builder = builder
            .with_disabled_optimizers("NchwcTransformer")
            .map_err(ort::Error::from)?;
    }
    Ok(builder)
}

fn execution_providers(provider: Provider, opts: &EngineOptions) -> Vec<ExecutionProviderDispatch> {
    let cuda = ep::CUDA::default()
        .with_conv_algorithm_search(ep::cuda::ConvAlgorithmSearch::Exhaustive)
        .with_conv_max_workspace(true);
    match provider {
        Provider::Cpu => Vec::new(),
        Provider::Cuda => vec![cuda.build().error_on_failure()],
        Provider::TensorRt => {
            let cache = tensorrt_cache_dir();
            if let Err(e) = std::fs::create_dir_all(&cache) {
                tracing::warn!(
                    "cannot create the TensorRT engine cache {}: {e}",
                    cache.display()
                );
            }
            let cache = cache.to_string_lossy().into_owned();
            let trt = ep::TensorRT::default()
                .with_engine_cache(true)
                .with_engine_cache_path(&cache)
                .with_timing_cache(true)
                .with_timing_cache_path(&cache)
                .with_fp16(opts.fp16);
            vec![
                trt.build().error_on_failure(),
                cuda.build().error_on_failure(),
            ]
        }
    }
}

/// Where TensorRT keeps built engines: `$STYLECAM_TRT_CACHE`, else
/// `$XDG_CACHE_HOME/stylecam/trt`, else `~/.cache/stylecam/trt`.
pub fn tensorrt_cache_dir() -> PathBuf {
    let non_empty = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(p) = non_empty("STYLECAM_TRT_CACHE") {
        return p;
    }
    let base = non_empty("XDG_CACHE_HOME")
        .or_else(|| non_empty("HOME").map(|h| h.join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("stylecam").join("trt")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_as_typed_and_as_shown() {
        let names = [
            DeviceChoice::Auto,
            DeviceChoice::Cpu,
            DeviceChoice::Cuda,
            DeviceChoice::TensorRt,
        ]
        .map(|d| d.to_string());
        assert_eq!(names, ["auto", "cpu", "cuda", "tensorrt"]);
        assert_eq!(Provider::TensorRt.to_string(), "TensorRT");
    }
}
