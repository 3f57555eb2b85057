//! [`Stylizer`]: one style model in an ONNX Runtime session, frames in, frames out.
//!
//! The model interface is checked at load: exactly one `float32` input `[N, 3, H, W]` and one
//! `float32` output `[N, 3, H, W]` (N 1 or dynamic; H and W dynamic or fixed). The input and output
//! tensors are allocated once per frame size and bound to the session (`IoBinding`), so the steady
//! state allocates no frame-sized buffers: each frame is normalised straight into the bound input
//! and denormalised straight out of the bound output (see [`crate::pixels`]).

use crate::pixels::resize::{Filter, Rescaler};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use image::RgbImage;
use ort::session::{IoBinding, Session};
use ort::value::{Tensor, TensorElementType, ValueType};

use super::device::{self, DeviceChoice, Provider};
use crate::net::graph::{GraphForm, Lowering, PHASE_INPUT_PAD};
use crate::net::onnx::{rewrite_model, LoweredModel};
use crate::pixels::{self, PadGeometry};
use crate::{Error, Result};

/// ONNX Runtime graph optimisation level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GraphOptimisation {
    /// No rewrites (useful to debug a model).
    Disable,
    /// Constant folding and redundant-node removal.
    Basic,
    /// Basic plus operator fusions.
    Extended,
    /// Everything, including layout optimisations (the default).
    #[default]
    All,
}

impl From<GraphOptimisation> for ort::session::builder::GraphOptimizationLevel {
    fn from(g: GraphOptimisation) -> Self {
        use ort::session::builder::GraphOptimizationLevel as L;
        match g {
            GraphOptimisation::Disable => L::Disable,
            GraphOptimisation::Basic => L::Level1,
            GraphOptimisation::Extended => L::Level2,
            GraphOptimisation::All => L::All,
        }
    }
}

/// Which graph a CPU session runs for stylecam's own models (see [`crate::net::graph`]). Models
/// that are not stylecam ImfwNets always run as stored; CUDA and TensorRT always get the stored
/// graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CpuGraph {
    /// The fastest lowering measured for the model's architecture (tail always, head for width ≤ 8, Winograd residual blocks for width ≥ 16 on CPUs with AVX2 + FMA or AVX-512, fused norms, the last layer as stylecam's own operator on CPUs with AVX-512).
    #[default]
    Auto,
    /// The graph as stored in the file (one node per layer).
    Reference,
    /// Sub-pixel tail only.
    Tail,
    /// Space-to-depth head and sub-pixel tail.
    HeadTail,
    /// The auto form with the residual blocks as Winograd F(4×4, 3×3) convolutions, whatever
    /// the width or CPU.
    Winograd,
}

impl CpuGraph {
    /// The lowering for `arch`; `None` for the stored graph.
    fn lowering(self, arch: &crate::net::ImfwArch) -> Option<Lowering> {
        match self {
            CpuGraph::Auto => Some(Lowering::cpu_default(arch)),
            CpuGraph::Reference => None,
            CpuGraph::Tail => Some(Lowering::TAIL.with_phase_io()),
            CpuGraph::HeadTail => Some(Lowering::FULL.with_phase_io()),
            CpuGraph::Winograd => Some(Lowering::cpu_default(arch).with_winograd_body()),
        }
    }
}

