//! The model-family seam: what `stylize`, `bench`, `gallery` and the live view need from a
//! style model, whatever network is behind it.
//!
//! Two families implement [`StyleModel`], one module each:
//! - [`Family::Imfw`]: a trained ImfwNet file, one network per style ([`super::Stylizer`], with
//!   all its CPU lowering);
//! - [`Family::Arbitrary`]: Magenta's arbitrary-stylization pair, any picture as the style
//!   ([`super::arbitrary::ArbitraryStylizer`]).
//!
//! A [`StyleEntry`] says which family loads it; [`ModelFactory::load`] is the one place that
//! picks the family (as rav1e picks a muxer by kind). A new family is a new module plus one arm
//! there.

use std::sync::{Arc, Mutex};

use image::RgbImage;

use super::arbitrary::{ArbitraryNets, ArbitraryOptions, ArbitraryStylizer};
use super::{DeviceChoice, EngineOptions, Provider, StageTimings, Stylizer};
use crate::styles::StyleEntry;
use crate::Result;

/// Which network family a style belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Family {
    /// A trained ImfwNet model file (`.onnx`): one network per style.
    #[default]
    Imfw,
    /// A picture as the style, run through Magenta's arbitrary-stylization networks.
    Arbitrary,
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Family::Imfw => "imfwnet",
            Family::Arbitrary => "arbitrary",
        })
    }
}

/// A loaded style: frames in, stylized frames of the same size out.
pub trait StyleModel: Send {
    /// Stylizes `input` into `output` (resized to the input's size if needed).
    fn stylize_into(&mut self, input: &RgbImage, output: &mut RgbImage) -> Result<()>;

    /// Stylizes `input` into a new frame of the same size.
    fn stylize(&mut self, input: &RgbImage) -> Result<RgbImage> {
        let mut out = RgbImage::new(input.width(), input.height());
        self.stylize_into(input, &mut out)?;
        Ok(out)
    }

    /// The execution provider that runs it.
    fn provider(&self) -> Provider;

    /// The style's display name.
    fn name(&self) -> &str;

    /// Its network family.
    fn family(&self) -> Family;

    /// What runs, for logs and `bench` (e.g. `imfwnet-w8-b3, lowered graph`).
    fn describe(&self) -> String {
        format!("{} on {}", self.name(), self.provider())
    }

    /// Stage times of the last successful frame.
    fn last_timings(&self) -> StageTimings {
        StageTimings::default()
    }

    /// Ends the per-node profile [`EngineOptions::profile`] started and returns the file ONNX
    /// Runtime wrote; `None` when the model was loaded without profiling (or cannot profile).
    fn end_profiling(&mut self) -> Result<Option<std::path::PathBuf>> {
        Ok(None)
    }

    /// The next frame starts a new sequence (another photo, another video): a model that keeps
    /// state across frames of one stream (the arbitrary family's estimate of the photo's own
    /// style) forgets it. Stateless models ignore it.
    fn new_sequence(&mut self) {}
}

impl StyleModel for Stylizer {
    fn stylize_into(&mut self, input: &RgbImage, output: &mut RgbImage) -> Result<()> {
        Stylizer::stylize_into(self, input, output)
    }

    fn provider(&self) -> Provider {
        Stylizer::provider(self)
    }

    fn name(&self) -> &str {
        Stylizer::name(self)
    }

    fn family(&self) -> Family {
        Family::Imfw
    }

    fn describe(&self) -> String {
        let arch = self
            .metadata()
            .get("architecture")
            .cloned()
            .unwrap_or_else(|| "ImfwNet".into());
        format!("{arch}, {} graph", self.graph())
    }

    fn last_timings(&self) -> StageTimings {
        Stylizer::last_timings(self)
    }

    fn end_profiling(&mut self) -> Result<Option<std::path::PathBuf>> {
        Stylizer::end_profiling(self)
    }
}

/// Loads the style at an entry. Called on background threads by the live view.
pub type ModelLoader = Arc<dyn Fn(&StyleEntry) -> Result<Box<dyn StyleModel>> + Send + Sync>;

/// Loads style models of every family on one device with one set of options. The arbitrary
/// networks are opened once, on first use, and shared (with their embedding cache) by every
/// model loaded from this factory.
pub struct ModelFactory {
    device: DeviceChoice,
    engine: EngineOptions,
    arbitrary: ArbitraryOptions,
    nets: Mutex<Option<Arc<ArbitraryNets>>>,
}

impl ModelFactory {
    pub fn new(device: DeviceChoice, engine: EngineOptions, arbitrary: ArbitraryOptions) -> Self {
        ModelFactory {
            device,
            engine,
            arbitrary,
            nets: Mutex::new(None),
        }
    }

    /// The same factory with other session options (the live view's per-worker thread counts),
    /// sharing this one's arbitrary networks.
    pub fn with_engine(&self, engine: EngineOptions) -> Self {
        let nets = self.nets.lock().unwrap_or_else(|p| p.into_inner()).clone();
        ModelFactory {
            device: self.device,
            engine,
            arbitrary: self.arbitrary.clone(),
            nets: Mutex::new(nets),
        }
    }

    pub fn device(&self) -> DeviceChoice {
        self.device
    }

    pub fn arbitrary_options(&self) -> &ArbitraryOptions {
        &self.arbitrary
    }

    /// The arbitrary networks, opened on first use.
    pub fn arbitrary_nets(&self) -> Result<Arc<ArbitraryNets>> {
        let mut nets = self.nets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = nets.as_ref() {
            return Ok(n.clone());
        }
        let n = Arc::new(ArbitraryNets::load(
            &self.arbitrary,
            self.device,
            &self.engine,
        )?);
        *nets = Some(n.clone());
        Ok(n)
    }

    /// Loads `entry` with the family it belongs to.
    pub fn load(&self, entry: &StyleEntry) -> Result<Box<dyn StyleModel>> {
        match entry.family {
            Family::Imfw => Ok(Box::new(Stylizer::load(
                &entry.path,
                self.device,
                &self.engine,
            )?)),
            Family::Arbitrary => {
                let nets = self.arbitrary_nets()?;
                Ok(Box::new(ArbitraryStylizer::for_picture(
                    nets,
                    entry,
                    &self.arbitrary,
                    &self.engine,
                )?))
            }
        }
    }

    /// This factory as a [`ModelLoader`].
    pub fn loader(self: &Arc<Self>) -> ModelLoader {
        let me = self.clone();
        Arc::new(move |entry: &StyleEntry| me.load(entry))
    }
}
