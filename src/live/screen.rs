//! Where the live view shows itself and takes keys: the window, or nothing (`--no-window`).

use image::RgbImage;

use super::overlay::{self, OverlayContent};
use crate::sink::window::{Key, LiveWindow};
use crate::Result;

/// The live view's interactive surface.
pub trait Screen {
    /// Key presses since the last call, in order.
    fn take_keys(&mut self) -> Vec<Key>;
    /// False once the user closed it.
    fn is_open(&self) -> bool;
    /// Shows `frame` with the overlay over it.
    fn present(&mut self, frame: &RgbImage, overlay: &OverlayContent) -> Result<()>;
    /// Handles events without drawing.
    fn pump(&mut self);
    /// The split position the mouse drags to, while it does.
    fn drag_fraction(&self) -> Option<f32>;
    /// Switches fullscreen on or off.
    fn toggle_fullscreen(&mut self) -> Result<()>;
}

impl Screen for LiveWindow {
    fn take_keys(&mut self) -> Vec<Key> {
        LiveWindow::take_keys(self)
    }
    fn is_open(&self) -> bool {
        LiveWindow::is_open(self)
    }
    fn present(&mut self, frame: &RgbImage, content: &OverlayContent) -> Result<()> {
        LiveWindow::present(self, frame, |canvas, vp| overlay::draw(canvas, vp, content))
    }
    fn pump(&mut self) {
        LiveWindow::pump(self)
    }
    fn drag_fraction(&self) -> Option<f32> {
        self.mouse_drag_fraction()
    }
    fn toggle_fullscreen(&mut self) -> Result<()> {
        let on = !self.is_fullscreen();
        self.set_fullscreen(on)
    }
}

/// No window (`--no-window`): no keys, nothing drawn; the outputs are the sinks.
pub struct Headless;

impl Screen for Headless {
    fn take_keys(&mut self) -> Vec<Key> {
        Vec::new()
    }
    fn is_open(&self) -> bool {
        true
    }
    fn present(&mut self, _: &RgbImage, _: &OverlayContent) -> Result<()> {
        Ok(())
    }
    fn pump(&mut self) {}
    fn drag_fraction(&self) -> Option<f32> {
        None
    }
    fn toggle_fullscreen(&mut self) -> Result<()> {
        Ok(())
    }
}
