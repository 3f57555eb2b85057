//! stylecam's own ONNX operator, registered with every CPU session: the residual blocks'
//! 3×3 convolutions as Winograd F(4×4, 3×3) ([`crate::engine::winograd`]).
//!
//! `ai.stylecam:InstanceNormRelu(X, scale, bias) → Y`, attributes `epsilon`, `relu` (0 or 1):
//! instance norm over each of `C = len(scale)` contiguous chunks of `X` (so also over a channel's
//! adjacent phases in a phase-split tensor), then the ReLU ([`crate::engine::norm`]).
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

use super::norm;
use super::winograd::Conv3x3;

use crate::net::graph::{
    NORM_RELU_OP as NORM_RELU, STYLECAM_DOMAIN as DOMAIN, WINOGRAD_CONV_OP as WINOGRAD_CONV,
};

/// The operator domain to register with a session builder whose intra-op pool has `threads`.
pub fn domain(threads: usize) -> ort::Result<OperatorDomain> {
    OperatorDomain::new(DOMAIN)?
        .add(WinogradConvOp { threads })?
        .add(NormReluOp)
}

struct NormReluOp;

impl Operator for NormReluOp {
    type Kernel<'attr> = NormReluKernel;

    fn name(&self) -> &str {
        NORM_RELU
    }

    fn inputs(&self) -> impl IntoIterator<Item = OperatorInput> {
        [
            OperatorInput::required(TensorElementType::Float32),
            OperatorInput::required(TensorElementType::Float32),
            OperatorInput::required(TensorElementType::Float32),
        ]
    }

    fn outputs(&self) -> impl IntoIterator<Item = OperatorOutput> {
        [OperatorOutput::required(TensorElementType::Float32)]
    }

    fn create_kernel<'attr>(&self, ctx: &KernelContext<'attr>) -> ort::Result<NormReluKernel> {
        let scale = ctx.constant_input::<DynTensorValueType>(1)?;
        let (_, scale) = scale.try_extract_tensor::<f32>()?;
        let bias = ctx.constant_input::<DynTensorValueType>(2)?;
        let (_, bias) = bias.try_extract_tensor::<f32>()?;
        if scale.len() != bias.len() {
            return Err(ort::Error::new(format!(
                "{NORM_RELU}: {} scales but {} biases",
                scale.len(),
                bias.len()
            )));
        }
        Ok(NormReluKernel {
            scale: scale.to_vec(),
            bias: bias.to_vec(),
            epsilon: ctx.get::<f32>("epsilon").unwrap_or(1e-5),
            relu: ctx.get::<i64>("relu").unwrap_or(0) != 0,
        })
    }
}

struct NormReluKernel {
    scale: Vec<f32>,
    bias: Vec<f32>,
    epsilon: f32,
    relu: bool,
}

impl Kernel for NormReluKernel {
    fn compute(&mut self, ctx: &ComputeContext) -> ort::Result<()> {
        let x = ctx
            .input(0)?
            .ok_or_else(|| ort::Error::new(format!("{NORM_RELU}: no input")))?;
        let (shape, x) = x.try_extract_tensor::<f32>()?;
        if shape.first() != Some(&1) || x.len() % self.scale.len().max(1) != 0 {
            return Err(ort::Error::new(format!(
                "{NORM_RELU}: input {shape:?} does not split into {} channels of one image",
                self.scale.len()
            )));
        }
        let mut y = ctx
            .output(0, shape.to_vec())?
            .ok_or_else(|| ort::Error::new(format!("{NORM_RELU}: no output")))?;
        let (_, y) = y.try_extract_tensor_mut::<f32>()?;
        let mut status = Ok(());
        norm::instance_norm(
            x,
            y,
            &self.scale,
            &self.bias,
            self.epsilon,
            self.relu,
            |n, task| {
                status = ctx.par_for(n, n, task);
            },
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
            conv: Conv3x3::new(w, b, cout as usize, cin as usize, relu),
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
            .output(0, vec![1, cout as i64, h as i64, w as i64])?
            .ok_or_else(|| missing("output"))?;
        let (_, y) = y.try_extract_tensor_mut::<f32>()?;
        let mut status = Ok(());
        self.conv
            .run(x, h, w, residual, y, self.threads, |n, task| {
                status = ctx.par_for(n, n, task);
            });
        status
    }
}
