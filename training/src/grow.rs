//! Starting a network from a trained one of a smaller architecture (`--init-from`).
//!
//! The seed's network (w32-b5) learns the teacher far more slowly per step than the real-time
//! w8-b3 (models/README.md, *Full variants*): from a random start it spends most of its first
//! thousand steps getting back to where the small network already is. So a trained small model is
//! *grown* into the large architecture such that the grown network computes exactly the same
//! picture (function-preserving widening and deepening, Chen et al. 2016, "Net2Net"), and training
//! goes on from there with the large network's extra capacity:
//!
//! * **wider**: every internal channel `j` of the large network copies channel `j mod c` of the
//!   small one (`c` its channel count there); a layer reading `m` copies of a channel divides
//!   those input weights by `m`. Instance norm is per channel, so copies stay copies, and the
//!   sums into the next layer are unchanged. A little noise (1 % of each widened weight tensor's
//!   standard deviation) keeps the copies from receiving identical gradients forever.
//! * **deeper**: residual blocks the small network lacks are appended after its own, with their
//!   second convolution zeroed. A block computes `relu(x + conv2(relu(conv1(x))))` on an `x` that
//!   is already the output of a ReLU, so a zero `conv2` makes it the identity; its first
//!   convolution keeps the usual random initialisation so that gradients reach `conv2`.
//!
//! The image channels (3 in, 3 out) are never widened. Grown widths must be whole multiples of the
//! small one's, and the small network may not have more blocks.

use std::collections::BTreeMap;

use stylecam::net::onnx::Weights;
use stylecam::net::{ImfwArch, Layer};
use tch::{Kind, Tensor};

use crate::{Error, Result};

/// Relative noise added to widened weights (see the module docs).
pub const SYMMETRY_NOISE: f64 = 0.01;

/// How one parameter tensor's dimensions map onto the small network's.
#[derive(Debug, Clone, Copy)]
enum Role {
    /// `[cout, cin, k, k]`.
    ConvWeight,
    /// `[cin, cout, k, k]`.
    ConvTransposeWeight,
    /// `[c]`: biases and instance-norm parameters.
    PerChannel,
}

/// Every parameter of `arch` with its role.
fn roles(arch: &ImfwArch) -> BTreeMap<String, Role> {
    let mut r = BTreeMap::new();
    for layer in arch.layers() {
        let (name, weight) = match layer {
            Layer::Conv { name, .. } => (name, Role::ConvWeight),
            Layer::ConvTranspose { name, .. } => (name, Role::ConvTransposeWeight),
            Layer::InstanceNorm { name, .. } => (name, Role::PerChannel),
            _ => continue,
        };
        r.insert(format!("{name}.weight"), weight);
        r.insert(format!("{name}.bias"), Role::PerChannel);
    }
    r
}

/// Checks that `small` can grow into `big`.
pub fn check(small: &ImfwArch, big: &ImfwArch) -> Result<()> {
    if small.width == 0 || !big.width.is_multiple_of(small.width) {
        return Err(Error::InvalidArgument(format!(
            "--init-from: a {} model cannot grow into {}: the width must be a whole multiple of the model's ({}); pick --width {}, {} …",
            small.label(),
            big.label(),
            small.width,
            small.width,
            2 * small.width
        )));
    }
    if small.blocks > big.blocks {
        return Err(Error::InvalidArgument(format!(
            "--init-from: a {} model cannot grow into {}: it has more residual blocks ({} > {}); pick --blocks {} or more",
            small.label(),
            big.label(),
            small.blocks,
            big.blocks,
            small.blocks
        )));
    }
    Ok(())
}

/// Repeats dimension `dim` of `t` cyclically to `size` entries (`size` a multiple of its own),
/// dividing by the repeat count when the dimension is an input that the next layer sums over.
fn widen(t: &Tensor, dim: i64, size: i64, is_input: bool) -> Tensor {
    let have = t.size()[dim as usize];
    if have == size {
        return t.shallow_clone();
    }
    let index = Tensor::arange(size, (Kind::Int64, t.device())).remainder(have);
    let w = t.index_select(dim, &index);
    if is_input {
        w / (size / have) as f64
    } else {
        w
    }
}

