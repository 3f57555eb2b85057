//! ImfwNet in tch, built from the app crate's description ([`stylecam::net::ImfwArch::layers`]).
//!
//! Variables live in a [`nn::VarStore`] under exactly the architecture's parameter names
//! (`conv1.weight`, `res1.conv2.bias`, …), so checkpoints, the ONNX writer and PyTorch
//! `state_dict`s share one naming.

use std::collections::BTreeMap;

use stylecam::net::onnx::Weights;
use stylecam::net::{ImfwArch, Layer};
use tch::{nn, Device, Kind, Tensor};

use crate::{Error, Result};

/// One operation with its parameters resolved to tensors.
#[derive(Debug)]
enum Op {
    ReflectPad(i64),
    Conv {
        weight: Tensor,
        bias: Tensor,
        stride: i64,
        pad: i64,
    },
    ConvTranspose {
        weight: Tensor,
        bias: Tensor,
        stride: i64,
        pad: i64,
        output_pad: i64,
    },
    InstanceNorm {
        weight: Tensor,
        bias: Tensor,
    },
    Relu,
    SaveResidual,
    AddResidual,
}

/// ImfwNet with trainable variables.
pub struct ImfwNet {
    pub arch: ImfwArch,
    pub vs: nn::VarStore,
    ops: Vec<Op>,
    /// The convolutions' arithmetic: `Float`, or `BFloat16` for mixed precision (weights and
    /// everything else stay float32; see [`ImfwNet::set_conv_kind`]).
    conv_kind: Kind,
}

impl std::fmt::Debug for ImfwNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImfwNet").field("arch", &self.arch).finish()
    }
}

/// `vs.root() / "res1" / "conv1"` for the layer name `res1.conv1`.
fn nested<'a>(root: nn::Path<'a>, name: &str) -> nn::Path<'a> {
    name.split('.').fold(root, |p, part| p / part)
}

fn dims(shape: &[usize]) -> Vec<i64> {
    shape.iter().map(|&d| d as i64).collect()
}

impl ImfwNet {
    /// A new network on `device` with PyTorch's default initialisation (convolutions:
    /// U(±1/√fan_in) for weight and bias; instance norm: weight 1, bias 0), drawn from torch's
    /// generator seeded with `seed`.
    pub fn new(arch: ImfwArch, device: Device, seed: i64) -> Result<Self> {
        if arch.width == 0 {
            return Err(Error::InvalidArgument(
                "--width must be at least 1 (the seed uses 32; light presets 16 or 8)".into(),
            ));
        }
        tch::manual_seed(seed);
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let mut ops = Vec::new();
        for layer in arch.layers() {
            let op = match layer {
                Layer::ReflectPad { pad } => Op::ReflectPad(pad as i64),
                Layer::Conv {
                    name,
                    cin,
                    cout,
                    kernel,
                    stride,
                    pad,
                } => {
                    let bound = 1.0 / ((cin * kernel * kernel) as f64).sqrt();
                    let init = nn::Init::Uniform {
                        lo: -bound,
                        up: bound,
                    };
                    let p = nested(root.clone(), &name);
                    Op::Conv {
                        weight: p.var("weight", &dims(&[cout, cin, kernel, kernel]), init),
                        bias: p.var("bias", &[cout as i64], init),
                        stride: stride as i64,
                        pad: pad as i64,
                    }
                }
                Layer::ConvTranspose {
                    name,
                    cin,
                    cout,
                    kernel,
                    stride,
                    pad,
                    output_pad,
                } => {
                    // PyTorch computes fan_in from weight.size(1), which is `out` for [in,out,k,k].
                    let bound = 1.0 / ((cout * kernel * kernel) as f64).sqrt();
                    let init = nn::Init::Uniform {
                        lo: -bound,
                        up: bound,
                    };
                    let p = nested(root.clone(), &name);
                    Op::ConvTranspose {
                        weight: p.var("weight", &dims(&[cin, cout, kernel, kernel]), init),
                        bias: p.var("bias", &[cout as i64], init),
                        stride: stride as i64,
                        pad: pad as i64,
                        output_pad: output_pad as i64,
                    }
                }
                Layer::InstanceNorm { name, channels } => {
                    let p = nested(root.clone(), &name);
                    Op::InstanceNorm {
                        weight: p.var("weight", &[channels as i64], nn::Init::Const(1.0)),
                        bias: p.var("bias", &[channels as i64], nn::Init::Const(0.0)),
                    }
                }
                Layer::Relu => Op::Relu,
                Layer::SaveResidual => Op::SaveResidual,
                Layer::AddResidual => Op::AddResidual,
            };
            ops.push(op);
        }
        Ok(Self {
            arch,
            vs,
            ops,
            conv_kind: Kind::Float,
        })
    }

