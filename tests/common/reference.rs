//! An independent reference of the whole stylize pipeline, in plain f64 loops, for tiny images.
//!
//! Nothing here calls ONNX Runtime, the ONNX writer or the engine: the network's structure is
//! written out again from the product description (reflection pad 4 → conv 9×9 → IN → ReLU →
//! conv 3×3 s2 → IN → ReLU → reflection pad 1 → conv 3×3 s2 → IN → ReLU → residual blocks →
//! convT 3×3 s2 p1 op1 → IN → ReLU → convT (same) → IN → ReLU → convT 9×9 p4), only the width,
//! block count, parameter names and published constants (mean, std, clamp, ε) are shared.
//!
//! The pre/post-processing follows `stylecam::net::arch::SIZE_MULTIPLE`'s padding rule:
//! u8 → [0,1] → (x − mean)/std; reflect-pad each side to the next multiple of 4 (at least 8) with
//! `before = extra/2`, `after = extra − extra/2`; run the network; crop back; clamp to
//! [−2.1, 2.7]; x·std + mean; clip to [0,1]; `(x·255).round()` to u8.

use image::RgbImage;
use stylecam::net::arch::{IN_EPS, MEAN, OUTPUT_CLAMP, STD};
use stylecam::net::{ImfwArch, Weights};

/// A channels × height × width f64 tensor (batch of one), row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Chw {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub data: Vec<f64>,
}

impl Chw {
    pub fn zeros(c: usize, h: usize, w: usize) -> Self {
        Self {
            c,
            h,
            w,
            data: vec![0.0; c * h * w],
        }
    }

    #[inline]
    pub fn at(&self, c: usize, y: usize, x: usize) -> f64 {
        self.data[(c * self.h + y) * self.w + x]
    }

    #[inline]
    pub fn at_mut(&mut self, c: usize, y: usize, x: usize) -> &mut f64 {
        &mut self.data[(c * self.h + y) * self.w + x]
    }
}

/// Source index for padded position `i` (may be negative or ≥ len) under reflection without
/// edge repetition, bouncing between the edges when the padding exceeds `len − 1`.
pub fn reflect(i: isize, len: usize) -> usize {
    if len == 1 {
        return 0;
    }
    let period = 2 * (len as isize - 1);
    let m = i.rem_euclid(period);
    (if m < len as isize { m } else { period - m }) as usize
}

/// Reflection-pad top/bottom/left/right.
pub fn reflect_pad(x: &Chw, top: usize, bottom: usize, left: usize, right: usize) -> Chw {
    let mut out = Chw::zeros(x.c, x.h + top + bottom, x.w + left + right);
    for c in 0..x.c {
        for y in 0..out.h {
            let sy = reflect(y as isize - top as isize, x.h);
            for xx in 0..out.w {
                let sx = reflect(xx as isize - left as isize, x.w);
                *out.at_mut(c, y, xx) = x.at(c, sy, sx);
            }
        }
    }
    out
}

fn param<'a>(w: &'a Weights, name: &str) -> &'a [f32] {
    &w.get(name)
        .unwrap_or_else(|| panic!("reference: weights lack '{name}'"))
        .data
}

/// Convolution with zero padding `pad`; weight `[cout, cin, k, k]`.
fn conv(x: &Chw, w: &Weights, name: &str, cout: usize, k: usize, stride: usize, pad: usize) -> Chw {
    let weight = param(w, &format!("{name}.weight"));
    let bias = param(w, &format!("{name}.bias"));
    assert_eq!(weight.len(), cout * x.c * k * k, "{name}.weight size");
    let oh = (x.h + 2 * pad - k) / stride + 1;
    let ow = (x.w + 2 * pad - k) / stride + 1;
    let mut out = Chw::zeros(cout, oh, ow);
    for co in 0..cout {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut acc = bias[co] as f64;
                for ci in 0..x.c {
                    for ky in 0..k {
                        let iy = (oy * stride + ky) as isize - pad as isize;
                        if iy < 0 || iy >= x.h as isize {
                            continue;
                        }
                        for kx in 0..k {
                            let ix = (ox * stride + kx) as isize - pad as isize;
                            if ix < 0 || ix >= x.w as isize {
                                continue;
                            }
                            let wv = weight[((co * x.c + ci) * k + ky) * k + kx] as f64;
                            acc += wv * x.at(ci, iy as usize, ix as usize);
                        }
                    }
                }
                *out.at_mut(co, oy, ox) = acc;
            }
        }
    }
    out
}

/// Transposed convolution; weight `[cin, cout, k, k]`. Output size
/// `(in − 1)·stride − 2·pad + k + output_pad`.
#[allow(clippy::too_many_arguments)]
fn conv_transpose(
    x: &Chw,
    w: &Weights,
    name: &str,
    cout: usize,
    k: usize,
    stride: usize,
    pad: usize,
    output_pad: usize,
) -> Chw {
    let weight = param(w, &format!("{name}.weight"));
    let bias = param(w, &format!("{name}.bias"));
    assert_eq!(weight.len(), x.c * cout * k * k, "{name}.weight size");
    let oh = (x.h - 1) * stride + k + output_pad - 2 * pad;
    let ow = (x.w - 1) * stride + k + output_pad - 2 * pad;
    let mut out = Chw::zeros(cout, oh, ow);
    for (plane, b) in out.data.chunks_exact_mut(oh * ow).zip(bias) {
        plane.fill(*b as f64);
    }
    for ci in 0..x.c {
        for iy in 0..x.h {
            for ix in 0..x.w {
                let v = x.at(ci, iy, ix);
                for co in 0..cout {
                    for ky in 0..k {
                        let oy = (iy * stride + ky) as isize - pad as isize;
                        if oy < 0 || oy >= oh as isize {
                            continue;
                        }
                        for kx in 0..k {
                            let ox = (ix * stride + kx) as isize - pad as isize;
                            if ox < 0 || ox >= ow as isize {
                                continue;
                            }
                            let wv = weight[((ci * cout + co) * k + ky) * k + kx] as f64;
                            *out.at_mut(co, oy as usize, ox as usize) += v * wv;
                        }
                    }
                }
            }
        }
    }
    out
}

