//! Adam (Kingma & Ba), written out so its state can be checkpointed by name.
//!
//! Same update as PyTorch's `torch.optim.Adam` (no weight decay, no amsgrad):
//! m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε).

use std::collections::BTreeMap;

use tch::Tensor;

use crate::{Error, Result};

/// Optimiser state: first and second moments per parameter name, and the step count.
#[derive(Debug)]
pub struct Adam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Number of updates applied so far.
    pub step: u64,
    m: BTreeMap<String, Tensor>,
    v: BTreeMap<String, Tensor>,
}

impl Adam {
    /// Fresh state (zero moments) for these parameters, with PyTorch's default betas and epsilon.
    pub fn new(lr: f64, params: &[(String, Tensor)]) -> Self {
        let zeros = |p: &Tensor| p.zeros_like().detach();
        Self {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            step: 0,
            m: params.iter().map(|(n, p)| (n.clone(), zeros(p))).collect(),
            v: params.iter().map(|(n, p)| (n.clone(), zeros(p))).collect(),
        }
    }

    /// Clears the parameters' gradients.
    pub fn zero_grad(params: &mut [(String, Tensor)]) {
        for (_, p) in params.iter_mut() {
            p.zero_grad();
        }
    }

    /// Applies one update from the gradients currently stored on `params`.
    pub fn step(&mut self, params: &[(String, Tensor)]) {
        self.step += 1;
        let t = self.step as i32;
        let bias1 = 1.0 - self.beta1.powi(t);
        let bias2_sqrt = (1.0 - self.beta2.powi(t)).sqrt();
        let step_size = self.lr / bias1;
        tch::no_grad(|| {
            for (name, p) in params {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                let m = self.m.get_mut(name).expect("moment for every parameter");
                let v = self.v.get_mut(name).expect("moment for every parameter");
                let _ = m.lerp_(&g, 1.0 - self.beta1);
                let _ = v.g_mul_scalar_(self.beta2);
                let _ = v.addcmul_(&(&g * (1.0 - self.beta2)), &g);
                let denom = (v.sqrt() / bias2_sqrt) + self.eps;
                let mut p = p.shallow_clone();
                let _ = p.addcdiv_(&(&*m * -step_size), &denom);
            }
        });
    }

    /// The moments as named tensors (`adam.m.<param>`, `adam.v.<param>`) for a checkpoint.
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        self.m
            .iter()
            .map(|(n, t)| (format!("adam.m.{n}"), t.shallow_clone()))
            .chain(
                self.v
                    .iter()
                    .map(|(n, t)| (format!("adam.v.{n}"), t.shallow_clone())),
            )
            .collect()
    }

    /// Restores moments saved by [`Adam::state_tensors`] and the step count.
    pub fn load_state(&mut self, tensors: &BTreeMap<String, Tensor>, step: u64) -> Result<()> {
        for (prefix, moments) in [("adam.m.", &mut self.m), ("adam.v.", &mut self.v)] {
            for (name, t) in moments.iter_mut() {
                let key = format!("{prefix}{name}");
                let src = tensors.get(&key).ok_or_else(|| {
                    Error::InvalidArgument(format!("optimiser state lacks {key}"))
                })?;
                if src.size() != t.size() {
                    return Err(Error::InvalidArgument(format!(
                        "optimiser state {key} has shape {:?}, expected {:?}",
                        src.size(),
                        t.size()
                    )));
                }
                tch::no_grad(|| t.f_copy_(src))?;
            }
        }
        self.step = step;
        Ok(())
    }
}
