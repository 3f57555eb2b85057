//! The live window (minifb): shows a frame scaled to the window with its aspect ratio kept
//! (letterboxed), collects key presses through `set_input_callback` (so quick taps between two
//! polls are not lost), and toggles fullscreen by re-creating itself borderless at screen size.

use std::sync::{Arc, Mutex};

use image::RgbImage;
pub use minifb::Key;
use minifb::{InputCallback, MouseButton, MouseMode, Window, WindowOptions};

use crate::pixels::text::Canvas;
use crate::{Error, Result};

/// Where the frame sits inside the window, in window pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewport {
    pub x: usize,
    pub y: usize,
    pub width: usize,
    pub height: usize,
}

impl Viewport {
    /// The largest rectangle with the frame's aspect ratio that fits the window, centred.
    pub fn fit(frame: (u32, u32), window: (usize, usize)) -> Viewport {
        let (fw, fh) = (frame.0.max(1) as usize, frame.1.max(1) as usize);
        let (ww, wh) = window;
        // Compare aspect ratios without rounding: fw/fh vs ww/wh.
        let (width, height) = if ww * fh <= wh * fw {
            (ww, (ww * fh + fw / 2) / fw)
        } else {
            ((wh * fw + fh / 2) / fh, wh)
        };
        let (width, height) = (width.clamp(1, ww.max(1)), height.clamp(1, wh.max(1)));
        Viewport {
            x: (ww - width.min(ww)) / 2,
            y: (wh - height.min(wh)) / 2,
            width,
            height,
        }
    }
}

/// Scales `frame` into the 0RGB `dst` (`dst_w` wide) at `vp` with nearest-neighbour sampling
/// (pixel centres), painting the letterbox bars black. At 1:1 this is a plain copy.
pub fn blit_scaled(
    frame: &RgbImage,
    dst: &mut [u32],
    dst_w: usize,
    dst_h: usize,
    vp: Viewport,
    xmap: &mut Vec<usize>,
) {
    let (fw, fh) = (frame.width() as usize, frame.height() as usize);
    let src = frame.as_raw();
    xmap.clear();
    xmap.extend((0..vp.width).map(|x| ((2 * x + 1) * fw / (2 * vp.width)).min(fw - 1) * 3));
    for y in 0..dst_h {
        let row = &mut dst[y * dst_w..(y + 1) * dst_w];
        if y < vp.y || y >= vp.y + vp.height {
            row.fill(0);
            continue;
        }
        let sy = ((2 * (y - vp.y) + 1) * fh / (2 * vp.height)).min(fh - 1);
        let src_row = &src[sy * fw * 3..(sy + 1) * fw * 3];
        row[..vp.x].fill(0);
        row[vp.x + vp.width..].fill(0);
        for (d, &sx) in row[vp.x..vp.x + vp.width].iter_mut().zip(xmap.iter()) {
            *d =
                (src_row[sx] as u32) << 16 | (src_row[sx + 1] as u32) << 8 | src_row[sx + 2] as u32;
        }
    }
}

/// Key presses collected by minifb's input callback, in order.
#[derive(Clone, Default)]
struct KeyQueue(Arc<Mutex<Vec<Key>>>);

impl InputCallback for KeyQueue {
    fn add_char(&mut self, _uni_char: u32) {}

    fn set_key_state(&mut self, key: Key, down: bool) {
        if down {
            if let Ok(mut q) = self.0.lock() {
                q.push(key);
            }
        }
    }
}

/// The live view's window.
pub struct LiveWindow {
    window: Window,
    title: String,
    windowed_size: (usize, usize),
    fullscreen: bool,
    keys: KeyQueue,
    buffer: Vec<u32>,
    xmap: Vec<usize>,
    viewport: Viewport,
}

fn window_error(e: minifb::Error) -> Error {
    Error::Window(format!(
        "{e}. The live view needs a display: run it on a desktop session (or under Xvfb with DISPLAY set)"
    ))
}

impl LiveWindow {
    /// Opens a resizable `width`×`height` window (or a fullscreen one).
    pub fn open(title: &str, width: usize, height: usize, fullscreen: bool) -> Result<Self> {
        let keys = KeyQueue::default();
        let mut w = LiveWindow {
            window: Self::make_window(title, width, height, false)?,
            title: title.to_string(),
            windowed_size: (width, height),
            fullscreen: false,
            keys,
            buffer: Vec::new(),
            xmap: Vec::new(),
            viewport: Viewport::fit((width as u32, height as u32), (width, height)),
        };
        w.window.set_input_callback(Box::new(w.keys.clone()));
        if fullscreen {
            w.set_fullscreen(true)?;
        }
        Ok(w)
    }

    fn make_window(title: &str, width: usize, height: usize, borderless: bool) -> Result<Window> {
        let opts = WindowOptions {
            resize: !borderless,
            borderless,
            title: !borderless,
            topmost: borderless,
            ..WindowOptions::default()
        };
        let mut window =
            Window::new(title, width.max(16), height.max(16), opts).map_err(window_error)?;
        // The live loop paces itself; minifb must not sleep in update().
        window.set_target_fps(0);
        Ok(window)
    }

    /// Whether the window is fullscreen.
    pub fn is_fullscreen(&self) -> bool {
        self.fullscreen
    }

