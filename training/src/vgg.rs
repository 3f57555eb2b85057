//! VGG16 feature extractor up to relu4_3, with torchvision's parameter names.
//!
//! torchvision's `vgg16().features` indices: convolutions at 0, 2 | 5, 7 | 10, 12, 14 | 17, 19, 21,
//! each followed by a ReLU, with 2×2 max-pools at 4, 9 and 16. The loss uses the activations after
//! the ReLUs at 3 (relu1_2), 8 (relu2_2), 15 (relu3_3) and 22 (relu4_3).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use rand::{Rng, SeedableRng};
use safetensors::{Dtype, SafeTensors};
use tch::{Device, Kind, Tensor};

use crate::{Error, Result};

/// `(features index, in channels, out channels)` of each 3×3 convolution up to relu4_3.
pub const VGG16_CONVS: [(usize, usize, usize); 10] = [
    (0, 3, 64),
    (2, 64, 64),
    (5, 64, 128),
    (7, 128, 128),
    (10, 128, 256),
    (12, 256, 256),
    (14, 256, 256),
    (17, 256, 512),
    (19, 512, 512),
    (21, 512, 512),
];

/// Where VGG16's weights come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VggSource {
    /// A `.safetensors` file with `features.N.weight/bias`.
    File(PathBuf),
    /// torchvision's initialisation (Kaiming normal, fan_out, ReLU; zero bias), from this seed.
    Random(u64),
}

impl FromStr for VggSource {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.strip_prefix("random:") {
            Some(seed) => seed.parse().map(VggSource::Random).map_err(|_| {
                Error::InvalidArgument(format!(
                    "--vgg {s}: expected random:SEED with an integer SEED, e.g. random:0"
                ))
            }),
            None => Ok(VggSource::File(PathBuf::from(s))),
        }
    }
}

impl std::fmt::Display for VggSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VggSource::File(p) => write!(f, "{}", p.display()),
            VggSource::Random(seed) => write!(f, "random:{seed}"),
        }
    }
}

/// The frozen feature extractor. Its tensors never require gradients.
#[derive(Debug)]
pub struct Vgg16 {
    /// `(weight [out,in,3,3], bias [out])` for each entry of [`VGG16_CONVS`].
    convs: Vec<(Tensor, Tensor)>,
}

/// Activations at relu1_2, relu2_2, relu3_3, relu4_3.
pub struct VggFeatures {
    pub relu: [Tensor; 4],
}

impl Vgg16 {
    /// Loads or builds the extractor on `device`.
    pub fn load(source: &VggSource, device: Device) -> Result<Self> {
        let convs = match source {
            VggSource::File(path) => Self::read_file(path)?,
            VggSource::Random(seed) => Self::random(*seed),
        };
        Ok(Self {
            convs: convs
                .into_iter()
                .map(|(w, b)| (w.to_device(device), b.to_device(device)))
                .collect(),
        })
    }

    /// The tensors under torchvision's names, for tests and for saving a random VGG.
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        VGG16_CONVS
            .iter()
            .zip(&self.convs)
            .flat_map(|((idx, _, _), (w, b))| {
                [
                    (format!("features.{idx}.weight"), w.shallow_clone()),
                    (format!("features.{idx}.bias"), b.shallow_clone()),
                ]
            })
            .collect()
    }

    fn random(seed: u64) -> Vec<(Tensor, Tensor)> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        VGG16_CONVS
            .iter()
            .map(|&(_, cin, cout)| {
                // kaiming_normal_(mode="fan_out", nonlinearity="relu"): std = sqrt(2 / (out·k·k)).
                let std = (2.0 / (cout * 9) as f64).sqrt();
                let n = cout * cin * 9;
                let mut data = Vec::with_capacity(n);
                while data.len() < n {
                    // Box–Muller: two independent standard normals per pair of uniforms.
                    let u1: f64 = 1.0 - rng.random::<f64>();
                    let u2: f64 = rng.random::<f64>();
                    let r = (-2.0 * u1.ln()).sqrt();
                    let t = 2.0 * std::f64::consts::PI * u2;
                    data.push((r * t.cos() * std) as f32);
                    data.push((r * t.sin() * std) as f32);
                }
                data.truncate(n);
                let w = Tensor::from_slice(&data).reshape([cout as i64, cin as i64, 3, 3]);
                let b = Tensor::zeros([cout as i64], (Kind::Float, Device::Cpu));
                (w, b)
            })
            .collect()
    }

    fn read_file(path: &Path) -> Result<Vec<(Tensor, Tensor)>> {
        let fail = |problem: String| Error::Vgg {
            path: path.to_path_buf(),
            problem,
        };
        let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        let st = SafeTensors::deserialize(&bytes)
            .map_err(|e| fail(format!("not a valid .safetensors file ({e:?})")))?;
        let mut problems = Vec::new();
        let mut out = Vec::new();
        for &(idx, cin, cout) in &VGG16_CONVS {
            let mut get = |suffix: &str, shape: Vec<usize>| -> Option<Tensor> {
                let name = format!("features.{idx}.{suffix}");
                let view = match st.tensor(&name) {
                    Ok(v) => v,
                    Err(_) => {
                        problems.push(format!("missing tensor {name} (expected shape {shape:?})"));
                        return None;
                    }
                };
                if view.shape() != shape.as_slice() {
                    problems.push(format!(
                        "{name} has shape {:?}, expected {shape:?}",
                        view.shape()
                    ));
                    return None;
                }
                let kind = match view.dtype() {
                    Dtype::F32 => Kind::Float,
                    Dtype::F16 => Kind::Half,
                    Dtype::BF16 => Kind::BFloat16,
                    Dtype::F64 => Kind::Double,
                    other => {
                        problems.push(format!("{name} has dtype {other:?}, expected float"));
                        return None;
                    }
                };
                let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
                let t = Tensor::f_from_data_size(view.data(), &dims, kind).ok()?;
                Some(t.to_kind(Kind::Float))
            };
            let w = get("weight", vec![cout, cin, 3, 3]);
            let b = get("bias", vec![cout]);
            if let (Some(w), Some(b)) = (w, b) {
                out.push((w, b));
            }
        }
        if !problems.is_empty() {
            return Err(fail(problems.join("; ")));
        }
        Ok(out)
    }

    /// Features of an ImageNet-normalised batch `[N,3,H,W]`.
    pub fn forward(&self, x: &Tensor) -> VggFeatures {
        let conv = |h: &Tensor, i: usize| {
            let (w, b) = &self.convs[i];
            h.conv2d(w, Some(b), [1, 1], [1, 1], [1, 1], 1).relu()
        };
        let pool = |h: &Tensor| h.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false);
        let r1 = conv(&conv(x, 0), 1);
        let r2 = conv(&conv(&pool(&r1), 2), 3);
        let r3 = conv(&conv(&conv(&pool(&r2), 4), 5), 6);
        let r4 = conv(&conv(&conv(&pool(&r3), 7), 8), 9);
        VggFeatures {
            relu: [r1, r2, r3, r4],
        }
    }
}
