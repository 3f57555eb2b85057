//! Checkpoints: one `.safetensors` file per save holding the network (`net.<param>`), Adam's
//! moments (`adam.m.<param>`, `adam.v.<param>`) and, in the header metadata, the step, the data
//! stream position and the run's configuration as JSON.
//!
//! Writes are atomic: the file is written to `<name>.tmp`, flushed to disk, then renamed over its
//! final name, so a crash (even `kill -9`) leaves either the previous checkpoints or the new one,
//! never a torn file. The newest [`KEEP`] checkpoints are kept.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors, View};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::data::Cursor;
use crate::loss::LossValues;
use crate::train::TrainConfig;
use crate::{Error, Result};

/// How many checkpoints stay on disk.
pub const KEEP: usize = 3;
const META_KEY: &str = "stylecam_train";
const FORMAT: u32 = 1;

/// Everything besides tensors that a resumed run needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub format: u32,
    /// Optimisation steps completed.
    pub step: u64,
    /// Where the data stream continues.
    pub cursor: Cursor,
    /// Indices (into the sorted file list) of files found unreadable so far.
    pub bad_files: BTreeSet<usize>,
    /// Number of image files listed when the run started (checked on resume).
    pub data_files: usize,
    /// Training time so far, in seconds.
    pub elapsed_s: f64,
    /// Losses of the last completed step.
    pub last_losses: Option<LossValues>,
    pub config: TrainConfig,
}

/// A loaded checkpoint.
pub struct Checkpoint {
    pub path: PathBuf,
    pub meta: CheckpointMeta,
    /// Network parameters by name (without the `net.` prefix).
    pub net: BTreeMap<String, Tensor>,
    /// Optimiser tensors (`adam.m.*`, `adam.v.*`).
    pub optimizer: BTreeMap<String, Tensor>,
}

/// `ckpt-00001234.safetensors`.
pub fn file_name(step: u64) -> String {
    format!("ckpt-{step:08}.safetensors")
}

fn step_of(path: &Path) -> Option<u64> {
    path.file_name()?
        .to_str()?
        .strip_prefix("ckpt-")?
        .strip_suffix(".safetensors")?
        .parse()
        .ok()
}

struct F32View {
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &F32View {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn to_view(t: &Tensor) -> Result<F32View> {
    let t = t
        .detach()
        .to_device(Device::Cpu)
        .to_kind(Kind::Float)
        .contiguous();
    let shape = t.size().iter().map(|&d| d as usize).collect();
    let data = Vec::<f32>::try_from(t.flatten(0, -1))?;
    let bytes = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    Ok(F32View { shape, bytes })
}

/// Writes `tensors` + `meta` atomically to `dir/ckpt-<step>.safetensors` and prunes old files.
pub fn save(dir: &Path, tensors: &[(String, Tensor)], meta: &CheckpointMeta) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let path = dir.join(file_name(meta.step));
    let fail = |reason: String| Error::Output {
        path: path.clone(),
        reason,
    };
    let views = tensors
        .iter()
        .map(|(n, t)| Ok((n.clone(), to_view(t)?)))
        .collect::<Result<Vec<_>>>()?;
    let json = serde_json::to_string(meta).map_err(|e| fail(e.to_string()))?;
    let header = Some(HashMap::from([(META_KEY.to_string(), json)]));
    let bytes = safetensors::serialize(views.iter().map(|(n, v)| (n.as_str(), v)), &header)
        .map_err(|e| fail(format!("{e:?}")))?;
    write_atomic(&path, &bytes)?;
    prune(dir, KEEP);
    Ok(path)
}

/// Writes `bytes` to `path` via a temporary file, fsync and rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let fail = |e: std::io::Error| Error::Output {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    {
        let mut f = std::fs::File::create(&tmp).map_err(fail)?;
        f.write_all(bytes).map_err(fail)?;
        f.sync_all().map_err(fail)?;
    }
    std::fs::rename(&tmp, path).map_err(fail)?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        // Make the rename itself durable.
        if let Ok(d) = std::fs::File::open(parent) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Checkpoint files in `dir`, newest step first.
pub fn list(dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            step_of(&p).map(|s| (s, p))
        })
        .collect();
    found.sort_by_key(|e| std::cmp::Reverse(e.0));
    found
}

fn prune(dir: &Path, keep: usize) {
    for (_, p) in list(dir).into_iter().skip(keep) {
        let _ = std::fs::remove_file(p);
    }
}

/// Reads one checkpoint file.
pub fn load(path: &Path) -> Result<Checkpoint> {
    let fail = |problem: String| Error::Checkpoint {
        path: path.to_path_buf(),
        problem,
    };
    let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let (_, header) =
        SafeTensors::read_metadata(&bytes).map_err(|e| fail(format!("unreadable ({e:?})")))?;
    let json = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(META_KEY))
        .ok_or_else(|| fail("not a stylecam-train checkpoint (no metadata)".into()))?;
    let meta: CheckpointMeta =
        serde_json::from_str(json).map_err(|e| fail(format!("bad metadata: {e}")))?;
    if meta.format != FORMAT {
        return Err(fail(format!(
            "format {} is not supported (expected {FORMAT})",
            meta.format
        )));
    }
    let st = SafeTensors::deserialize(&bytes).map_err(|e| fail(format!("unreadable ({e:?})")))?;
    let mut net = BTreeMap::new();
    let mut optimizer = BTreeMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(fail(format!("{name} is not float32")));
        }
        let dims: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        let t = Tensor::f_from_data_size(view.data(), &dims, Kind::Float)?;
        if let Some(p) = name.strip_prefix("net.") {
            net.insert(p.to_string(), t);
        } else {
            optimizer.insert(name, t);
        }
    }
    Ok(Checkpoint {
        path: path.to_path_buf(),
        meta,
        net,
        optimizer,
    })
}

/// The newest readable checkpoint in `dir` (unreadable ones are reported and skipped).
pub fn latest(dir: &Path) -> Result<Option<Checkpoint>> {
    for (_, p) in list(dir) {
        match load(&p) {
            Ok(c) => return Ok(Some(c)),
            Err(e) => stylecam::note!("warning: skipping {e}"),
        }
    }
    Ok(None)
}

/// A checkpoint file, or the newest one in a directory.
pub fn resolve(path: &Path) -> Result<Checkpoint> {
    if path.is_dir() {
        latest(path)?.ok_or_else(|| Error::Checkpoint {
            path: path.to_path_buf(),
            problem: "no ckpt-*.safetensors in this folder".into(),
        })
    } else {
        load(path)
    }
}