/// How sessions are built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineOptions {
    /// Threads inside one operator; `None` = the number of physical cores.
    pub intra_threads: Option<usize>,
    /// Graph optimisation level.
    pub optimisation: GraphOptimisation,
    /// Half precision on GPUs: CUDA runs a float16 copy of the graph with instance norms kept
    /// in float32 ([`GraphForm::fp16`]); TensorRT builds fp16 engines. The CPU ignores it.
    pub fp16: bool,
    /// Threads running independent operators in parallel; `None` = sequential execution (the
    /// network is a chain, so parallel execution has nothing to overlap).
    pub inter_threads: Option<usize>,
    /// ONNX Runtime's CPU memory arena (on by default in ONNX Runtime).
    pub cpu_arena: bool,
    /// Memory pattern planning: from the second run of a shape on, ONNX Runtime allocates one
    /// block for all intermediate tensors of the plan. Off by default: it nearly doubles the peak
    /// memory of the seed network at 1280×720 (646 vs 363 MiB) for no measurable speed gain
    /// (BENCHMARKS.md, *Memory*).
    pub memory_pattern: bool,
    /// Denormals-are-zero / flush-to-zero in ONNX Runtime's threads (`session.set_denormal_as_zero`).
    pub flush_to_zero: bool,
    /// The NCHWc layout transformer (part of [`GraphOptimisation::All`]); `false` disables it.
    pub nchwc_layout: bool,
    /// Intra-op worker threads spin while waiting for work (lower latency, burns CPU when idle).
    pub intra_spinning: bool,
    /// The graph CPU sessions run (lowered for speed and memory by default).
    pub cpu_graph: CpuGraph,
    /// 8-bit residual blocks on the CPU ([`GraphForm::int8`]): faster, slightly different
    /// output; needs a calibrated stylecam model (`stylecam calibrate`). GPUs ignore it.
    pub int8: bool,
    /// Record ONNX Runtime's per-node profile into `<this path>_<date time>.json`
    /// ([`Stylizer::end_profiling`], [`super::profile`]). Off by default.
    pub profile: Option<PathBuf>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            intra_threads: None,
            optimisation: GraphOptimisation::All,
            fp16: false,
            inter_threads: None,
            cpu_arena: true,
            memory_pattern: false,
            flush_to_zero: false,
            nchwc_layout: true,
            intra_spinning: true,
            cpu_graph: CpuGraph::Auto,
            int8: false,
            profile: None,
        }
    }
}

/// Wall time of each stage of the last [`Stylizer::stylize_into`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StageTimings {
    /// Frame → input tensor (resize to a fixed model size included).
    pub preprocess: Duration,
    /// The ONNX Runtime run.
    pub inference: Duration,
    /// Output tensor → frame (resize back from a fixed model size included).
    pub postprocess: Duration,
}

impl StageTimings {
    /// All three stages together.
    pub fn total(&self) -> Duration {
        self.preprocess + self.inference + self.postprocess
    }
}

/// Tensors bound to the session for one frame size.
struct Buffers {
    /// Frame (after any resize to a fixed model size) → input tensor placement.
    geometry: PadGeometry,
    input: Tensor<f32>,
    output: Tensor<f32>,
    binding: IoBinding,
}

/// A loaded style model.
pub struct Stylizer {
    session: Session,
    provider: Provider,
    /// Which graph runs: "stored", or the form applied ([`GraphForm::describe`]).
    graph: String,
    path: PathBuf,
    name: String,
    metadata: BTreeMap<String, String>,
    input_name: String,
    output_name: String,
    input_shape: [i64; 4],
    /// The tensors' layout: planar images, or phase-split ends of a lowered graph.
    io: Lowering,
    buffers: Option<Buffers>,
    /// Scratch frames for models with a fixed input size.
    scaled_in: RgbImage,
    scaled_out: RgbImage,
    /// Scales frames to and from a fixed-size model's input.
    rescaler: Rescaler,
    told_fixed_size: bool,
    /// How many times the bound tensors were (re)built: once per tensor size change.
    buffer_builds: u64,
    timings: StageTimings,
    /// ONNX Runtime is recording a profile ([`EngineOptions::profile`]).
    profiling: bool,
}

impl std::fmt::Debug for Stylizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stylizer")
            .field("path", &self.path)
            .field("name", &self.name)
            .field("provider", &self.provider)
            .field("input_shape", &self.input_shape)
            .finish_non_exhaustive()
    }
}

/// The CPU form of the model in `bytes` that `opts` asks for (lowered and/or int8), if it is a
/// stylecam ImfwNet and the device may run on the CPU. `--int8` on a model that cannot run in
/// int8 (not written by stylecam, or not calibrated) is an error naming the fix; a model that
/// merely cannot be lowered runs as stored.
pub(crate) fn cpu_lowering(
    model: &Path,
    bytes: &[u8],
    device: DeviceChoice,
    opts: &EngineOptions,
) -> Result<Option<LoweredModel>> {
    if matches!(device, DeviceChoice::Cuda | DeviceChoice::TensorRt) {
        if opts.int8 {
            tracing::info!("int8 applies to the CPU only; {device:?} runs the float32 graph");
        }
        return Ok(None);
    }
    if opts.cpu_graph == CpuGraph::Reference && !opts.int8 {
        return Ok(None);
    }
    let form_for = |arch: &crate::net::ImfwArch| {
        let mut lowering = opts.cpu_graph.lowering(arch).unwrap_or(Lowering::NONE);
        // The 8-bit residual blocks replace the float32 Winograd ones.
        lowering.winograd_body &= !opts.int8;
        GraphForm {
            lowering,
            int8: opts.int8,
            ..GraphForm::REFERENCE
        }
    };
    match rewrite_model(bytes, form_for) {
        Ok(l) => Ok(Some(l)),
        Err(why) if opts.int8 => Err(Error::InvalidModel {
            path: model.to_path_buf(),
            problem: format!("cannot run in int8: {why} (or leave out --int8)"),
        }),
        Err(why) => {
            tracing::debug!("{}: CPU runs the stored graph ({why})", model.display());
            Ok(None)
        }
    }
}