/// Grows one small parameter into `shape`.
fn grow_tensor(small: &Tensor, role: Role, shape: &[i64]) -> Tensor {
    match role {
        Role::ConvWeight => widen(&widen(small, 0, shape[0], false), 1, shape[1], true),
        Role::ConvTransposeWeight => widen(&widen(small, 0, shape[0], true), 1, shape[1], false),
        Role::PerChannel => widen(small, 0, shape[0], false),
    }
}

/// The large network's parameters grown from `small_weights` (see the module docs). `fresh`
/// holds the large network's own initialisation, used for the appended blocks' first
/// convolutions. Widened weight tensors get normal noise of `noise` times their standard
/// deviation ([`SYMMETRY_NOISE`] to train; 0 for an exact copy), from torch's generator (seed it
/// first for a repeatable start).
pub fn grow(
    small: &ImfwArch,
    small_weights: &Weights,
    big: &ImfwArch,
    fresh: &BTreeMap<String, Tensor>,
    noise: f64,
) -> Result<BTreeMap<String, Tensor>> {
    check(small, big)?;
    let roles = roles(big);
    let mut out = BTreeMap::new();
    for (name, shape) in big.parameters() {
        let shape: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
        let grown = match small_weights.get(&name) {
            Some(t) => {
                let dims: Vec<i64> = t.shape.iter().map(|&d| d as i64).collect();
                let s = Tensor::from_slice(&t.data).reshape(&dims);
                let g = grow_tensor(&s, roles[&name], &shape);
                if dims != shape && shape.len() > 1 && noise > 0.0 {
                    let sigma = g.std(true).double_value(&[]) * noise;
                    &g + Tensor::randn(&shape, (Kind::Float, g.device())) * sigma
                } else {
                    g
                }
            }
            // A block the small network lacks: identity through a zero second convolution.
            None if name.contains(".conv2.") => {
                Tensor::zeros(&shape, (Kind::Float, tch::Device::Cpu))
            }
            None => fresh
                .get(&name)
                .ok_or_else(|| {
                    Error::InvalidArgument(format!("--init-from: no initial value for {name}"))
                })?
                .shallow_clone(),
        };
        out.insert(name, grown);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::ImfwNet;
    use tch::Device;

    fn weights_of(net: &ImfwNet) -> Weights {
        crate::export::weights(net).unwrap()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
        (a - b).abs().max().double_value(&[])
    }

    #[test]
    fn a_grown_network_computes_the_small_ones_picture() {
        let small_arch = ImfwArch::new(4, 1);
        let small = ImfwNet::new(small_arch, Device::Cpu, 3).unwrap();
        let big_arch = ImfwArch::new(8, 3);
        let mut big = ImfwNet::new(big_arch, Device::Cpu, 4).unwrap();
        let fresh: BTreeMap<_, _> = big.named_parameters().into_iter().collect();
        let x = Tensor::randn([1, 3, 32, 40], (Kind::Float, Device::Cpu));
        let before = max_diff(&small.forward(&x), &big.forward(&x));
        assert!(before > 0.1, "two random networks should differ ({before})");

        let grown = grow(&small_arch, &weights_of(&small), &big_arch, &fresh, 0.0).unwrap();
        big.load(&grown).unwrap();
        let exact = max_diff(&small.forward(&x), &big.forward(&x));
        assert!(exact < 1e-4, "grown without noise: max |diff| {exact}");

        let noisy = grow(
            &small_arch,
            &weights_of(&small),
            &big_arch,
            &fresh,
            SYMMETRY_NOISE,
        )
        .unwrap();
        big.load(&noisy).unwrap();
        let y = big.forward(&x);
        let near = max_diff(&small.forward(&x), &y);
        assert!(
            near > 0.0 && near < 0.1,
            "with symmetry noise: max |diff| {near}"
        );
        // The copies are no longer identical, so training can pull them apart.
        let w = &noisy["conv1.weight"];
        assert!(max_diff(&w.get(0), &w.get(4)) > 0.0);
    }

    #[test]
    fn growing_refuses_shapes_it_cannot_preserve() {
        let e = check(&ImfwArch::new(8, 3), &ImfwArch::new(12, 5)).unwrap_err();
        assert!(e.to_string().contains("whole multiple"), "{e}");
        let e = check(&ImfwArch::new(8, 3), &ImfwArch::new(32, 1)).unwrap_err();
        assert!(e.to_string().contains("--blocks 3"), "{e}");
    }
}
