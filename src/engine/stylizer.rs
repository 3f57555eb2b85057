//! [`Stylizer`]: one style model in an ONNX Runtime session, frames in, frames out.
//!
//! The model interface is checked at load: exactly one `float32` input `[N, 3, H, W]` and one
//! `float32` output `[N, 3, H, W]` (N 1 or dynamic; H and W dynamic or fixed). The input and output
//! tensors are allocated once per frame size and bound to the session (`IoBinding`), so the steady
//! state allocates no frame-sized buffers: each frame is normalised straight into the bound input
//! and denormalised straight out of the bound output (see [`crate::pixels`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use image::imageops::{self, FilterType};
use image::RgbImage;
use ort::session::{IoBinding, Session};
use ort::value::{Tensor, TensorElementType, ValueType};

use super::device::{self, DeviceChoice, Provider};
use crate::pixels::{self, PadGeometry, SIZE_MULTIPLE};
use crate::{Error, Result};

/// ONNX Runtime graph optimisation level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GraphOptimisation {
    /// No rewrites (useful to debug a model).
    Disable,
    /// Constant folding and redundant-node removal.
    Basic,
    /// Basic plus operator fusions.
    Extended,
    /// Everything, including layout optimisations (the default).
    #[default]
    All,
}

impl From<GraphOptimisation> for ort::session::builder::GraphOptimizationLevel {
    fn from(g: GraphOptimisation) -> Self {
        use ort::session::builder::GraphOptimizationLevel as L;
        match g {
            GraphOptimisation::Disable => L::Disable,
            GraphOptimisation::Basic => L::Level1,
            GraphOptimisation::Extended => L::Level2,
            GraphOptimisation::All => L::All,
        }
    }
}

/// How sessions are built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineOptions {
    /// Threads inside one operator; `None` = the number of physical cores.
    pub intra_threads: Option<usize>,
    /// Graph optimisation level.
    pub optimisation: GraphOptimisation,
    /// Let TensorRT build fp16 engines (TensorRT only; slightly different output, faster).
    pub fp16: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            intra_threads: None,
            optimisation: GraphOptimisation::All,
            fp16: false,
        }
    }
}

/// Tensors bound to the session for one frame size.
struct Buffers {
    /// Frame (after any resize to a fixed model size) → input tensor placement.
    geometry: PadGeometry,
    input: Tensor<f32>,
    output: Tensor<f32>,
    binding: IoBinding,
}

/// A loaded style model.
pub struct Stylizer {
    session: Session,
    provider: Provider,
    path: PathBuf,
    name: String,
    metadata: BTreeMap<String, String>,
    input_name: String,
    output_name: String,
    input_shape: [i64; 4],
    buffers: Option<Buffers>,
    /// Scratch frames for models with a fixed input size.
    scaled_in: RgbImage,
    scaled_out: RgbImage,
    told_fixed_size: bool,
}

impl std::fmt::Debug for Stylizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stylizer")
            .field("path", &self.path)
            .field("name", &self.name)
            .field("provider", &self.provider)
            .field("input_shape", &self.input_shape)
            .finish_non_exhaustive()
    }
}

impl Stylizer {
    /// Loads `model` on `device`, checking its interface. Initialises ONNX Runtime with the
    /// default search if [`super::runtime::init`] was not called first.
    pub fn load(model: &Path, device: DeviceChoice, opts: &EngineOptions) -> Result<Stylizer> {
        let bytes = std::fs::read(model).map_err(|e| Error::InvalidModel {
            path: model.to_path_buf(),
            problem: format!("cannot read the file: {e}"),
        })?;
        let (session, provider) = device::open_session(model, &bytes, device, opts)?;
        let invalid = |problem: String| Error::InvalidModel {
            path: model.to_path_buf(),
            problem,
        };

        if session.inputs().len() != 1 || session.outputs().len() != 1 {
            return Err(invalid(format!(
                "has {} inputs and {} outputs; a style model has exactly one of each ([N, 3, H, W] float32)",
                session.inputs().len(),
                session.outputs().len()
            )));
        }
        let (input, output) = (&session.inputs()[0], &session.outputs()[0]);
        let input_shape = check_image_tensor("input", input.name(), input.dtype()).map_err(&invalid)?;
        let output_shape = check_image_tensor("output", output.name(), output.dtype()).map_err(&invalid)?;
        let _ = output_shape;

        let (name, metadata) = read_metadata(&session, model);
        let (input_name, output_name) = (input.name().to_string(), output.name().to_string());
        tracing::debug!(
            "loaded {} ('{name}') on {provider}: {input_name} {input_shape:?} → {output_name}",
            model.display()
        );
        Ok(Stylizer {
            session,
            provider,
            path: model.to_path_buf(),
            name,
            metadata,
            input_name,
            output_name,
            input_shape,
            buffers: None,
            scaled_in: RgbImage::new(0, 0),
            scaled_out: RgbImage::new(0, 0),
            told_fixed_size: false,
        })
    }

