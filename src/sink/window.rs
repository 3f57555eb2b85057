//! The live window (minifb): shows a frame scaled to the window with its aspect ratio kept
//! (letterboxed), collects key presses through `set_input_callback` (so quick taps between two
//! polls are not lost), and toggles fullscreen by re-creating itself borderless at screen size.

use std::sync::{Arc, Mutex};

use image::RgbImage;
pub use minifb::Key;
use minifb::{InputCallback, MouseButton, MouseMode, Window, WindowOptions};

pub use crate::pixels::blit::{blit_scaled, Viewport};
use crate::pixels::text::Canvas;
use crate::{Error, Result};

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