/// The float16 form of the model for CUDA, when `opts.fp16` asks for it, CUDA may run it, and
/// the model is a stylecam ImfwNet (other models run as stored, with a warning).
fn cuda_fp16(
    model: &Path,
    bytes: &[u8],
    device: DeviceChoice,
    opts: &EngineOptions,
) -> Option<LoweredModel> {
    if !opts.fp16 || !matches!(device, DeviceChoice::Auto | DeviceChoice::Cuda) {
        return None;
    }
    let fp16 = GraphForm {
        fp16: true,
        ..GraphForm::REFERENCE
    };
    match rewrite_model(bytes, |_| fp16) {
        Ok(l) => Some(l),
        Err(why) => {
            tracing::warn!(
                "{}: --fp16 needs a model written by stylecam ({why}); CUDA runs it in float32",
                model.display()
            );
            None
        }
    }
}

impl Stylizer {
    /// Loads `model` on `device`, checking its interface. Initialises ONNX Runtime with the
    /// default search if [`super::runtime::init`] was not called first.
    pub fn load(model: &Path, device: DeviceChoice, opts: &EngineOptions) -> Result<Stylizer> {
        let bytes = crate::fsio::read_model(model)?;
        let lowered = cpu_lowering(model, &bytes, device, opts)?;
        let gpu_fp16 = cuda_fp16(model, &bytes, device, opts);
        let model_bytes = device::ModelBytes {
            stored: &bytes,
            cpu: lowered.as_ref().map(|l| l.bytes.as_slice()),
            cuda: gpu_fp16.as_ref().map(|l| l.bytes.as_slice()),
        };
        let (session, provider, runs_lowered) =
            device::open_session(model, model_bytes, device, opts)?;
        let io = match &lowered {
            Some(l) if runs_lowered => l.form.lowering,
            _ => Lowering::NONE,
        };
        let graph = match &lowered {
            Some(l) if runs_lowered => l.form.describe(),
            _ if provider == Provider::Cuda && gpu_fp16.is_some() => GraphForm {
                fp16: true,
                ..GraphForm::REFERENCE
            }
            .describe(),
            _ => "stored".to_string(),
        };
        if opts.fp16 && provider == Provider::Cpu {
            tracing::info!(
                "fp16 applies to GPUs only; the CPU runs {} in float32",
                model.display()
            );
        }
        let invalid = |problem: String| Error::InvalidModel {
            path: model.to_path_buf(),
            problem,
        };

        if session.inputs().len() != 1 || session.outputs().len() != 1 {
            return Err(invalid(format!(
                "has {} inputs and {} outputs; a style model has exactly one of each ([N, 3, H, W] float32)",
                session.inputs().len(),
                session.outputs().len()
            )));
        }
        let (input, output) = (&session.inputs()[0], &session.outputs()[0]);
        // A graph lowered here is checked like a file's, with its phase-split ends.
        let form = GraphForm::lowered(io);
        let input_shape =
            check_image_tensor("input", input.name(), input.dtype(), form.input_channels())
                .map_err(&invalid)?;
        check_image_tensor(
            "output",
            output.name(),
            output.dtype(),
            form.output_channels(),
        )
        .map_err(&invalid)?;
        // Callers see the image interface the graph stands for (lowered graphs are dynamic).
        let input_shape = if io.phase_input() {
            [input_shape[0], 3, -1, -1]
        } else {
            input_shape
        };

        let (name, metadata) = read_metadata(&session, model);
        let (input_name, output_name) = (input.name().to_string(), output.name().to_string());
        tracing::debug!(
            "loaded {} ('{name}') on {provider} ({graph} graph): {input_name} {input_shape:?} → {output_name}",
            model.display()
        );
        Ok(Stylizer {
            session,
            provider,
            graph,
            path: model.to_path_buf(),
            name,
            metadata,
            input_name,
            output_name,
            input_shape,
            io,
            buffers: None,
            scaled_in: RgbImage::new(0, 0),
            scaled_out: RgbImage::new(0, 0),
            rescaler: Rescaler::new(Filter::Bilinear),
            told_fixed_size: false,
            buffer_builds: 0,
            timings: StageTimings::default(),
            profiling: opts.profile.is_some(),
        })
    }

