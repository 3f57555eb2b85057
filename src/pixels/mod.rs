//! Pixel kernels around the network. (Live branch: only the mixing kernels, copied verbatim from
//! the engine branch so both branches share one implementation; the engine branch's `pixels`
//! module replaces this file on merge.)

mod mix;

pub use mix::{blend, preserve_colour};
