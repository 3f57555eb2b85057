//! The built-in animated test card: colour bars, a scrolling gradient, a bouncing disc, a rotating
//! bar, grey steps, a title and a frame counter — motion and flicker are easy to see, and each frame
//! is a pure function of (width, height, frame index), so tests can reproduce it.

use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};

use super::{Frame, FrameSource};
use crate::pixels::text;
use crate::{Error, Result};

/// A paced, endless test card.
pub struct TestCard {
    width: u32,
    height: u32,
    fps: f64,
    index: u64,
    /// When frame `index_base` was due; pacing restarts from here after a stall.
    clock_start: Option<Instant>,
    index_base: u64,
}

impl TestCard {
    /// A `width`×`height` card delivering `fps` frames per second.
    pub fn new(width: u32, height: u32, fps: f64) -> Result<Self> {
        if !(16..=8192).contains(&width) || !(16..=8192).contains(&height) {
            return Err(Error::InvalidArgument(format!(
                "test card size {width}×{height} is out of range (16…8192 on each side)"
            )));
        }
        if !(fps.is_finite() && fps > 0.0 && fps <= 1000.0) {
            return Err(Error::InvalidArgument(format!(
                "frame rate {fps} is out of range (greater than 0, at most 1000)"
            )));
        }
        Ok(TestCard {
            width,
            height,
            fps,
            index: 0,
            clock_start: None,
            index_base: 0,
        })
    }

    fn wait_until_due(&mut self) {
        let period = Duration::from_secs_f64(1.0 / self.fps);
        let now = Instant::now();
        let start = *self.clock_start.get_or_insert(now);
        let due = start + period.mul_f64((self.index - self.index_base) as f64);
        if due > now {
            std::thread::sleep(due - now);
        } else if now - due > period * 2 {
            // We fell behind (a stall, a paused consumer): restart the clock rather than burst.
            self.clock_start = Some(now);
            self.index_base = self.index;
        }
    }
}

impl FrameSource for TestCard {
    fn next_frame(&mut self) -> Result<Option<Frame>> {
        self.wait_until_due();
        let image = render(self.width, self.height, self.index);
        let frame = Frame {
            image,
            captured: Instant::now(),
            index: self.index,
        };
        self.index += 1;
        Ok(Some(frame))
    }

    fn describe(&self) -> String {
        format!(
            "test card {}x{} @ {:.0} fps",
            self.width, self.height, self.fps
        )
    }
}

const BARS: [[u8; 3]; 7] = [
    [235, 235, 235],
    [235, 235, 16],
    [16, 235, 235],
    [16, 235, 16],
    [235, 16, 235],
    [235, 16, 16],
    [16, 16, 235],
];

/// Frame `index` of a `width`×`height` test card.
pub fn render(width: u32, height: u32, index: u64) -> RgbImage {
    let (w, h) = (width as i64, height as i64);
    let bars_h = h / 8;
    let steps_top = h - h / 10;
    let shift = (index * 3 % 256) as i64;
    // Background, row by row from per-column tables (no per-pixel division).
    let bar_col: Vec<[u8; 3]> = (0..w).map(|x| BARS[(x * 7 / w) as usize]).collect();
    let step_col: Vec<u8> = (0..w).map(|x| (x * 8 / w * 255 / 7) as u8).collect();
    let ramp_col: Vec<u8> = (0..w)
        .map(|x| ((x * 256 / w + shift) & 255) as u8)
        .collect();
    let mut img = RgbImage::new(width, height);
    for (y, row) in img.chunks_exact_mut(width as usize * 3).enumerate() {
        let y = y as i64;
        if y < bars_h {
            for (px, c) in row.chunks_exact_mut(3).zip(&bar_col) {
                px.copy_from_slice(c);
            }
        } else if y >= steps_top {
            for (px, &v) in row.chunks_exact_mut(3).zip(&step_col) {
                px.copy_from_slice(&[v, v, v]);
            }
        } else {
            let g = ((y - bars_h) * 255 / (steps_top - bars_h).max(1)) as u8;
            for (px, &r) in row.chunks_exact_mut(3).zip(&ramp_col) {
                px.copy_from_slice(&[r, g, 255 - r / 2]);
            }
        }
    }

    // A disc bouncing left and right (triangle wave, 4 s period at 30 fps).
    let period = 120u64;
    let phase = (index % period) as f32 / period as f32;
    let tri = if phase < 0.5 {
        phase * 2.0
    } else {
        2.0 - phase * 2.0
    };
    let radius = (h as f32 / 8.0).max(3.0);
    let cx = radius + tri * (w as f32 - 2.0 * radius);
    let cy = h as f32 * 0.40;
    fill_where(
        &mut img,
        cx - radius - 2.0,
        cy - radius - 2.0,
        cx + radius + 2.0,
        cy + radius + 2.0,
        |x, y| {
            let d = ((x - cx).powi(2) + (y - cy).powi(2)).sqrt();
            if d <= radius - 2.0 {
                Some([250, 250, 250])
            } else if d <= radius {
                Some([0, 0, 0])
            } else {
                None
            }
        },
    );

    // A bar rotating about a point in the lower half (one turn every 6 s at 30 fps).
    let angle = (index % 180) as f32 / 180.0 * std::f32::consts::TAU;
    let (s, c) = angle.sin_cos();
    let (px, py) = (w as f32 * 0.70, h as f32 * 0.66);
    let half_len = h as f32 / 6.0;
    let half_thick = (h as f32 / 40.0).max(1.5);
    fill_where(
        &mut img,
        px - half_len,
        py - half_len,
        px + half_len,
        py + half_len,
        |x, y| {
            let (dx, dy) = (x - px, y - py);
            let along = dx * c + dy * s;
            let across = -dx * s + dy * c;
            (along.abs() <= half_len && across.abs() <= half_thick).then_some([255, 140, 0])
        },
    );

    // Title and frame counter with a shadow, so they read on any background.
    let title_scale = (width as usize / 320).clamp(1, 4);
    let title = "STYLECAM TEST CARD";
    let tx = (w - text::text_width(title, title_scale) as i64) / 2;
    let ty = bars_h + 6;
    text::draw_rgb(&mut img, title, tx + 2, ty + 2, title_scale, [0, 0, 0]);
    text::draw_rgb(&mut img, title, tx, ty, title_scale, [255, 255, 255]);
    let counter = format!("FRAME {index:06}");
    let cy = steps_top - (text::GLYPH * title_scale) as i64 - 6;
    text::draw_rgb(&mut img, &counter, 10, cy, title_scale, [0, 0, 0]);
    text::draw_rgb(&mut img, &counter, 8, cy - 2, title_scale, [255, 255, 0]);
    img
}