    /// The execution provider running this model.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// Which graph the session runs: `"stored"` (the file's own graph) or a description of the
    /// CPU lowering applied (see [`crate::net::graph`]).
    pub fn graph(&self) -> &str {
        &self.graph
    }

    /// Display name: ONNX metadata `name`, else the file stem.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The model file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// All custom metadata entries of the model.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// The model's declared input shape `[N, 3, H, W]`; `-1` marks a dynamic dimension.
    pub fn input_shape(&self) -> [i64; 4] {
        self.input_shape
    }

    /// The fixed input size `(width, height)` of the model, if it has one (either may be fixed
    /// alone; the other is then `None`).
    pub fn fixed_size(&self) -> (Option<usize>, Option<usize>) {
        let dim = |d: i64| (d > 0).then_some(d as usize);
        (dim(self.input_shape[3]), dim(self.input_shape[2]))
    }

    /// Ends the per-node profile that [`EngineOptions::profile`] started and returns the file
    /// ONNX Runtime wrote; `None` when this model was loaded without profiling.
    pub fn end_profiling(&mut self) -> Result<Option<PathBuf>> {
        if !self.profiling {
            return Ok(None);
        }
        self.profiling = false;
        Ok(Some(PathBuf::from(self.session.end_profiling()?)))
    }

    /// Stage times of the last successful [`Stylizer::stylize_into`] (or [`Stylizer::stylize`]).
    pub fn last_timings(&self) -> StageTimings {
        self.timings
    }

    /// Stylizes `input` into `output`, which is resized to the input's size if needed.
    ///
    /// Frames of any size ≥ 1×1 work: they are reflect-padded to the network size (a multiple of
    /// 4, at least 8; see [`crate::net::arch::network_size`]) and cropped back, or, for a model
    /// with a fixed input size, resized to it and the result resized back. The fixed-size path
    /// allocates its resized frames per call; the dynamic path allocates nothing once the frame
    /// size is steady.
    pub fn stylize_into(&mut self, input: &RgbImage, output: &mut RgbImage) -> Result<()> {
        let (w, h) = (input.width() as usize, input.height() as usize);
        if w == 0 || h == 0 {
            return Err(Error::InvalidArgument(format!(
                "cannot stylize an empty {w}×{h} frame"
            )));
        }
        let t_start = Instant::now();
        let (fixed_w, fixed_h) = self.fixed_size();
        let (tw, th) = (fixed_w.unwrap_or(w), fixed_h.unwrap_or(h));
        let resized = (tw, th) != (w, h);
        if resized {
            if !self.told_fixed_size {
                tracing::info!(
                    "model '{}' takes a fixed {tw}×{th} input: frames are resized to it and back",
                    self.name
                );
                self.told_fixed_size = true;
            }
            self.rescaler
                .resize_into(input, tw as u32, th as u32, &mut self.scaled_in);
        }
        let natural = PadGeometry::for_frame(tw, th);
        let geometry = PadGeometry::with_padded(
            tw,
            th,
            fixed_w.unwrap_or(natural.padded_width),
            fixed_h.unwrap_or(natural.padded_height),
        );
        self.ensure_buffers(geometry)?;
        let buffers = self.buffers.as_mut().expect("ensured above");
        let frame = if resized { &self.scaled_in } else { input };

        let (_, data) = buffers.input.extract_tensor_mut();
        preprocess_for(self.io, frame, &geometry, data)?;
        let t_pre = Instant::now();
        let run = self.session.run_binding(&buffers.binding).map(drop);
        if let Err(e) = run {
            let expected = buffers.output.shape().to_vec();
            let mismatch = found_output_shape(
                &mut self.session,
                &self.input_name,
                &buffers.input,
                &expected,
            );
            return Err(match mismatch {
                Some(found) => Error::InvalidModel {
                    path: self.path.clone(),
                    problem: format!(
                        "its output has shape {} but a style model must return its input's shape \
                         {}; use a style model exported by stylecam-train (or fix the model's output)",
                        show_dims(&found),
                        show_dims(&expected)
                    ),
                },
                None => e.into(),
            });
        }
        let t_run = Instant::now();
        let (shape, data) = buffers.output.extract_tensor();
        debug_assert_eq!(
            shape[1..],
            output_shape(self.io, &geometry).map(|d| d as i64)
        );
        let phase_output = self.io.phase_output();
        let post = |data: &[f32], out: &mut RgbImage| {
            if phase_output {
                pixels::postprocess_phases(data, &geometry, out)
            } else {
                pixels::postprocess(data, &geometry, out)
            }
        };
        if resized {
            post(data, &mut self.scaled_out)?;
            self.rescaler
                .resize_into(&self.scaled_out, w as u32, h as u32, output);
        } else {
            post(data, output)?;
        }
        self.timings = StageTimings {
            preprocess: t_pre - t_start,
            inference: t_run - t_pre,
            postprocess: t_run.elapsed(),
        };
        Ok(())
    }

