//! stylecam's own ONNX operators, registered with every CPU session: the residual blocks'
//! 3×3 convolutions as Winograd F(4×4, 3×3) ([`crate::engine::winograd`]).
//!
//! `ai.stylecam:InstanceNormRelu(X, scale, bias) → Y`, attributes `epsilon`, `relu` (0 or 1),
//! `reflect_pad` (default 0): instance norm over each of `C = len(scale)` contiguous chunks of `X`
//! (`scale` and `bias` are read once when they are initializers, else on every run: the
//! arbitrary-style transformer computes them from the style embedding, an input)
//! (so also over a channel's adjacent phases in a phase-split tensor), then the ReLU
//! ([`crate::engine::norm`]); with `reflect_pad = p > 0`, `X` is a `[1, C, h, w]` image and `Y`
//! is written reflection-padded by `p` (the `Pad` that follows in the network); with
//! `interleave = 1`, `X` holds an image's 2×2 phases in CRD order (`[1, 4C, h, w]`) and `Y` is
//! the image (`[1, C, 2h, 2w]`).
//!
//! `ai.stylecam:PhaseNormRelu(P00, P01, P10, P11, scale, bias) → Y`, attributes `epsilon`,
//! `relu`, `interleave`: the same norm for an image given as its four 2×2 phases (each
//! `[1, C, h, w]`), written interleaved (`[1, C, 2h, 2w]`) or phase-split in CRD order
//! (`[1, 4C, h, w]`) ([`crate::engine::norm::phase_norm`]).
//!
//! `ai.stylecam:OutputConvPhases(X, W, B) → Y`: the network's last layer, a K×K convolution
//! with zero padding (K − 1)/2 of `X` `[1, cin, h, w]` to 3 channels, written as 2×2 phases in
//! CRD order (`[1, 12, h/2, w/2]`) ([`crate::engine::out_conv`]).
//!
//! `ai.stylecam:Pad2d(X) → Y`, attributes `pads` (`[top, left, bottom, right]`) and `mode`
//! (`reflect` or `edge`): ONNX `Pad` of the last two dimensions of `X` `[N, C, h, w]`, rows
//! copied whole, planes in parallel ([`crate::engine::pad`]).
//!
//! `ai.stylecam:WinogradConv3x3(X, W, B[, R]) → Y`, attribute `relu` (0 or 1):
//! `Y = relu?(conv3x3(X, W, pad 1) + B + R)` for `X` `[1, cin, h, w]` float32, with `W`
//! `[cout, cin, 3, 3]` and `B` `[cout]` constant initializers (transformed once, when the
//! session creates the kernel). Only graphs that stylecam lowers itself contain it
//! ([`crate::net::graph::Lowering::winograd_body`]); files on disk never do.

use ort::operator::{
    ComputeContext, Kernel, KernelContext, Operator, OperatorDomain, OperatorInput, OperatorOutput,
};
use ort::value::{DynTensorValueType, TensorElementType};

use super::norm::{self, NormParams};
use super::out_conv::{OutputConv, COUT};
use super::pad::{self, PadMode, Pads};
use super::winograd::Conv3x3;

use crate::net::graph::{
    NORM_RELU_OP as NORM_RELU, OUTPUT_CONV_OP as OUTPUT_CONV, PAD2D_OP as PAD2D,
    PHASE_NORM_RELU_OP as PHASE_NORM_RELU, STYLECAM_DOMAIN as DOMAIN,
    WINOGRAD_CONV_OP as WINOGRAD_CONV,
};

/// The operator domain to register with a session builder whose intra-op pool has `threads`.
pub fn domain(threads: usize) -> ort::Result<OperatorDomain> {
    OperatorDomain::new(DOMAIN)?
        .add(WinogradConvOp { threads })?
        .add(NormReluOp)?
        .add(PhaseNormReluOp)?
        .add(OutputConvOp { threads })?
        .add(Pad2dOp)
}

/// Runs an operator's work on the calling thread so that a panic (a bug in stylecam) comes back
/// as an error naming the operator instead of aborting the process: a panic cannot unwind
/// through ONNX Runtime's C frames.
fn guarded<T>(op: &str, work: impl FnOnce() -> ort::Result<T>) -> ort::Result<T> {
    caught(work).unwrap_or_else(|message| Err(ort::Error::new(panicked(op, &message))))
}