/// Paints pixel centres inside the box (clipped to the image) where `colour_at` answers a colour.
fn fill_where(
    img: &mut RgbImage,
    x0: f32,
    y0: f32,
    x1: f32,
    y1: f32,
    colour_at: impl Fn(f32, f32) -> Option<[u8; 3]>,
) {
    let (w, h) = (img.width() as f32, img.height() as f32);
    let (xa, xb) = (
        x0.floor().clamp(0.0, w) as u32,
        x1.ceil().clamp(0.0, w) as u32,
    );
    let (ya, yb) = (
        y0.floor().clamp(0.0, h) as u32,
        y1.ceil().clamp(0.0, h) as u32,
    );
    for y in ya..yb {
        for x in xa..xb {
            if let Some(c) = colour_at(x as f32 + 0.5, y as f32 + 0.5) {
                img.put_pixel(x, y, Rgb(c));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_deterministic_and_animated() {
        let a = render(160, 120, 7);
        assert_eq!(a, render(160, 120, 7), "same index, same picture");
        let b = render(160, 120, 8);
        let changed = a.pixels().zip(b.pixels()).filter(|(p, q)| p != q).count();
        assert!(
            changed > 160 * 120 / 10,
            "consecutive frames differ visibly ({changed} px)"
        );
    }

    #[test]
    fn card_has_colour_bars_and_paces_its_frames() {
        let img = render(140, 80, 0);
        assert_eq!(img.get_pixel(5, 2).0, BARS[0]);
        assert_eq!(img.get_pixel(135, 2).0, BARS[6]);
        // Pacing: frame n is due n periods after the first call, and a loaded machine only
        // delays it further, so this lower bound cannot fail from load; an unpaced card (ten
        // 64×48 renders take well under a millisecond) fails it.
        let mut card = TestCard::new(64, 48, 100.0).unwrap();
        let t0 = Instant::now();
        let frames: Vec<_> = (0..11)
            .map(|_| card.next_frame().unwrap().unwrap())
            .collect();
        let indices: Vec<u64> = frames.iter().map(|f| f.index).collect();
        assert_eq!(indices, (0..11).collect::<Vec<u64>>());
        assert_eq!(frames[1].image.dimensions(), (64, 48));
        let took = frames[10].captured - t0;
        assert!(
            took >= Duration::from_millis(100),
            "ten periods of 10 ms passed in {took:?}: frames are not paced"
        );
    }

    #[test]
    fn rejects_bad_sizes_and_rates() {
        assert!(TestCard::new(8, 480, 30.0).is_err());
        assert!(TestCard::new(640, 480, 0.0).is_err());
        assert!(TestCard::new(640, 480, f64::NAN).is_err());
    }
}