    /// Stylizes `input` into a new frame of the same size.
    pub fn stylize(&mut self, input: &RgbImage) -> Result<RgbImage> {
        let mut out = RgbImage::new(input.width(), input.height());
        self.stylize_into(input, &mut out)?;
        Ok(out)
    }

    /// (Re)allocates and binds the input/output tensors when the tensor size changes.
    fn ensure_buffers(&mut self, geometry: PadGeometry) -> Result<()> {
        if let Some(b) = &mut self.buffers {
            if (b.geometry.padded_width, b.geometry.padded_height)
                == (geometry.padded_width, geometry.padded_height)
            {
                b.geometry = geometry;
                return Ok(());
            }
        }
        // Drop the old binding before allocating the new tensors.
        self.buffers = None;
        let [ci, hi, wi] = input_shape(self.io, &geometry);
        let [co, ho, wo] = output_shape(self.io, &geometry);
        let allocator = self.session.allocator();
        let input = Tensor::<f32>::new(allocator, [1usize, ci, hi, wi])?;
        let mut output = Tensor::<f32>::new(allocator, [1usize, co, ho, wo])?;
        let mut binding = self.session.create_binding()?;
        binding.bind_input(self.input_name.as_str(), &input)?;
        binding.bind_output(self.output_name.as_str(), &mut output)?;
        self.buffers = Some(Buffers {
            geometry,
            input,
            output,
            binding,
        });
        self.buffer_builds += 1;
        Ok(())
    }
}

/// Writes `frame` into the tensor a session with ends `io` takes: planar, or padded phases.
pub(crate) fn preprocess_for(
    io: Lowering,
    frame: &RgbImage,
    geometry: &PadGeometry,
    out: &mut [f32],
) -> Result<()> {
    if io.phase_input() {
        pixels::preprocess_phases(frame, geometry, PHASE_INPUT_PAD, out)
    } else {
        pixels::preprocess(frame, geometry, out)
    }
}

/// `[C, H, W]` of the tensor the session takes for `geometry`: the planar image, or its
/// padded phases.
pub(crate) fn input_shape(io: Lowering, geometry: &PadGeometry) -> [usize; 3] {
    if io.phase_input() {
        pixels::phase_input_shape(geometry, PHASE_INPUT_PAD)
    } else {
        [3, geometry.padded_height, geometry.padded_width]
    }
}

/// `[C, H, W]` of the tensor the session returns for `geometry`: the planar image, or its phases.
pub(crate) fn output_shape(io: Lowering, geometry: &PadGeometry) -> [usize; 3] {
    if io.phase_output() {
        pixels::phase_output_shape(geometry)
    } else {
        [3, geometry.padded_height, geometry.padded_width]
    }
}