/// Runs `task(0..n)` on ONNX Runtime's intra-op pool, each index caught like [`guarded`]: the
/// pool's threads are ONNX Runtime's, so a panicking task would abort the process.
fn pool_for(ctx: &ComputeContext, n: usize, task: &(dyn Fn(usize) + Sync)) -> ort::Result<()> {
    let (status, panic) = catching_tasks(n, task, |n, task| ctx.par_for(n, n, task));
    match panic {
        Some(message) => Err(ort::Error::new(panicked("(a parallel task)", &message))),
        None => status,
    }
}

/// `work()`, or the message of its panic.
fn caught<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).map_err(|panic| {
        panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into())
    })
}

/// Runs every task through `pool`, catching each one's panic: `pool`'s result and the first
/// panic's message.
fn catching_tasks<R>(
    n: usize,
    task: &(dyn Fn(usize) + Sync),
    pool: impl FnOnce(usize, &(dyn Fn(usize) + Sync + Send)) -> R,
) -> (R, Option<String>) {
    let first_panic = std::sync::Mutex::new(None::<String>);
    let run = |i: usize| {
        if let Err(message) = caught(|| task(i)) {
            let mut first = first_panic.lock().unwrap_or_else(|e| e.into_inner());
            first.get_or_insert(message);
        }
    };
    let result = pool(n, &run);
    (
        result,
        first_panic.into_inner().unwrap_or_else(|e| e.into_inner()),
    )
}

fn panicked(op: &str, message: &str) -> String {
    format!(
        "stylecam's operator {op} failed ({message}); this is a bug in stylecam, please report it \
         with the model and the frame size; `--cpu-graph reference` runs without stylecam's \
         operators meanwhile"
    )
}

/// A norm operator's constants: scale and bias (constant inputs `first` and `first + 1`),
/// `epsilon` and `relu`.
fn norm_params(ctx: &KernelContext<'_>, op: &str, first: usize) -> ort::Result<NormParams> {
    let scale = ctx.constant_input::<DynTensorValueType>(first)?;
    let (_, scale) = scale.try_extract_tensor::<f32>()?;
    let bias = ctx.constant_input::<DynTensorValueType>(first + 1)?;
    let (_, bias) = bias.try_extract_tensor::<f32>()?;
    if scale.len() != bias.len() {
        return Err(ort::Error::new(format!(
            "{op}: {} scales but {} biases",
            scale.len(),
            bias.len()
        )));
    }
    Ok(NormParams {
        scale: scale.to_vec(),
        bias: bias.to_vec(),
        epsilon: ctx.get::<f32>("epsilon").unwrap_or(1e-5),
        relu: ctx.get::<i64>("relu").unwrap_or(0) != 0,
    })
}

struct PhaseNormReluOp;

impl Operator for PhaseNormReluOp {
    type Kernel<'attr> = PhaseNormReluKernel;

    fn name(&self) -> &str {
        PHASE_NORM_RELU
    }

    fn inputs(&self) -> impl IntoIterator<Item = OperatorInput> {
        [const { OperatorInput::required(TensorElementType::Float32) }; 6]
    }

    fn outputs(&self) -> impl IntoIterator<Item = OperatorOutput> {
        [OperatorOutput::required(TensorElementType::Float32)]
    }

    fn create_kernel<'attr>(&self, ctx: &KernelContext<'attr>) -> ort::Result<PhaseNormReluKernel> {
        Ok(PhaseNormReluKernel {
            norm: norm_params(ctx, PHASE_NORM_RELU, 4)?,
            layout: if ctx.get::<i64>("interleave").unwrap_or(1) != 0 {
                norm::PhaseLayout::Interleaved
            } else {
                norm::PhaseLayout::Crd
            },
        })
    }
}

struct PhaseNormReluKernel {
    norm: NormParams,
    layout: norm::PhaseLayout,
}

impl Kernel for PhaseNormReluKernel {
    fn compute(&mut self, ctx: &ComputeContext) -> ort::Result<()> {
        guarded(PHASE_NORM_RELU, || self.run(ctx))
    }
}