    /// The execution provider running this model.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// Display name: ONNX metadata `name`, else the file stem.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The model file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// All custom metadata entries of the model.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// The model's declared input shape `[N, 3, H, W]`; `-1` marks a dynamic dimension.
    pub fn input_shape(&self) -> [i64; 4] {
        self.input_shape
    }

    /// The fixed input size `(width, height)` of the model, if it has one (either may be fixed
    /// alone; the other is then `None`).
    pub fn fixed_size(&self) -> (Option<usize>, Option<usize>) {
        let dim = |d: i64| (d > 0).then_some(d as usize);
        (dim(self.input_shape[3]), dim(self.input_shape[2]))
    }

    /// Stylizes `input` into `output`, which is resized to the input's size if needed.
    ///
    /// Frames of any size ≥ 1×1 work: they are reflect-padded to a multiple of 4 and cropped back,
    /// or, for a model with a fixed input size, resized to it and the result resized back.
    pub fn stylize_into(&mut self, input: &RgbImage, output: &mut RgbImage) -> Result<()> {
        let (w, h) = (input.width() as usize, input.height() as usize);
        if w == 0 || h == 0 {
            return Err(Error::InvalidArgument(format!("cannot stylize an empty {w}×{h} frame")));
        }
        let (fixed_w, fixed_h) = self.fixed_size();
        let (tw, th) = (fixed_w.unwrap_or(w), fixed_h.unwrap_or(h));
        let resized = (tw, th) != (w, h);
        if resized {
            if !self.told_fixed_size {
                tracing::info!(
                    "model '{}' takes a fixed {tw}×{th} input: frames are resized to it and back",
                    self.name
                );
                self.told_fixed_size = true;
            }
            self.scaled_in = imageops::resize(input, tw as u32, th as u32, FilterType::Triangle);
        }
        let geometry = PadGeometry::with_padded(
            tw,
            th,
            fixed_w.unwrap_or_else(|| tw.div_ceil(SIZE_MULTIPLE) * SIZE_MULTIPLE),
            fixed_h.unwrap_or_else(|| th.div_ceil(SIZE_MULTIPLE) * SIZE_MULTIPLE),
        );
        self.ensure_buffers(geometry)?;
        let buffers = self.buffers.as_mut().expect("ensured above");
        let frame = if resized { &self.scaled_in } else { input };

        let (_, data) = buffers.input.extract_tensor_mut();
        pixels::preprocess(frame, &geometry, data)?;
        drop(self.session.run_binding(&buffers.binding)?);
        let (shape, data) = buffers.output.extract_tensor();
        debug_assert_eq!(shape[2..], [geometry.padded_height as i64, geometry.padded_width as i64]);
        if resized {
            pixels::postprocess(data, &geometry, &mut self.scaled_out)?;
            *output = imageops::resize(&self.scaled_out, w as u32, h as u32, FilterType::Triangle);
        } else {
            pixels::postprocess(data, &geometry, output)?;
        }
        Ok(())
    }

    /// Stylizes `input` into a new frame of the same size.
    pub fn stylize(&mut self, input: &RgbImage) -> Result<RgbImage> {
        let mut out = RgbImage::new(input.width(), input.height());
        self.stylize_into(input, &mut out)?;
        Ok(out)
    }

    /// (Re)allocates and binds the input/output tensors when the tensor size changes.
    fn ensure_buffers(&mut self, geometry: PadGeometry) -> Result<()> {
        if let Some(b) = &mut self.buffers {
            if (b.geometry.padded_width, b.geometry.padded_height) == (geometry.padded_width, geometry.padded_height) {
                b.geometry = geometry;
                return Ok(());
            }
        }
        // Drop the old binding before allocating the new tensors.
        self.buffers = None;
        let shape = [1usize, 3, geometry.padded_height, geometry.padded_width];
        let allocator = self.session.allocator();
        let input = Tensor::<f32>::new(allocator, shape)?;
        let mut output = Tensor::<f32>::new(allocator, shape)?;
        let mut binding = self.session.create_binding()?;
        binding.bind_input(self.input_name.as_str(), &input)?;
        binding.bind_output(self.output_name.as_str(), &mut output)?;
        self.buffers = Some(Buffers {
            geometry,
            input,
            output,
            binding,
        });
        Ok(())
    }
}

