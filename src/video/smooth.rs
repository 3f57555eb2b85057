//! Temporal smoothing (`--smooth 0..1`): an exponential moving average of the stylized frames,
//! which calms the frame-to-frame flicker of per-frame style transfer.
//!
//! `out_t = s · out_{t-1} + (1 − s) · frame_t`; `s = 0` is off (frames pass unchanged).

use image::RgbImage;

use crate::{Error, Result};

/// EMA over frames of one size; a frame of another size restarts it.
#[derive(Debug, Clone)]
pub struct TemporalSmoother {
    strength: f32,
    state: Vec<f32>,
    size: (u32, u32),
}

impl TemporalSmoother {
    /// `strength` in 0..=1 (weight of the past; 0 = off). Values ≥ 1 would freeze the picture
    /// and are rejected.
    pub fn new(strength: f32) -> Result<Self> {
        if !(0.0..1.0).contains(&strength) {
            return Err(Error::InvalidArgument(format!(
                "--smooth must be in 0..1 (0 = off, 0.5 = strong), got {strength}"
            )));
        }
        Ok(Self {
            strength,
            state: Vec::new(),
            size: (0, 0),
        })
    }

    /// The weight of the past.
    pub fn strength(&self) -> f32 {
        self.strength
    }

    /// Forgets the past (e.g. after a cut or a style change).
    pub fn reset(&mut self) {
        self.state.clear();
        self.size = (0, 0);
    }

    /// Smooths `frame` in place.
    pub fn apply(&mut self, frame: &mut RgbImage) {
        if self.strength == 0.0 {
            return;
        }
        let size = frame.dimensions();
        let pixels: &mut [u8] = frame;
        if self.size != size || self.state.len() != pixels.len() {
            self.state = pixels.iter().map(|&v| f32::from(v)).collect();
            self.size = size;
            return;
        }
        let s = self.strength;
        let k = 1.0 - s;
        for (acc, px) in self.state.iter_mut().zip(pixels.iter_mut()) {
            *acc = s * *acc + k * f32::from(*px);
            *px = (*acc + 0.5) as u8;
        }
    }
}

/// Mean absolute difference between two frames of the same size (0..255).
pub fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| u64::from(x.abs_diff(y)))
        .sum();
    sum as f64 / a.as_raw().len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_passes_frames_unchanged() {
        let mut s = TemporalSmoother::new(0.0).unwrap();
        let mut f = RgbImage::from_pixel(4, 4, image::Rgb([10, 20, 30]));
        s.apply(&mut f);
        let mut g = RgbImage::from_pixel(4, 4, image::Rgb([200, 100, 0]));
        s.apply(&mut g);
        assert_eq!(g.get_pixel(0, 0).0, [200, 100, 0]);
    }

    #[test]
    fn ema_moves_part_way_and_converges() {
        let mut s = TemporalSmoother::new(0.5).unwrap();
        let mut f = RgbImage::from_pixel(2, 2, image::Rgb([0, 0, 0]));
        s.apply(&mut f);
        assert_eq!(f.get_pixel(0, 0).0, [0, 0, 0]);
        let mut g = RgbImage::from_pixel(2, 2, image::Rgb([200, 100, 40]));
        s.apply(&mut g);
        assert_eq!(g.get_pixel(1, 1).0, [100, 50, 20]);
        for _ in 0..20 {
            g = RgbImage::from_pixel(2, 2, image::Rgb([200, 100, 40]));
            s.apply(&mut g);
        }
        assert_eq!(g.get_pixel(1, 1).0, [200, 100, 40]);
    }

    #[test]
    fn out_of_range_strength_is_an_error() {
        assert!(TemporalSmoother::new(1.0).is_err());
        assert!(TemporalSmoother::new(-0.1).is_err());
        assert!(TemporalSmoother::new(f32::NAN).is_err());
    }
}