impl PhaseNormReluKernel {
    fn run(&mut self, ctx: &ComputeContext) -> ort::Result<()> {
        let c = self.norm.scale.len() as i64;
        let values = [ctx.input(0)?, ctx.input(1)?, ctx.input(2)?, ctx.input(3)?];
        let mut planes: [&[f32]; 4] = [&[]; 4];
        let mut dims = None;
        for (i, v) in values.iter().enumerate() {
            let v = v
                .as_ref()
                .ok_or_else(|| ort::Error::new(format!("{PHASE_NORM_RELU}: no phase {i}")))?;
            let (shape, data) = v.try_extract_tensor::<f32>()?;
            let [1, ch, h, w] = shape[..] else {
                return Err(ort::Error::new(format!(
                    "{PHASE_NORM_RELU}: phases must be [1, C, h, w], got {shape:?}"
                )));
            };
            if ch != c || dims.is_some_and(|d| d != (h, w)) {
                return Err(ort::Error::new(format!(
                    "{PHASE_NORM_RELU}: phases of {c} channels and one size expected, got {shape:?}"
                )));
            }
            dims = Some((h, w));
            planes[i] = data;
        }
        let (h, w) = dims.expect("four phases");
        // Shapes of rank 4 stay inline (no allocation per frame).
        let shape = match self.layout {
            norm::PhaseLayout::Interleaved => [1, c, 2 * h, 2 * w],
            norm::PhaseLayout::Crd => [1, 4 * c, h, w],
        };
        let mut y = ctx
            .output(0, &shape[..])?
            .ok_or_else(|| ort::Error::new(format!("{PHASE_NORM_RELU}: no output")))?;
        let (_, y) = y.try_extract_tensor_mut::<f32>()?;
        let phases = planes;
        let mut status = Ok(());
        norm::phase_norm(
            norm::PhaseInput::Planes(phases),
            h as usize,
            w as usize,
            y,
            self.layout,
            &self.norm,
            |n, task| status = pool_for(ctx, n, task),
        );
        status
    }
}

struct NormReluOp;

impl Operator for NormReluOp {
    type Kernel<'attr> = NormReluKernel;

    fn name(&self) -> &str {
        NORM_RELU
    }

    fn inputs(&self) -> impl IntoIterator<Item = OperatorInput> {
        [const { OperatorInput::required(TensorElementType::Float32) }; 3]
    }

    fn outputs(&self) -> impl IntoIterator<Item = OperatorOutput> {
        [OperatorOutput::required(TensorElementType::Float32)]
    }

    fn create_kernel<'attr>(&self, ctx: &KernelContext<'attr>) -> ort::Result<NormReluKernel> {
        let constant = ctx.constant_input::<DynTensorValueType>(1).is_ok()
            && ctx.constant_input::<DynTensorValueType>(2).is_ok();
        let norm = if constant {
            norm_params(ctx, NORM_RELU, 1)?
        } else {
            // Filled from the inputs on every run.
            NormParams {
                scale: Vec::new(),
                bias: Vec::new(),
                epsilon: ctx.get::<f32>("epsilon").unwrap_or(1e-5),
                relu: ctx.get::<i64>("relu").unwrap_or(0) != 0,
            }
        };
        Ok(NormReluKernel {
            norm,
            runtime_params: !constant,
            reflect_pad: ctx.get::<i64>("reflect_pad").unwrap_or(0).max(0) as usize,
            interleave: ctx.get::<i64>("interleave").unwrap_or(0) != 0,
        })
    }
}

struct NormReluKernel {
    norm: NormParams,
    /// `scale` and `bias` are not initializers: read them from the inputs on every run.
    runtime_params: bool,
    /// Write the output reflection-padded by this much (0: same shape as the input).
    reflect_pad: usize,
    /// The input is CRD phases `[1, 4C, h, w]`; write the image `[1, C, 2h, 2w]`.
    interleave: bool,
}

impl Kernel for NormReluKernel {
    fn compute(&mut self, ctx: &ComputeContext) -> ort::Result<()> {
        guarded(NORM_RELU, || self.run(ctx))
    }
}