/// Checks a `[N, channels, H, W]` float32 tensor declaration (`channels`: 3 for an image, 12 for
/// the phase-split ends of a lowered graph); returns its shape (-1 = dynamic).
/// After a bound run failed: runs `input` unbound and returns the shape of the output the model
/// really produces when it differs from `expected` (the bound output's shape).
fn found_output_shape(
    session: &mut Session,
    input_name: &str,
    input: &Tensor<f32>,
    expected: &[i64],
) -> Option<Vec<i64>> {
    let outputs = session.run(ort::inputs![input_name => input]).ok()?;
    let (shape, _) = outputs[0].try_extract_tensor::<f32>().ok()?;
    let found: Vec<i64> = shape.to_vec();
    (found != expected).then_some(found)
}

fn check_image_tensor(
    role: &str,
    name: &str,
    dtype: &ValueType,
    channels: usize,
) -> std::result::Result<[i64; 4], String> {
    let ValueType::Tensor { ty, shape, .. } = dtype else {
        return Err(format!(
            "{role} '{name}' is a {dtype}, expected a float32 tensor [N, 3, H, W]"
        ));
    };
    if *ty != TensorElementType::Float32 {
        return Err(format!(
            "{role} '{name}' has element type {}, expected float32",
            onnx_type_name(*ty)
        ));
    }
    let dims: &[i64] = shape;
    let [n, c, h, w] = dims else {
        return Err(format!(
            "{role} '{name}' has rank {} ({}), expected rank 4 [N, 3, H, W]",
            dims.len(),
            show_dims(dims)
        ));
    };
    if *c != channels as i64 {
        let expected = if channels == 3 {
            "3 (RGB) [N, 3, H, W]".to_string()
        } else {
            format!("{channels} (phase-split RGB) [N, {channels}, H, W]")
        };
        return Err(format!(
            "{role} '{name}' has {} channels ({}), expected {expected}",
            if *c < 0 {
                "a dynamic number of".to_string()
            } else {
                c.to_string()
            },
            show_dims(dims)
        ));
    }
    if *n > 1 || *n == 0 {
        return Err(format!(
            "{role} '{name}' has batch size {n} ({}), expected 1 or dynamic",
            show_dims(dims)
        ));
    }
    if *h == 0 || *w == 0 {
        return Err(format!(
            "{role} '{name}' has an empty spatial size ({})",
            show_dims(dims)
        ));
    }
    Ok([*n, *c, *h, *w])
}

fn show_dims(dims: &[i64]) -> String {
    let parts: Vec<String> = dims
        .iter()
        .map(|&d| if d < 0 { "?".into() } else { d.to_string() })
        .collect();
    format!("[{}]", parts.join(", "))
}

/// ONNX's spelling of an element type (ort prints `i64`, users know `int64`).
fn onnx_type_name(ty: TensorElementType) -> String {
    use TensorElementType as T;
    match ty {
        T::Float32 => "float32".into(),
        T::Float64 => "float64 (double)".into(),
        T::Float16 => "float16".into(),
        T::Bfloat16 => "bfloat16".into(),
        T::Int8 => "int8".into(),
        T::Int16 => "int16".into(),
        T::Int32 => "int32".into(),
        T::Int64 => "int64".into(),
        T::Uint8 => "uint8".into(),
        T::Uint16 => "uint16".into(),
        T::Uint32 => "uint32".into(),
        T::Uint64 => "uint64".into(),
        T::Bool => "bool".into(),
        T::String => "string".into(),
        other => other.to_string(),
    }
}

fn read_metadata(session: &Session, model: &Path) -> (String, BTreeMap<String, String>) {
    let mut map = BTreeMap::new();
    match session.metadata() {
        Ok(meta) => {
            for key in meta.custom_keys().unwrap_or_default() {
                if let Some(v) = meta.custom(&key) {
                    map.insert(key, v);
                }
            }
        }
        Err(e) => tracing::debug!("{}: no readable metadata: {e}", model.display()),
    }
    let name = map
        .get("name")
        .filter(|n| !n.trim().is_empty())
        .cloned()
        .unwrap_or_else(|| {
            model
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "style".into())
        });
    (name, map)
}

/// The live view moves a `Stylizer` into its inference thread.
#[allow(dead_code)]
fn stylizer_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Stylizer>();
}

#[cfg(test)]
mod tests {
    use super::*;
    use ort::value::{Shape, SymbolicDimensions};

    fn tensor(ty: TensorElementType, dims: &[i64]) -> ValueType {
        ValueType::Tensor {
            ty,
            shape: Shape::new(dims.iter().copied()),
            dimension_symbols: SymbolicDimensions::empty(dims.len()),
        }
    }

