//! Export: the tch network → the app crate's ONNX writer → a file, then verified with ONNX Runtime
//! against tch's own forward pass.

use std::path::{Path, PathBuf};

use stylecam::net::graph::{GraphForm, Lowering};
use stylecam::net::onnx::{self, ModelMetadata, Weights};
use tch::{Device, Kind, Tensor};

use crate::checkpoint::write_atomic;
use crate::net::ImfwNet;
use crate::{Error, Result};

/// Largest acceptable |ONNX − tch| on the verification image.
pub const TOLERANCE: f64 = 1e-4;
/// The same for a float16 export (`--fp16`): half precision keeps ≈3 significant digits.
pub const FP16_TOLERANCE: f64 = 5e-2;
/// Side of the random verification image.
const CHECK_SIZE: i64 = 64;

/// The network's parameters as the ONNX writer takes them (float32, CPU copies).
pub fn weights(net: &ImfwNet) -> Result<Weights> {
    let mut out = Weights::new();
    for (name, t) in net.named_parameters() {
        let t = t
            .detach()
            .to_device(Device::Cpu)
            .to_kind(Kind::Float)
            .contiguous();
        let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
        let data = Vec::<f32>::try_from(t.flatten(0, -1))?;
        out.insert(name, onnx::Tensor { shape, data });
    }
    Ok(out)
}

/// Writes `net` to `out` (atomically) with `name` and free-form `info` as metadata, then checks
/// it with ONNX Runtime. Returns the max absolute difference to tch's forward pass.
pub fn export(net: &ImfwNet, name: &str, info: &[(String, String)], out: &Path) -> Result<f64> {
    export_as(net, name, info, out, false)
}