/// Checks a `[N, 3, H, W]` float32 tensor declaration; returns its shape (-1 = dynamic).
fn check_image_tensor(role: &str, name: &str, dtype: &ValueType) -> std::result::Result<[i64; 4], String> {
    let ValueType::Tensor { ty, shape, .. } = dtype else {
        return Err(format!("{role} '{name}' is a {dtype}, expected a float32 tensor [N, 3, H, W]"));
    };
    if *ty != TensorElementType::Float32 {
        return Err(format!(
            "{role} '{name}' has element type {}, expected float32",
            onnx_type_name(*ty)
        ));
    }
    let dims: &[i64] = shape;
    let [n, c, h, w] = dims else {
        return Err(format!(
            "{role} '{name}' has rank {} ({}), expected rank 4 [N, 3, H, W]",
            dims.len(),
            show_dims(dims)
        ));
    };
    if *c != 3 {
        return Err(format!(
            "{role} '{name}' has {} channels ({}), expected 3 (RGB) [N, 3, H, W]",
            if *c < 0 { "a dynamic number of".to_string() } else { c.to_string() },
            show_dims(dims)
        ));
    }
    if *n > 1 || *n == 0 {
        return Err(format!(
            "{role} '{name}' has batch size {n} ({}), expected 1 or dynamic",
            show_dims(dims)
        ));
    }
    if *h == 0 || *w == 0 {
        return Err(format!("{role} '{name}' has an empty spatial size ({})", show_dims(dims)));
    }
    Ok([*n, *c, *h, *w])
}

fn show_dims(dims: &[i64]) -> String {
    let parts: Vec<String> = dims
        .iter()
        .map(|&d| if d < 0 { "?".into() } else { d.to_string() })
        .collect();
    format!("[{}]", parts.join(", "))
}

/// ONNX's spelling of an element type (ort prints `i64`, users know `int64`).
fn onnx_type_name(ty: TensorElementType) -> String {
    use TensorElementType as T;
    match ty {
        T::Float32 => "float32".into(),
        T::Float64 => "float64 (double)".into(),
        T::Float16 => "float16".into(),
        T::Bfloat16 => "bfloat16".into(),
        T::Int8 => "int8".into(),
        T::Int16 => "int16".into(),
        T::Int32 => "int32".into(),
        T::Int64 => "int64".into(),
        T::Uint8 => "uint8".into(),
        T::Uint16 => "uint16".into(),
        T::Uint32 => "uint32".into(),
        T::Uint64 => "uint64".into(),
        T::Bool => "bool".into(),
        T::String => "string".into(),
        other => other.to_string(),
    }
}

fn read_metadata(session: &Session, model: &Path) -> (String, BTreeMap<String, String>) {
    let mut map = BTreeMap::new();
    match session.metadata() {
        Ok(meta) => {
            for key in meta.custom_keys().unwrap_or_default() {
                if let Some(v) = meta.custom(&key) {
                    map.insert(key, v);
                }
            }
        }
        Err(e) => tracing::debug!("{}: no readable metadata: {e}", model.display()),
    }
    let name = map
        .get("name")
        .filter(|n| !n.trim().is_empty())
        .cloned()
        .unwrap_or_else(|| {
            model
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "style".into())
        });
    (name, map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ort::value::{Shape, SymbolicDimensions};

    fn tensor(ty: TensorElementType, dims: &[i64]) -> ValueType {
        ValueType::Tensor {
            ty,
            shape: Shape::new(dims.iter().copied()),
            dimension_symbols: SymbolicDimensions::empty(dims.len()),
        }
    }

    #[test]
    fn interface_check_names_the_mismatch() {
        let f = TensorElementType::Float32;
        assert_eq!(check_image_tensor("input", "x", &tensor(f, &[1, 3, -1, -1])), Ok([1, 3, -1, -1]));
        assert_eq!(check_image_tensor("input", "x", &tensor(f, &[-1, 3, 224, 224])), Ok([-1, 3, 224, 224]));
        let e = check_image_tensor("input", "x", &tensor(TensorElementType::Int64, &[1, 3, 8, 8])).unwrap_err();
        assert_eq!(e, "input 'x' has element type int64, expected float32");
        let e = check_image_tensor("input", "x", &tensor(f, &[3, 8, 8])).unwrap_err();
        assert!(e.contains("rank 3") && e.contains("[3, 8, 8]"), "{e}");
        let e = check_image_tensor("output", "y", &tensor(f, &[1, 1, -1, -1])).unwrap_err();
        assert!(e.starts_with("output 'y' has 1 channels ([1, 1, ?, ?])"), "{e}");
        let e = check_image_tensor("input", "x", &tensor(f, &[4, 3, 8, 8])).unwrap_err();
        assert!(e.contains("batch size 4"), "{e}");
    }
}