    /// Switches between a borderless screen-sized window and the normal one.
    pub fn set_fullscreen(&mut self, on: bool) -> Result<()> {
        if on == self.fullscreen {
            return Ok(());
        }
        let (w, h) = if on {
            self.windowed_size = self.window.get_size();
            screen_size().unwrap_or((1920, 1080))
        } else {
            self.windowed_size
        };
        let mut window = Self::make_window(&self.title, w, h, on)?;
        if on {
            window.set_position(0, 0);
        }
        window.set_input_callback(Box::new(self.keys.clone()));
        self.window = window;
        self.fullscreen = on;
        Ok(())
    }

    /// False once the user closed the window.
    pub fn is_open(&self) -> bool {
        self.window.is_open()
    }

    /// Key presses since the last call, in order.
    pub fn take_keys(&mut self) -> Vec<Key> {
        self.keys
            .0
            .lock()
            .map(|mut q| std::mem::take(&mut *q))
            .unwrap_or_default()
    }

    /// While the left mouse button is held over the frame: the pointer's x as a fraction of the
    /// frame's width (0 = left edge, 1 = right edge).
    pub fn mouse_drag_fraction(&self) -> Option<f32> {
        if !self.window.get_mouse_down(MouseButton::Left) {
            return None;
        }
        let (mx, _) = self.window.get_mouse_pos(MouseMode::Discard)?;
        let vp = self.viewport;
        Some(((mx - vp.x as f32) / vp.width.max(1) as f32).clamp(0.0, 1.0))
    }

    /// Processes window events without drawing (when nothing changed).
    pub fn pump(&mut self) {
        self.window.update();
    }

    /// Draws `frame` letterboxed into the window, then lets `overlay` paint on top.
    pub fn present(
        &mut self,
        frame: &RgbImage,
        overlay: impl FnOnce(&mut Canvas, Viewport),
    ) -> Result<()> {
        let (ww, wh) = self.window.get_size();
        let (ww, wh) = (ww.max(1), wh.max(1));
        self.buffer.resize(ww * wh, 0);
        self.viewport = Viewport::fit(frame.dimensions(), (ww, wh));
        blit_scaled(
            frame,
            &mut self.buffer,
            ww,
            wh,
            self.viewport,
            &mut self.xmap,
        );
        overlay(
            &mut Canvas {
                pixels: &mut self.buffer,
                width: ww,
                height: wh,
            },
            self.viewport,
        );
        self.window
            .update_with_buffer(&self.buffer, ww, wh)
            .map_err(|e| Error::Window(format!("cannot draw: {e}")))
    }
}

/// The size of the default screen, from X11 (None when it cannot be asked).
#[cfg(target_os = "linux")]
fn screen_size() -> Option<(usize, usize)> {
    let xlib = x11_dl::xlib::Xlib::open().ok()?;
    // SAFETY: plain Xlib queries on a connection we open and close here.
    unsafe {
        let display = (xlib.XOpenDisplay)(std::ptr::null());
        if display.is_null() {
            return None;
        }
        let screen = (xlib.XDefaultScreen)(display);
        let size = (
            (xlib.XDisplayWidth)(display, screen),
            (xlib.XDisplayHeight)(display, screen),
        );
        (xlib.XCloseDisplay)(display);
        (size.0 > 0 && size.1 > 0).then_some((size.0 as usize, size.1 as usize))
    }
}

#[cfg(not(target_os = "linux"))]
fn screen_size() -> Option<(usize, usize)> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewport_keeps_aspect_and_centres() {
        assert_eq!(
            Viewport::fit((640, 480), (640, 480)),
            Viewport {
                x: 0,
                y: 0,
                width: 640,
                height: 480
            }
        );
        // Wide window: pillarbox.
        assert_eq!(
            Viewport::fit((640, 480), (1000, 480)),
            Viewport {
                x: 180,
                y: 0,
                width: 640,
                height: 480
            }
        );
        // Tall window: letterbox.
        assert_eq!(
            Viewport::fit((640, 480), (320, 400)),
            Viewport {
                x: 0,
                y: 80,
                width: 320,
                height: 240
            }
        );
    }

    #[test]
    fn blit_is_exact_at_one_to_one_and_letterboxes_black() {
        let frame = RgbImage::from_fn(4, 2, |x, y| image::Rgb([x as u8 * 10, y as u8 * 100, 7]));
        let mut dst = vec![0xdeadbeef; 4 * 4];
        let vp = Viewport::fit((4, 2), (4, 4));
        blit_scaled(&frame, &mut dst, 4, 4, vp, &mut Vec::new());
        assert_eq!(
            vp,
            Viewport {
                x: 0,
                y: 1,
                width: 4,
                height: 2
            }
        );
        assert!(dst[..4].iter().all(|&p| p == 0), "top bar black");
        assert!(dst[12..].iter().all(|&p| p == 0), "bottom bar black");
        assert_eq!(dst[4 + 3], 30 << 16 | 7);
        assert_eq!(dst[8 + 1], 10 << 16 | 100 << 8 | 7);
        // 2× upscale: every source pixel becomes a 2×2 block.
        let mut big = vec![0; 8 * 4];
        blit_scaled(
            &frame,
            &mut big,
            8,
            4,
            Viewport::fit((4, 2), (8, 4)),
            &mut Vec::new(),
        );
        assert_eq!(big[0], big[1]);
        assert_eq!(big[0], big[8]);
        assert_eq!(big[6], 30 << 16 | 7);
    }
}