    /// A network on `device` holding `weights` as the app's ONNX reader returns them
    /// ([`stylecam::net::onnx::load_weights`]); the inverse of [`crate::export::weights`].
    pub fn from_weights(arch: ImfwArch, weights: &Weights, device: Device) -> Result<Self> {
        let tensors: BTreeMap<String, Tensor> = weights
            .iter()
            .map(|(name, t)| {
                let values = Tensor::from_slice(&t.data).reshape(dims(&t.shape));
                (name.clone(), values)
            })
            .collect();
        let mut net = Self::new(arch, device, 0)?;
        net.load(&tensors)?;
        Ok(net)
    }

    /// Runs the network on an ImageNet-normalised batch `[N,3,H,W]` (H, W multiples of 4).
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let mut h = x.shallow_clone();
        let mut residual: Option<Tensor> = None;
        for op in &self.ops {
            h = match op {
                Op::ReflectPad(p) => h.reflection_pad2d([*p, *p, *p, *p]),
                Op::Conv {
                    weight,
                    bias,
                    stride,
                    pad,
                } => self.mixed(&h, weight, bias, |x, w, b| {
                    x.conv2d(w, Some(b), [*stride; 2], [*pad; 2], [1, 1], 1)
                }),
                Op::ConvTranspose {
                    weight,
                    bias,
                    stride,
                    pad,
                    output_pad,
                } => self.mixed(&h, weight, bias, |x, w, b| {
                    x.conv_transpose2d(
                        w,
                        Some(b),
                        [*stride; 2],
                        [*pad; 2],
                        [*output_pad; 2],
                        1,
                        [1, 1],
                    )
                }),
                Op::InstanceNorm { weight, bias } => h.instance_norm(
                    Some(weight),
                    Some(bias),
                    None::<&Tensor>,
                    None::<&Tensor>,
                    true,
                    0.1,
                    stylecam::net::arch::IN_EPS as f64,
                    false,
                ),
                Op::Relu => h.relu(),
                Op::SaveResidual => {
                    residual = Some(h.shallow_clone());
                    h
                }
                Op::AddResidual => {
                    let r = residual
                        .take()
                        .expect("architecture adds a residual it never saved");
                    h + r
                }
            };
        }
        h
    }

    /// Mixed precision: with `Kind::BFloat16` every convolution runs in bfloat16 (inputs, weights
    /// and bias cast on the fly, the result cast back to float32), as PyTorch's CPU autocast
    /// does; instance norms, ReLUs, residual sums, the loss and the weights themselves stay
    /// float32. On CPUs with AMX or AVX-512 BF16 this makes a training step 2–3× faster.
    /// `Kind::Float` (the default) computes everything in float32, as exported.
    pub fn set_conv_kind(&mut self, kind: Kind) {
        self.conv_kind = kind;
    }

    fn mixed(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        conv: impl Fn(&Tensor, &Tensor, &Tensor) -> Tensor,
    ) -> Tensor {
        if self.conv_kind == Kind::Float {
            return conv(x, w, b);
        }
        let k = self.conv_kind;
        conv(&x.to_kind(k), &w.to_kind(k), &b.to_kind(k)).to_kind(Kind::Float)
    }

    /// The trainable variables by parameter name, in the architecture's order.
    pub fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let vars = self.vs.variables();
        self.arch
            .parameters()
            .into_iter()
            .map(|(name, _)| {
                let t = vars
                    .get(&name)
                    .unwrap_or_else(|| panic!("variable {name} was created by new()"))
                    .shallow_clone();
                (name, t)
            })
            .collect()
    }

    /// Copies named tensors into the variables. Every parameter must be present with its shape.
    pub fn load(&mut self, tensors: &BTreeMap<String, Tensor>) -> Result<()> {
        let mut problems = Vec::new();
        for (name, shape) in self.arch.parameters() {
            match tensors.get(&name) {
                None => problems.push(format!("missing {name}")),
                Some(t) if t.size() != dims(&shape) => problems.push(format!(
                    "{name} has shape {:?}, expected {shape:?}",
                    t.size()
                )),
                Some(_) => {}
            }
        }
        if !problems.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "network weights do not fit {}: {}",
                self.arch.label(),
                problems.join("; ")
            )));
        }
        let vars = self.vs.variables();
        tch::no_grad(|| -> Result<()> {
            for (name, _) in self.arch.parameters() {
                let src = &tensors[&name];
                vars[&name]
                    .shallow_clone()
                    .f_copy_(&src.to_kind(Kind::Float))?;
            }
            Ok(())
        })
    }
}