impl NormReluKernel {
    /// Reads `scale` and `bias` from inputs 1 and 2 into `self.norm`.
    fn read_params(&mut self, ctx: &ComputeContext) -> ort::Result<()> {
        for (i, dst) in [(1, &mut self.norm.scale), (2, &mut self.norm.bias)] {
            let v = ctx
                .input(i)?
                .ok_or_else(|| ort::Error::new(format!("{NORM_RELU}: no input {i}")))?;
            let (_, data) = v.try_extract_tensor::<f32>()?;
            dst.clear();
            dst.extend_from_slice(data);
        }
        if self.norm.scale.len() != self.norm.bias.len() || self.norm.scale.is_empty() {
            return Err(ort::Error::new(format!(
                "{NORM_RELU}: {} scales but {} biases",
                self.norm.scale.len(),
                self.norm.bias.len()
            )));
        }
        Ok(())
    }

    fn run(&mut self, ctx: &ComputeContext) -> ort::Result<()> {
        if self.runtime_params {
            self.read_params(ctx)?;
        }
        let x = ctx
            .input(0)?
            .ok_or_else(|| ort::Error::new(format!("{NORM_RELU}: no input")))?;
        let (shape, x) = x.try_extract_tensor::<f32>()?;
        if self.reflect_pad > 0 {
            return self.run_padded(ctx, &shape[..], x);
        }
        if self.interleave {
            return self.run_interleaved(ctx, &shape[..], x);
        }
        if shape.first() != Some(&1) || x.len() % self.norm.scale.len().max(1) != 0 {
            return Err(ort::Error::new(format!(
                "{NORM_RELU}: input {shape:?} does not split into {} channels of one image",
                self.norm.scale.len()
            )));
        }
        let mut y = ctx
            .output(0, &shape[..])?
            .ok_or_else(|| ort::Error::new(format!("{NORM_RELU}: no output")))?;
        let (_, y) = y.try_extract_tensor_mut::<f32>()?;
        let mut status = Ok(());
        norm::instance_norm(x, y, &self.norm, |n, task| status = pool_for(ctx, n, task));
        status
    }
}

impl NormReluKernel {
    /// The norm of CRD phases `[1, 4C, h, w]` written as the image `[1, C, 2h, 2w]`
    /// (`interleave` attribute).
    fn run_interleaved(&self, ctx: &ComputeContext, shape: &[i64], x: &[f32]) -> ort::Result<()> {
        let c = self.norm.scale.len() as i64;
        let [1, ch, h, w] = shape[..] else {
            return Err(ort::Error::new(format!(
                "{NORM_RELU}: interleaving takes CRD phases [1, {}, h, w], got {shape:?}",
                4 * c
            )));
        };
        if ch != 4 * c {
            return Err(ort::Error::new(format!(
                "{NORM_RELU}: interleaving takes CRD phases [1, {}, h, w], got {shape:?}",
                4 * c
            )));
        }
        let mut y = ctx
            .output(0, &[1, c, 2 * h, 2 * w][..])?
            .ok_or_else(|| ort::Error::new(format!("{NORM_RELU}: no output")))?;
        let (_, y) = y.try_extract_tensor_mut::<f32>()?;
        let mut status = Ok(());
        norm::phase_norm(
            norm::PhaseInput::Crd(x),
            h as usize,
            w as usize,
            y,
            norm::PhaseLayout::Interleaved,
            &self.norm,
            |n, task| status = pool_for(ctx, n, task),
        );
        status
    }

    /// The norm of a `[1, C, h, w]` image written reflection-padded (`reflect_pad` attribute).
    fn run_padded(&self, ctx: &ComputeContext, shape: &[i64], x: &[f32]) -> ort::Result<()> {
        let (c, p) = (self.norm.scale.len() as i64, self.reflect_pad as i64);
        let [1, ch, h, w] = shape[..] else {
            return Err(ort::Error::new(format!(
                "{NORM_RELU}: a padded norm takes [1, {c}, h, w], got {shape:?}"
            )));
        };
        if ch != c || h <= p || w <= p {
            return Err(ort::Error::new(format!(
                "{NORM_RELU}: a reflection pad of {p} takes [1, {c}, h, w] with h, w > {p}, \
                 got {shape:?}"
            )));
        }
        let mut y = ctx
            .output(0, &[1, c, h + 2 * p, w + 2 * p][..])?
            .ok_or_else(|| ort::Error::new(format!("{NORM_RELU}: no output")))?;
        let (_, y) = y.try_extract_tensor_mut::<f32>()?;
        let mut status = Ok(());
        norm::instance_norm_reflect_padded(
            x,
            h as usize,
            w as usize,
            self.reflect_pad,
            y,
            &self.norm,
            |n, task| status = pool_for(ctx, n, task),
        );
        status
    }
}

