//! Bitmap text (the 8×8 `font8x8` glyphs) drawn into RGB frames and 0RGB window buffers.

use font8x8::UnicodeFonts;
use image::RgbImage;

/// Glyph cell size in pixels at scale 1.
pub const GLYPH: usize = 8;

fn glyph(c: char) -> [u8; 8] {
    font8x8::BASIC_FONTS
        .get(c)
        .or_else(|| font8x8::BASIC_FONTS.get('?'))
        .unwrap_or([0; 8])
}

/// Width in pixels of `text` drawn at `scale`.
pub fn text_width(text: &str, scale: usize) -> usize {
    text.chars().count() * GLYPH * scale
}

/// Calls `put(x, y)` for every lit pixel of `text` with its top-left corner at (`x0`, `y0`).
/// Coordinates may be negative or past the edge; the caller clips.
fn for_each_pixel(text: &str, x0: i64, y0: i64, scale: usize, mut put: impl FnMut(i64, i64)) {
    let s = scale.max(1) as i64;
    for (i, c) in text.chars().enumerate() {
        let g = glyph(c);
        let cx = x0 + i as i64 * GLYPH as i64 * s;
        for (row, bits) in g.iter().enumerate() {
            for col in 0..8 {
                if bits & (1 << col) != 0 {
                    for dy in 0..s {
                        for dx in 0..s {
                            put(cx + col as i64 * s + dx, y0 + row as i64 * s + dy);
                        }
                    }
                }
            }
        }
    }
}

/// Draws `text` into an RGB frame.
pub fn draw_rgb(img: &mut RgbImage, text: &str, x: i64, y: i64, scale: usize, colour: [u8; 3]) {
    let (w, h) = (img.width() as i64, img.height() as i64);
    for_each_pixel(text, x, y, scale, |px, py| {
        if px >= 0 && py >= 0 && px < w && py < h {
            img.put_pixel(px as u32, py as u32, image::Rgb(colour));
        }
    });
}

/// A 0RGB (`0x00RRGGBB`) pixel buffer of `width`×`height`, as minifb takes it.
pub struct Canvas<'a> {
    pub pixels: &'a mut [u32],
    pub width: usize,
    pub height: usize,
}

impl Canvas<'_> {
    /// Draws `text` in `colour` (0RGB).
    pub fn text(&mut self, text: &str, x: i64, y: i64, scale: usize, colour: u32) {
        let (w, h) = (self.width as i64, self.height as i64);
        let pixels = &mut *self.pixels;
        let stride = self.width;
        for_each_pixel(text, x, y, scale, |px, py| {
            if px >= 0 && py >= 0 && px < w && py < h {
                pixels[py as usize * stride + px as usize] = colour;
            }
        });
    }

    /// Darkens a rectangle to 3/8 of its brightness (a translucent backdrop for text).
    pub fn shade(&mut self, x: i64, y: i64, w: usize, h: usize) {
        self.map_rect(x, y, w, h, |p| (p >> 2 & 0x3f3f3f) + (p >> 3 & 0x1f1f1f));
    }

    /// Fills a rectangle with `colour`.
    pub fn fill(&mut self, x: i64, y: i64, w: usize, h: usize, colour: u32) {
        self.map_rect(x, y, w, h, |_| colour);
    }

    fn map_rect(&mut self, x: i64, y: i64, w: usize, h: usize, f: impl Fn(u32) -> u32) {
        let x0 = x.clamp(0, self.width as i64) as usize;
        let y0 = y.clamp(0, self.height as i64) as usize;
        let x1 = (x + w as i64).clamp(0, self.width as i64) as usize;
        let y1 = (y + h as i64).clamp(0, self.height as i64) as usize;
        for row in y0..y1 {
            for p in &mut self.pixels[row * self.width + x0..row * self.width + x1] {
                *p = f(*p);
            }
        }
    }

    /// Lines of text on a shaded box at (`x`, `y`); returns the box's height.
    pub fn text_box(&mut self, lines: &[(String, u32)], x: i64, y: i64, scale: usize) -> usize {
        if lines.is_empty() {
            return 0;
        }
        let line_h = (GLYPH + 2) * scale;
        let w = lines
            .iter()
            .map(|(l, _)| text_width(l, scale))
            .max()
            .unwrap_or(0)
            + 8;
        let h = lines.len() * line_h + 6;
        self.shade(x, y, w, h);
        for (i, (line, colour)) in lines.iter().enumerate() {
            self.text(line, x + 4, y + 4 + (i * line_h) as i64, scale, *colour);
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_lit_pixels_inside_the_glyph_cell_only() {
        let mut img = RgbImage::new(40, 20);
        draw_rgb(&mut img, "H", 2, 3, 2, [255, 0, 0]);
        let lit: Vec<(u32, u32)> = img
            .enumerate_pixels()
            .filter(|(_, _, p)| p.0 == [255, 0, 0])
            .map(|(x, y, _)| (x, y))
            .collect();
        assert!(lit.len() > 20, "an H has many pixels");
        assert!(lit
            .iter()
            .all(|&(x, y)| (2..18).contains(&x) && (3..19).contains(&y)));
    }

    #[test]
    fn canvas_text_clips_at_the_edges() {
        let mut px = vec![0u32; 10 * 10];
        let mut c = Canvas {
            pixels: &mut px,
            width: 10,
            height: 10,
        };
        c.text("WW", -4, 5, 1, 0xffffff);
        assert!(px.contains(&0xffffff));
        assert_eq!(text_width("abc", 2), 48);
    }
}