/// [`export`], in float16 when `fp16` (convolutions and activations in float16, instance norms
/// in float32, float32 input and output: `stylecam::net::graph::GraphForm::fp16`), for GPUs.
pub fn export_as(
    net: &ImfwNet,
    name: &str,
    info: &[(String, String)],
    out: &Path,
    fp16: bool,
) -> Result<f64> {
    let mut meta = ModelMetadata::new(name);
    meta.extra = info.to_vec();
    if fp16 {
        meta.extra
            .push(("precision".into(), "float16 (instance norm float32)".into()));
    }
    let form = GraphForm {
        lowering: Lowering::NONE,
        fp16,
        int8: false,
    };
    let bytes = onnx::write_model_as(&net.arch, &weights(net)?, &meta, form)?;
    let tolerance = if fp16 { FP16_TOLERANCE } else { TOLERANCE };
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    // Verified under a side name first, so `out` only ever holds a checked model.
    let mut unverified = out.as_os_str().to_owned();
    unverified.push(".unverified");
    let unverified = PathBuf::from(unverified);
    write_atomic(&unverified, &bytes)?;
    let diff = match verify(net, &unverified) {
        Ok(d) => d,
        Err(e) => {
            let _ = std::fs::remove_file(&unverified);
            return Err(e);
        }
    };
    if diff > tolerance {
        return Err(Error::ExportMismatch {
            path: unverified,
            max_abs_diff: diff,
            tolerance,
        });
    }
    std::fs::rename(&unverified, out).map_err(|e| Error::Output {
        path: out.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(diff)
}

/// Photos `calibrate` measures on, at most.
pub const CALIBRATION_PHOTOS: usize = 16;

/// Measures the int8 activation ranges of the exported `model` on up to [`CALIBRATION_PHOTOS`]
/// of the training photos in `data` (spread over the folder, longer side ≤ 640) and stores
/// them in its metadata, so the app's `--int8` works on it without a separate
/// `stylecam calibrate`. Returns the number of photos used.
pub fn calibrate(model: &Path, data: &Path) -> Result<usize> {
    init_ort()?;
    let files = crate::data::list_images(data)?;
    let step = files.len().div_ceil(CALIBRATION_PHOTOS).max(1);
    let resize = stylecam::batch::Resize::MaxSide(640);
    // Unreadable files are skipped here as in training.
    let photos: Vec<_> = files
        .iter()
        .step_by(step)
        .filter_map(|f| crate::data::read_rgb(f).ok())
        .map(|img| resize.apply(img))
        .collect();
    let opts = stylecam::engine::EngineOptions {
        intra_threads: Some(1),
        ..Default::default()
    };
    stylecam::engine::calibrate::calibrate_file(model, &photos, "longer side ≤ 640", &opts)?;
    Ok(photos.len())
}

/// Runs `model` in ONNX Runtime (CPU) on a fixed random image and returns the max absolute
/// difference to `net`'s output.
pub fn verify(net: &ImfwNet, model: &Path) -> Result<f64> {
    let input = Tensor::randn([1, 3, CHECK_SIZE, CHECK_SIZE], (Kind::Float, Device::Cpu));
    let expected = tch::no_grad(|| net.forward(&input.to_device(net.vs.device())))
        .to_device(Device::Cpu)
        .contiguous();
    let expected = Vec::<f32>::try_from(expected.flatten(0, -1))?;
    let data = Vec::<f32>::try_from(input.flatten(0, -1))?;
    let got = run_ort(
        model,
        [1, 3, CHECK_SIZE as usize, CHECK_SIZE as usize],
        data,
    )?;
    if got.len() != expected.len() {
        return Err(Error::ExportMismatch {
            path: model.to_path_buf(),
            max_abs_diff: f64::INFINITY,
            tolerance: TOLERANCE,
        });
    }
    Ok(got
        .iter()
        .zip(&expected)
        .map(|(a, b)| (*a as f64 - *b as f64).abs())
        .fold(0.0, f64::max))
}

/// Runs an image model on one NCHW float input and returns the output's values.
pub fn run_ort(model: &Path, shape: [usize; 4], data: Vec<f32>) -> Result<Vec<f32>> {
    let env = init_ort()?;
    let mut session = ort::session::Session::builder(env)?
        .with_intra_threads(1)
        .map_err(ort::Error::from)?
        .commit_from_file(model)?;
    let input = ort::value::Tensor::from_array((shape, data))?;
    let outputs = session.run(ort::inputs![onnx::INPUT_NAME => input])?;
    let (_, values) = outputs[onnx::OUTPUT_NAME].try_extract_tensor::<f32>()?;
    Ok(values.to_vec())
}

/// The process's ONNX Runtime: stylecam's own search (`stylecam::engine::runtime`:
/// `$ORT_DYLIB_PATH`, next to the executable, a project `.venv` above the executable or the
/// current folder, the system loader), and failing that the onnxruntime package beside the torch
/// this binary was built against.
pub fn init_ort() -> Result<&'static ort::environment::Environment> {
    use stylecam::engine::runtime;
    if runtime::loaded_path().is_none() {
        if let Err(searched) = runtime::init(None) {
            let torch_lib = Path::new(env!("STYLECAM_TORCH_LIB_DIR"));
            let beside_torch = torch_lib.parent().and_then(Path::parent).and_then(|site| {
                onnxruntime_in(&site.join("onnxruntime/capi"))
                    .into_iter()
                    .next()
            });
            let Some(lib) = beside_torch else {
                return Err(Error::App(searched));
            };
            runtime::init(Some(&lib)).map_err(|beside| match (searched, beside) {
                (
                    stylecam::Error::RuntimeNotFound { tried: a },
                    stylecam::Error::RuntimeNotFound { tried: b },
                ) => Error::App(stylecam::Error::RuntimeNotFound {
                    tried: format!("{a}\n{b}"),
                }),
                (_, other) => Error::App(other),
            })?;
        }
    }
    Ok(runtime::environment()?)
}

/// `libonnxruntime.so*` files in an onnxruntime wheel's `capi` folder, newest name first.
fn onnxruntime_in(capi: &Path) -> Vec<PathBuf> {
    let Ok(files) = std::fs::read_dir(capi) else {
        return Vec::new();
    };
    let mut libs: Vec<PathBuf> = files
        .flatten()
        .map(|f| f.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libonnxruntime.so"))
        })
        .collect();
    libs.sort();
    libs.reverse();
    libs
}