/// Instance norm (biased variance, ε = 1e-5) with affine `{name}.weight`, `{name}.bias`.
fn instance_norm(mut x: Chw, w: &Weights, name: &str) -> Chw {
    let gamma = param(w, &format!("{name}.weight"));
    let beta = param(w, &format!("{name}.bias"));
    let n = (x.h * x.w) as f64;
    let plane = x.h * x.w;
    for c in 0..x.c {
        let p = &mut x.data[c * plane..(c + 1) * plane];
        let mean = p.iter().sum::<f64>() / n;
        let var = p.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        let inv = 1.0 / (var + IN_EPS as f64).sqrt();
        for v in p.iter_mut() {
            *v = (*v - mean) * inv * gamma[c] as f64 + beta[c] as f64;
        }
    }
    x
}

fn relu(mut x: Chw) -> Chw {
    for v in &mut x.data {
        *v = v.max(0.0);
    }
    x
}

/// The network alone on a normalised `3×H×W` tensor (H, W multiples of 4, at least 8).
pub fn reference_forward(arch: &ImfwArch, w: &Weights, input: &Chw) -> Chw {
    assert_eq!(input.c, 3);
    assert!(
        input.h.is_multiple_of(4) && input.w.is_multiple_of(4) && input.h >= 8 && input.w >= 8,
        "reference_forward needs sides that are multiples of 4 and at least 8, got {}x{}",
        input.w,
        input.h
    );
    let width = arch.width;
    let x = reflect_pad(input, 4, 4, 4, 4);
    let x = relu(instance_norm(
        conv(&x, w, "conv1", width, 9, 1, 0),
        w,
        "in1",
    ));
    let x = relu(instance_norm(
        conv(&x, w, "conv2", 2 * width, 3, 2, 0),
        w,
        "in2",
    ));
    let x = reflect_pad(&x, 1, 1, 1, 1);
    let mut x = relu(instance_norm(
        conv(&x, w, "conv3", 4 * width, 3, 2, 0),
        w,
        "in3",
    ));
    for i in 1..=arch.blocks {
        let skip = x.clone();
        let y = relu(conv(&x, w, &format!("res{i}.conv1"), 4 * width, 3, 1, 1));
        let mut y = conv(&y, w, &format!("res{i}.conv2"), 4 * width, 3, 1, 1);
        for (v, s) in y.data.iter_mut().zip(&skip.data) {
            *v += s;
        }
        x = relu(y);
    }
    let x = conv_transpose(&x, w, "deconv1", 2 * width, 3, 2, 1, 1);
    let x = relu(instance_norm(x, w, "in4"));
    let x = conv_transpose(&x, w, "deconv2", width, 3, 2, 1, 1);
    let x = relu(instance_norm(x, w, "in5"));
    conv_transpose(&x, w, "deconv3", 3, 9, 1, 4, 0)
}

/// `(before, after)` padding of one side: to the next multiple of 4, at least 8, split with the
/// smaller half first.
pub fn side_padding(len: usize) -> (usize, usize) {
    let target = len.max(8).div_ceil(4) * 4;
    let extra = target - len;
    (extra / 2, extra - extra / 2)
}

/// u8 RGB → normalised `3×H×W`.
pub fn normalize(img: &RgbImage) -> Chw {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut x = Chw::zeros(3, h, w);
    for (px, py, p) in img.enumerate_pixels() {
        for c in 0..3 {
            let v = p.0[c] as f64 / 255.0;
            *x.at_mut(c, py as usize, px as usize) = (v - MEAN[c] as f64) / STD[c] as f64;
        }
    }
    x
}

/// Normalised network output → u8 RGB: clamp, denormalise, clip to [0,1], round.
pub fn denormalize(y: &Chw) -> RgbImage {
    let (lo, hi) = (OUTPUT_CLAMP.0 as f64, OUTPUT_CLAMP.1 as f64);
    RgbImage::from_fn(y.w as u32, y.h as u32, |px, py| {
        let mut rgb = [0u8; 3];
        for (c, out) in rgb.iter_mut().enumerate() {
            let v = y.at(c, py as usize, px as usize).clamp(lo, hi);
            let v = (v * STD[c] as f64 + MEAN[c] as f64).clamp(0.0, 1.0);
            *out = (v * 255.0).round() as u8;
        }
        image::Rgb(rgb)
    })
}

/// The whole pipeline for any image size: normalise, pad, network, crop, post-process.
pub fn reference_stylize(arch: &ImfwArch, w: &Weights, img: &RgbImage) -> RgbImage {
    let x = normalize(img);
    let (top, bottom) = side_padding(x.h);
    let (left, right) = side_padding(x.w);
    let padded = reflect_pad(&x, top, bottom, left, right);
    let y = reference_forward(arch, w, &padded);
    assert_eq!(
        (y.h, y.w),
        (padded.h, padded.w),
        "the network keeps the size"
    );
    let mut cropped = Chw::zeros(3, x.h, x.w);
    for c in 0..3 {
        for yy in 0..x.h {
            for xx in 0..x.w {
                *cropped.at_mut(c, yy, xx) = y.at(c, yy + top, xx + left);
            }
        }
    }
    denormalize(&cropped)
}
