//! The overlay drawn over the picture: status lines, messages, the help card, the REC mark, the
//! split divider and the NO CAMERA banner.

use std::time::Duration;

use crate::pixels::text::{text_width, Canvas, GLYPH};
use crate::sink::window::Viewport;

use super::control::HELP;

pub const WHITE: u32 = 0xffffff;
pub const YELLOW: u32 = 0xffe040;
pub const RED: u32 = 0xff3030;
pub const GREY: u32 = 0xc0c0c0;

/// Everything the overlay shows this frame.
pub struct OverlayContent {
    /// Status lines (only when the overlay is on).
    pub status: Vec<(String, u32)>,
    /// Recent messages (only when the overlay is on).
    pub messages: Vec<String>,
    pub help: bool,
    /// Always shown: the reason we are showing the test card instead of a camera.
    pub no_camera: bool,
    /// Recording for this long (shown with the overlay on).
    pub recording: Option<Duration>,
    /// Split divider position as a fraction of the frame width (overlay on).
    pub split_at: Option<f32>,
    pub overlay_on: bool,
}

fn scale_for(vp: Viewport) -> usize {
    if vp.width >= 1200 {
        2
    } else {
        1
    }
}

/// Paints `c` onto the window canvas.
pub fn draw(canvas: &mut Canvas, vp: Viewport, c: &OverlayContent) {
    let s = scale_for(vp);
    let (x0, y0) = (vp.x as i64, vp.y as i64);
    if c.overlay_on {
        if let Some(at) = c.split_at {
            let x = x0 + (at.clamp(0.0, 1.0) * vp.width as f32).round() as i64;
            canvas.fill(x - 1, y0, 2, vp.height, WHITE);
        }
        canvas.text_box(&c.status, x0 + 6, y0 + 6, s);
        if let Some(d) = c.recording {
            let secs = d.as_secs();
            let label = format!("REC {:02}:{:02}", secs / 60, secs % 60);
            let w = text_width(&label, s) as i64 + 8;
            let x = x0 + vp.width as i64 - w - 6;
            canvas.shade(x, y0 + 6, w as usize, GLYPH * s + 8);
            canvas.text(&label, x + 4, y0 + 10, s, RED);
        }
        let lines: Vec<(String, u32)> = c.messages.iter().map(|m| (m.clone(), YELLOW)).collect();
        let line_h = ((GLYPH + 2) * s) as i64;
        let h = lines.len() as i64 * line_h + 6;
        canvas.text_box(&lines, x0 + 6, y0 + vp.height as i64 - h - 6, s);
    }
    if c.help {
        let lines: Vec<(String, u32)> = std::iter::once(("Hotkeys".to_string(), YELLOW))
            .chain(HELP.iter().map(|l| (l.to_string(), WHITE)))
            .collect();
        let w = lines
            .iter()
            .map(|(l, _)| text_width(l, s))
            .max()
            .unwrap_or(0) as i64
            + 8;
        let h = lines.len() as i64 * ((GLYPH + 2) * s) as i64 + 6;
        let x = x0 + (vp.width as i64 - w) / 2;
        let y = y0 + (vp.height as i64 - h) / 2;
        canvas.text_box(&lines, x, y, s);
    }
    if c.no_camera {
        let bar_h = GLYPH * 2 * s + 8;
        let y = y0 + vp.height as i64 - bar_h as i64 - if c.overlay_on { 40 } else { 0 };
        canvas.fill(x0, y, vp.width, bar_h, 0x901010);
        let title = "NO CAMERA";
        canvas.text(title, x0 + 8, y + 4, 2 * s, WHITE);
        let hint = "showing the test card - connect a camera or use --source";
        canvas.text(
            hint,
            x0 + 16 + text_width(title, 2 * s) as i64,
            y + 4 + (GLYPH * s / 2) as i64,
            s,
            WHITE,
        );
    }
}