struct WinogradConvOp {
    /// The session's intra-op threads, which run the blocks.
    threads: usize,
}

impl Operator for WinogradConvOp {
    type Kernel<'attr> = WinogradConvKernel;

    fn name(&self) -> &str {
        WINOGRAD_CONV
    }

    fn inputs(&self) -> impl IntoIterator<Item = OperatorInput> {
        [
            OperatorInput::required(TensorElementType::Float32),
            OperatorInput::required(TensorElementType::Float32),
            OperatorInput::required(TensorElementType::Float32),
            OperatorInput::optional(TensorElementType::Float32),
        ]
    }

    fn outputs(&self) -> impl IntoIterator<Item = OperatorOutput> {
        [OperatorOutput::required(TensorElementType::Float32)]
    }

    fn create_kernel<'attr>(&self, ctx: &KernelContext<'attr>) -> ort::Result<WinogradConvKernel> {
        let relu = ctx.get::<i64>("relu").unwrap_or(0) != 0;
        let weights = ctx.constant_input::<DynTensorValueType>(1)?;
        let (shape, w) = weights.try_extract_tensor::<f32>()?;
        let [cout, cin, 3, 3] = shape[..] else {
            return Err(ort::Error::new(format!(
                "{WINOGRAD_CONV}: weights must be [cout, cin, 3, 3], got {shape:?}"
            )));
        };
        let bias = ctx.constant_input::<DynTensorValueType>(2)?;
        let (bias_shape, b) = bias.try_extract_tensor::<f32>()?;
        if bias_shape[..] != [cout] {
            return Err(ort::Error::new(format!(
                "{WINOGRAD_CONV}: bias must be [{cout}], got {bias_shape:?}"
            )));
        }
        Ok(WinogradConvKernel {
            conv: guarded(WINOGRAD_CONV, || {
                Ok(Conv3x3::new(w, b, cout as usize, cin as usize, relu))
            })?,
            threads: self.threads,
        })
    }
}

struct WinogradConvKernel {
    conv: Conv3x3,
    threads: usize,
}

impl Kernel for WinogradConvKernel {
    fn compute(&mut self, ctx: &ComputeContext) -> ort::Result<()> {
        guarded(WINOGRAD_CONV, || self.run(ctx))
    }
}

impl WinogradConvKernel {
    fn run(&mut self, ctx: &ComputeContext) -> ort::Result<()> {
        let missing = |what: &str| ort::Error::new(format!("{WINOGRAD_CONV}: no {what}"));
        let x = ctx.input(0)?.ok_or_else(|| missing("input"))?;
        let (shape, x) = x.try_extract_tensor::<f32>()?;
        let [1, cin, h, w] = shape[..] else {
            return Err(ort::Error::new(format!(
                "{WINOGRAD_CONV}: input must be [1, cin, h, w], got {shape:?}"
            )));
        };
        if cin as usize != self.conv.input_channels() {
            return Err(ort::Error::new(format!(
                "{WINOGRAD_CONV}: input has {cin} channels, the weights {}",
                self.conv.input_channels()
            )));
        }
        let (h, w) = (h as usize, w as usize);
        let cout = self.conv.output_channels();
        let residual = match ctx.num_inputs()? {
            n if n > 3 => ctx.input(3)?,
            _ => None,
        };
        let residual = match &residual {
            Some(r) => {
                let (rs, r) = r.try_extract_tensor::<f32>()?;
                if rs[..] != [1, cout as i64, h as i64, w as i64] {
                    return Err(ort::Error::new(format!(
                        "{WINOGRAD_CONV}: residual must be [1, {cout}, {h}, {w}], got {rs:?}"
                    )));
                }
                Some(r)
            }
            None => None,
        };
        let mut y = ctx
            .output(0, &[1, cout as i64, h as i64, w as i64][..])?
            .ok_or_else(|| missing("output"))?;
        let (_, y) = y.try_extract_tensor_mut::<f32>()?;
        let mut status = Ok(());
        self.conv
            .run(x, h, w, residual, y, self.threads, |n, task| {
                status = pool_for(ctx, n, task)
            });
        status
    }
}