    #[test]
    fn interface_check_names_the_mismatch() {
        let f = TensorElementType::Float32;
        assert_eq!(
            check_image_tensor("input", "x", &tensor(f, &[1, 3, -1, -1]), 3),
            Ok([1, 3, -1, -1])
        );
        assert_eq!(
            check_image_tensor("input", "x", &tensor(f, &[-1, 3, 224, 224]), 3),
            Ok([-1, 3, 224, 224])
        );
        let e = check_image_tensor(
            "input",
            "x",
            &tensor(TensorElementType::Int64, &[1, 3, 8, 8]),
            3,
        )
        .unwrap_err();
        assert_eq!(e, "input 'x' has element type int64, expected float32");
        let e = check_image_tensor("input", "x", &tensor(f, &[3, 8, 8]), 3).unwrap_err();
        assert!(e.contains("rank 3") && e.contains("[3, 8, 8]"), "{e}");
        let e = check_image_tensor("output", "y", &tensor(f, &[1, 1, -1, -1]), 3).unwrap_err();
        assert!(
            e.starts_with("output 'y' has 1 channels ([1, 1, ?, ?])"),
            "{e}"
        );
        let e = check_image_tensor("input", "x", &tensor(f, &[4, 3, 8, 8]), 3).unwrap_err();
        assert!(e.contains("batch size 4"), "{e}");
        // The phase-split ends of a lowered graph.
        assert_eq!(
            check_image_tensor("input", "x", &tensor(f, &[-1, 12, -1, -1]), 12),
            Ok([-1, 12, -1, -1])
        );
        let e = check_image_tensor("input", "x", &tensor(f, &[1, 3, -1, -1]), 12).unwrap_err();
        assert!(e.contains("expected 12 (phase-split RGB)"), "{e}");
    }

    /// Loads an ImfwNet written by the ONNX writer into a temporary folder.
    fn small_model() -> (tempfile::TempDir, PathBuf) {
        use crate::net::onnx::{random_weights, write_model, ModelMetadata};
        use crate::net::ImfwArch;
        let d = tempfile::tempdir().unwrap();
        let arch = ImfwArch::new(8, 1);
        let meta = ModelMetadata {
            name: "unit".into(),
            extra: vec![],
        };
        let bytes = write_model(&arch, &random_weights(&arch, 5), &meta).unwrap();
        let p = d.path().join("unit.onnx");
        std::fs::write(&p, bytes).unwrap();
        (d, p)
    }

    #[test]
    fn bound_tensors_are_reused_while_the_tensor_size_is_unchanged() {
        let (_dir, model) = small_model();
        let opts = EngineOptions {
            intra_threads: Some(1),
            ..EngineOptions::default()
        };
        let mut st = Stylizer::load(&model, DeviceChoice::Cpu, &opts).unwrap();
        let mut out = RgbImage::new(0, 0);
        st.stylize_into(&RgbImage::new(62, 46), &mut out).unwrap();
        assert_eq!(st.buffer_builds, 1);
        for (w, h) in [(62, 46), (64, 48), (61, 45), (62, 46)] {
            // All pad to 64×48: the same bound tensors serve every frame.
            st.stylize_into(&RgbImage::new(w, h), &mut out).unwrap();
            assert_eq!(st.buffer_builds, 1, "{w}×{h}");
        }
        let steady = out.as_ptr();
        st.stylize_into(&RgbImage::new(62, 46), &mut out).unwrap();
        assert_eq!(out.as_ptr(), steady, "the output frame was reallocated");
        // A different tensor size rebuilds the buffers at the new size.
        st.stylize_into(&RgbImage::new(100, 20), &mut out).unwrap();
        assert_eq!(st.buffer_builds, 2);
        let b = st.buffers.as_ref().unwrap();
        assert_eq!(
            (b.geometry.padded_width, b.geometry.padded_height),
            (100, 20)
        );
        // The thin test net runs the lowered head: padded by 4 more on each side, in phases.
        assert!(st.io.phase_input() && st.io.phase_output());
        assert_eq!(b.input.shape()[..], [1, 12, (20 + 8) / 2, (100 + 8) / 2]);
        assert_eq!(b.output.shape()[..], [1, 12, 20 / 2, 100 / 2]);
    }
}