struct OutputConvOp {
    /// The session's intra-op threads, which run the rows.
    threads: usize,
}

impl Operator for OutputConvOp {
    type Kernel<'attr> = OutputConvKernel;

    fn name(&self) -> &str {
        OUTPUT_CONV
    }

    fn inputs(&self) -> impl IntoIterator<Item = OperatorInput> {
        [const { OperatorInput::required(TensorElementType::Float32) }; 3]
    }

    fn outputs(&self) -> impl IntoIterator<Item = OperatorOutput> {
        [OperatorOutput::required(TensorElementType::Float32)]
    }

    fn create_kernel<'attr>(&self, ctx: &KernelContext<'attr>) -> ort::Result<OutputConvKernel> {
        let weights = ctx.constant_input::<DynTensorValueType>(1)?;
        let (shape, w) = weights.try_extract_tensor::<f32>()?;
        let bias = ctx.constant_input::<DynTensorValueType>(2)?;
        let (_, b) = bias.try_extract_tensor::<f32>()?;
        let [3, cin, k, k2] = shape[..] else {
            return Err(ort::Error::new(format!(
                "{OUTPUT_CONV}: weights must be [{COUT}, cin, k, k], got {shape:?}"
            )));
        };
        if k != k2 {
            return Err(ort::Error::new(format!(
                "{OUTPUT_CONV}: the kernel must be square, got {shape:?}"
            )));
        }
        let conv = guarded(OUTPUT_CONV, || {
            OutputConv::new(w, b, cin as usize, k as usize)
                .map_err(|e| ort::Error::new(format!("{OUTPUT_CONV}: {e}")))
        })?;
        Ok(OutputConvKernel {
            conv,
            threads: self.threads,
        })
    }
}

struct OutputConvKernel {
    conv: OutputConv,
    threads: usize,
}

impl Kernel for OutputConvKernel {
    fn compute(&mut self, ctx: &ComputeContext) -> ort::Result<()> {
        guarded(OUTPUT_CONV, || self.run(ctx))
    }
}

impl OutputConvKernel {
    fn run(&mut self, ctx: &ComputeContext) -> ort::Result<()> {
        let x = ctx
            .input(0)?
            .ok_or_else(|| ort::Error::new(format!("{OUTPUT_CONV}: no input")))?;
        let (shape, x) = x.try_extract_tensor::<f32>()?;
        let cin = self.conv.input_channels() as i64;
        let [1, c, h, w] = shape[..] else {
            return Err(ort::Error::new(format!(
                "{OUTPUT_CONV}: input must be [1, {cin}, h, w], got {shape:?}"
            )));
        };
        if c != cin || h % 2 != 0 || w % 2 != 0 {
            return Err(ort::Error::new(format!(
                "{OUTPUT_CONV}: input must be [1, {cin}, h, w] with h and w even, got {shape:?}"
            )));
        }
        let mut y = ctx
            .output(0, &[1, 4 * COUT as i64, h / 2, w / 2][..])?
            .ok_or_else(|| ort::Error::new(format!("{OUTPUT_CONV}: no output")))?;
        let (_, y) = y.try_extract_tensor_mut::<f32>()?;
        let mut status = Ok(());
        self.conv
            .run(x, h as usize, w as usize, y, self.threads, |n, task| {
                status = pool_for(ctx, n, task)
            });
        status
    }
}

struct Pad2dOp;

impl Operator for Pad2dOp {
    type Kernel<'attr> = Pad2dKernel;

    fn name(&self) -> &str {
        PAD2D
    }

    fn inputs(&self) -> impl IntoIterator<Item = OperatorInput> {
        [OperatorInput::required(TensorElementType::Float32)]
    }

    fn outputs(&self) -> impl IntoIterator<Item = OperatorOutput> {
        [OperatorOutput::required(TensorElementType::Float32)]
    }

    fn create_kernel<'attr>(&self, ctx: &KernelContext<'attr>) -> ort::Result<Pad2dKernel> {
        let pads: Vec<i64> = ctx.get("pads").unwrap_or_default();
        let [top, left, bottom, right] = pads[..] else {
            return Err(ort::Error::new(format!(
                "{PAD2D}: pads must be [top, left, bottom, right], got {pads:?}"
            )));
        };
        let side = |v: i64| {
            usize::try_from(v)
                .map_err(|_| ort::Error::new(format!("{PAD2D}: negative pad in {pads:?}")))
        };
        let mode = match ctx.get::<String>("mode").as_deref() {
            Some("reflect") => PadMode::Reflect,
            Some("edge") => PadMode::Edge,
            other => {
                return Err(ort::Error::new(format!(
                    "{PAD2D}: mode must be reflect or edge, got {other:?}"
                )))
            }
        };
        Ok(Pad2dKernel {
            pads: Pads {
                top: side(top)?,
                left: side(left)?,
                bottom: side(bottom)?,
                right: side(right)?,
            },
            mode,
        })
    }
}

struct Pad2dKernel {
    pads: Pads,
    mode: PadMode,
}

impl Kernel for Pad2dKernel {
    fn compute(&mut self, ctx: &ComputeContext) -> ort::Result<()> {
        guarded(PAD2D, || self.run(ctx))
    }
}

impl Pad2dKernel {
    fn run(&mut self, ctx: &ComputeContext) -> ort::Result<()> {
        let x = ctx
            .input(0)?
            .ok_or_else(|| ort::Error::new(format!("{PAD2D}: no input")))?;
        let (shape, x) = x.try_extract_tensor::<f32>()?;
        let [n, c, h, w] = shape[..] else {
            return Err(ort::Error::new(format!(
                "{PAD2D}: input must be [N, C, h, w], got {shape:?}"
            )));
        };
        let (h, w) = (h as usize, w as usize);
        if !self.pads.fit(h, w, self.mode) {
            return Err(ort::Error::new(format!(
                "{PAD2D}: {:?} padding of {:?} does not fit a {h}×{w} plane",
                self.mode, self.pads
            )));
        }
        let (ph, pw) = self.pads.padded(h, w);
        let mut y = ctx
            .output(0, &[n, c, ph as i64, pw as i64][..])?
            .ok_or_else(|| ort::Error::new(format!("{PAD2D}: no output")))?;
        let (_, y) = y.try_extract_tensor_mut::<f32>()?;
        let mut status = Ok(());
        pad::pad_planes(
            x,
            (n * c) as usize,
            (h, w),
            self.pads,
            self.mode,
            y,
            |k, task| status = pool_for(ctx, k, task),
        );
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_threads(n: usize, task: &(dyn Fn(usize) + Sync + Send)) {
        std::thread::scope(|scope| {
            for i in 0..n {
                scope.spawn(move || task(i));
            }
        });
    }

    #[test]
    fn a_panicking_task_is_reported_and_the_other_tasks_still_run() {
        let ran = std::sync::atomic::AtomicUsize::new(0);
        let task = |i: usize| {
            ran.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            assert!(i != 2, "block {i} out of range");
        };
        let ((), panic) = catching_tasks(4, &task, on_threads);
        assert_eq!(panic.as_deref(), Some("block 2 out of range"));
        assert_eq!(ran.into_inner(), 4);
        assert_eq!(catching_tasks(4, &|_| {}, on_threads).1, None);
    }

    #[test]
    fn a_panic_becomes_a_message_naming_the_operator_and_the_way_around_it() {
        let message = caught(|| panic!("tile {} past the end", 7)).unwrap_err();
        assert_eq!(message, "tile 7 past the end");
        let error = panicked(WINOGRAD_CONV, &message);
        assert!(error.contains(WINOGRAD_CONV) && error.contains("tile 7 past the end"));
        assert!(error.contains("bug in stylecam") && error.contains("--cpu-graph reference"));
        assert_eq!(caught(|| 5), Ok(5));
    }
}
