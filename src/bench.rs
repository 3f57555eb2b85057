//! `stylecam bench`: times every stage of the frame path on synthetic frames.
//!
//! Per frame: **decode** (JPEG decode of a test-card frame, standing in for an MJPEG camera),
//! **preprocess**, **inference** and **postprocess** (timed inside [`Stylizer::stylize_into`],
//! see [`crate::engine::StageTimings`]) and **blit** (RGB → 0RGB `u32`, as the window does with
//! [`crate::sink::window::blit_scaled`]). Each stage gets its median and 95th percentile; FPS is
//! `1 / median(total)`, GFLOP/s the architecture's FLOP count over the median inference time.
//!
//! Models: a style file, or an architecture (`w32-b5`, …) with random weights written to a
//! temporary file (timing does not depend on the weights' values).

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use image::codecs::jpeg::{JpegDecoder, JpegEncoder};
use image::{ImageDecoder, RgbImage};
use serde::Serialize;

use crate::engine::arbitrary::ArbitraryOptions;
use crate::engine::profile::{self, NodeTime};
use crate::engine::{DeviceChoice, EngineOptions, ModelFactory, StyleModel, Stylizer};
use crate::net::onnx::{random_weights, read_model_info_file, write_model, ModelMetadata};
use crate::net::ImfwArch;
use crate::pixels::blit::{blit_scaled, Viewport};
use crate::pixels::PadGeometry;
use crate::styles::StyleEntry;
use crate::{Error, Result};

/// Which model to time.
#[derive(Debug, Clone, PartialEq)]
pub enum BenchModel {
    /// A style model file.
    File(PathBuf),
    /// An architecture with random weights.
    Random(ImfwArch),
    /// A picture as the style, through the arbitrary-style networks.
    Picture {
        path: PathBuf,
        options: ArbitraryOptions,
    },
}

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    pub model: BenchModel,
    /// Frame sizes `(width, height)`.
    pub sizes: Vec<(u32, u32)>,
    /// Timed frames per size.
    pub frames: usize,
    /// Untimed frames per size first (session warm-up, allocations).
    pub warmup: usize,
    pub device: DeviceChoice,
    pub engine: EngineOptions,
    /// Record ONNX Runtime's per-node profile into this folder and report each size's nodes.
    pub profile: Option<PathBuf>,
}

/// Median and 95th percentile of one stage, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StageStats {
    pub median_ms: f64,
    pub p95_ms: f64,
}

impl StageStats {
    /// Nearest-rank median and p95 of `samples` (milliseconds). Empty → zeros.
    pub fn from_ms(samples: &[f64]) -> StageStats {
        if samples.is_empty() {
            return StageStats {
                median_ms: 0.0,
                p95_ms: 0.0,
            };
        }
        let mut v = samples.to_vec();
        v.sort_by(f64::total_cmp);
        let rank = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        StageStats {
            median_ms: rank(0.5),
            p95_ms: rank(0.95),
        }
    }
}

/// Every stage of one frame size.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stages {
    pub decode: StageStats,
    pub preprocess: StageStats,
    pub inference: StageStats,
    pub postprocess: StageStats,
    pub blit: StageStats,
    /// The sum of the stages, per frame.
    pub total: StageStats,
}

/// Results for one frame size.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SizeResult {
    pub width: u32,
    pub height: u32,
    /// The tensor the network runs on (the frame reflect-padded to a multiple of 4).
    pub tensor_width: usize,
    pub tensor_height: usize,
    pub stages: Stages,
    /// Frames per second of the whole path: `1000 / total.median_ms`.
    pub fps: f64,
    /// Frames per second of inference alone.
    pub inference_fps: f64,
    /// Network FLOPs per frame (when the architecture is known).
    pub gflop_per_frame: Option<f64>,
    /// Achieved GFLOP/s over the median inference time.
    pub gflops_per_s: Option<f64>,
    /// Share of the frame spent outside inference (pre + post), in percent of inference.
    pub pre_post_percent_of_inference: f64,
    /// Peak resident memory of the process so far (VmHWM), MiB.
    pub peak_rss_mib: Option<f64>,
    /// With `--profile`: every node's mean kernel time over the timed frames, slowest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes: Option<Vec<NodeTime>>,
}

/// The whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchReport {
    /// Model file, or `random <label>`.
    pub model: String,
    pub architecture: Option<String>,
    pub provider: String,
    /// The graph the session runs: `stored` or the CPU lowering applied (`--cpu-graph`).
    pub graph: String,
    /// Intra-op threads.
    pub threads: usize,
    pub frames: usize,
    pub warmup: usize,
    pub sizes: Vec<SizeResult>,
    /// Peak resident memory of the process at the end (VmHWM), MiB.
    pub peak_rss_mib: Option<f64>,
    /// With `--profile`: the trace ONNX Runtime wrote (Chrome tracing / Perfetto format).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_file: Option<PathBuf>,
}

/// Parses `w32-b5` / `imfwnet-w32-b5` / `32x5`-style architecture names.
/// Widest `--arch` accepted (the residual blocks have 4× this many channels).
pub const MAX_ARCH_WIDTH: usize = 128;
/// Most residual blocks accepted by `--arch`.
pub const MAX_ARCH_BLOCKS: usize = 32;

/// Parses `wWIDTH-bBLOCKS`, width 1..=[`MAX_ARCH_WIDTH`], blocks 1..=[`MAX_ARCH_BLOCKS`] (the
/// largest, w128-b32, has about 600 MB of weights).
pub fn parse_arch(s: &str) -> Result<ImfwArch> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_prefix("imfwnet-").unwrap_or(&t);
    let parsed = t
        .strip_prefix('w')
        .and_then(|r| r.split_once("-b"))
        .and_then(|(w, b)| Some((w.parse::<usize>().ok()?, b.parse::<usize>().ok()?)));
    match parsed {
        Some((w, b)) if (1..=MAX_ARCH_WIDTH).contains(&w) && (1..=MAX_ARCH_BLOCKS).contains(&b) => {
            Ok(ImfwArch::new(w, b))
        }
        Some((w, b)) => Err(Error::InvalidArgument(format!(
            "architecture w{w}-b{b} is out of range: the width must be 1..={MAX_ARCH_WIDTH} and \
             the blocks 1..={MAX_ARCH_BLOCKS}, e.g. w32-b5 (the seed)"
        ))),
        None => Err(Error::InvalidArgument(format!(
            "'{s}' is not an architecture: write wWIDTH-bBLOCKS, e.g. w32-b5 (the seed) or w16-b3"
        ))),
    }
}

/// Peak resident set size of this process (VmHWM), MiB; `None` off Linux.
pub fn peak_rss_mib() -> Option<f64> {
    proc_status_kib("VmHWM").map(|k| k as f64 / 1024.0)
}

/// Current resident set size of this process (VmRSS), MiB; `None` off Linux.
pub fn current_rss_mib() -> Option<f64> {
    proc_status_kib("VmRSS").map(|k| k as f64 / 1024.0)
}

fn proc_status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| {
        let rest = l.strip_prefix(key)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// Writes `arch` with random weights (seed 1, as the benchmark uses) to `path`.
pub fn write_random_model(arch: &ImfwArch, path: &Path) -> Result<()> {
    let meta = ModelMetadata {
        name: format!("random {}", arch.label()),
        extra: vec![],
    };
    let bytes = write_model(arch, &random_weights(arch, 1), &meta)?;
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

/// A model file to load: the given one, or random weights in a temporary folder (kept alive by
/// the returned guard).
fn materialise(model: &BenchModel) -> Result<(PathBuf, Option<tempfile::TempDir>, String)> {
    match model {
        BenchModel::File(p) | BenchModel::Picture { path: p, .. } => {
            Ok((p.clone(), None, p.display().to_string()))
        }
        BenchModel::Random(arch) => {
            let dir = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
            let path = dir.path().join(format!("{}.onnx", arch.label()));
            write_random_model(arch, &path)?;
            Ok((path, Some(dir), format!("random {}", arch.label())))
        }
    }
}

/// The model's architecture: given, or read from the file's metadata.
fn architecture(model: &BenchModel, path: &Path) -> Option<ImfwArch> {
    match model {
        BenchModel::Random(a) => Some(*a),
        BenchModel::File(_) => read_model_info_file(path).ok().and_then(|i| i.arch()),
        BenchModel::Picture { .. } => None,
    }
}

/// The model to time, loaded through the family seam, with its label and FLOP count.
struct Timed {
    model: Box<dyn StyleModel>,
    architecture: Option<String>,
    /// The graph that runs ([`BenchReport::graph`]).
    graph: String,
    flops: Box<dyn Fn(usize, usize) -> Option<u64>>,
}

fn load_timed(config: &BenchConfig, path: &Path, engine: &EngineOptions) -> Result<Timed> {
    if let BenchModel::Picture { options, .. } = &config.model {
        let factory = ModelFactory::new(config.device, engine.clone(), options.clone());
        let model = factory.load(&StyleEntry::picture(path))?;
        return Ok(Timed {
            graph: model.describe(),
            model,
            architecture: Some(crate::styles::PICTURE_ARCH.into()),
            // At the size the frame is stylized at (`--content-size`), not the frame's.
            flops: {
                let size = options.content_size;
                Box::new(move |h, w| {
                    let (w, h) = size
                        .target(w as u32, h as u32)
                        .map_or((w, h), |(tw, th)| (tw as usize, th as usize));
                    Some(crate::net::arbitrary::transform_flops(h, w))
                })
            },
        });
    }
    let arch = architecture(&config.model, path);
    let stylizer = Stylizer::load(path, config.device, engine)?;
    Ok(Timed {
        graph: stylizer.graph().to_string(),
        model: Box::new(stylizer),
        architecture: arch.map(|a| a.label()),
        flops: Box::new(move |h, w| arch.map(|a| a.flops(h, w))),
    })
}

/// A test-card frame as an MJPEG camera would deliver it.
fn jpeg_frame(width: u32, height: u32) -> Result<Vec<u8>> {
    let card = crate::source::testcard::render(width, height, 7);
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, 85)
        .encode_image(&card)
        .map_err(|e| Error::InvalidArgument(format!("cannot encode the test frame: {e}")))?;
    Ok(bytes)
}

/// Decodes `jpeg` into `frame` (reusing its buffer when the size matches).
fn decode_into(jpeg: &[u8], frame: &mut RgbImage) -> Result<()> {
    let bad = |e: image::ImageError| Error::InvalidArgument(format!("JPEG decode failed: {e}"));
    let decoder = JpegDecoder::new(Cursor::new(jpeg)).map_err(bad)?;
    let (w, h) = decoder.dimensions();
    if frame.dimensions() != (w, h) {
        *frame = RgbImage::new(w, h);
    }
    decoder.read_image(frame.as_mut()).map_err(bad)?;
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Runs the benchmark.
pub fn run(config: &BenchConfig) -> Result<BenchReport> {
    if config.frames == 0 {
        return Err(Error::InvalidArgument(
            "--frames must be at least 1".to_string(),
        ));
    }
    if config.sizes.is_empty() {
        return Err(Error::InvalidArgument(
            "give at least one frame size (--size 640x480)".to_string(),
        ));
    }
    let (path, _guard, model_name) = materialise(&config.model)?;
    let mut engine = config.engine.clone();
    if let Some(dir) = &config.profile {
        if dir.exists() && !dir.is_dir() {
            return Err(Error::Output {
                path: dir.clone(),
                reason: "is a file; --profile takes a folder (created if missing)".into(),
            });
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::Output {
            path: dir.clone(),
            reason: format!("cannot create the profile folder: {e}"),
        })?;
        engine.profile = Some(dir.join("onnxruntime"));
    }
    let mut timed = load_timed(config, &path, &engine)?;
    let threads = config
        .engine
        .intra_threads
        .unwrap_or_else(num_cpus::get_physical);

    let mut sizes = Vec::with_capacity(config.sizes.len());
    for &(w, h) in &config.sizes {
        sizes.push(bench_size(&mut *timed.model, &timed.flops, w, h, config)?);
    }
    let profile_file = timed.model.end_profiling()?;
    if let Some(file) = &profile_file {
        attribute_profile(&mut sizes, &profile::read(file)?, config, file)?;
    }
    Ok(BenchReport {
        model: model_name,
        architecture: timed.architecture,
        provider: timed.model.provider().to_string(),
        graph: timed.graph,
        threads,
        frames: config.frames,
        warmup: config.warmup,
        sizes,
        peak_rss_mib: peak_rss_mib(),
        profile_file,
    })
}

/// Gives each size the nodes of its timed runs: the bench ran `warmup + frames` runs per size,
/// in order.
fn attribute_profile(
    sizes: &mut [SizeResult],
    runs: &[profile::Run],
    config: &BenchConfig,
    file: &Path,
) -> Result<()> {
    let per_size = config.warmup + config.frames;
    if runs.len() != per_size * sizes.len() {
        return Err(Error::Input {
            path: file.to_path_buf(),
            reason: format!(
                "ONNX Runtime's profile holds {} runs, the bench made {}: the trace is incomplete \
                 (a full disk?) or not from this run",
                runs.len(),
                per_size * sizes.len()
            ),
        });
    }
    for (size, runs) in sizes.iter_mut().zip(runs.chunks(per_size)) {
        size.nodes = Some(profile::summarise(&runs[config.warmup..]));
    }
    Ok(())
}

fn bench_size(
    stylizer: &mut dyn StyleModel,
    flops: &dyn Fn(usize, usize) -> Option<u64>,
    w: u32,
    h: u32,
    config: &BenchConfig,
) -> Result<SizeResult> {
    let jpeg = jpeg_frame(w, h)?;
    let mut frame = RgbImage::new(w, h);
    let mut styled = RgbImage::new(w, h);
    let mut window = vec![0u32; (w * h) as usize];
    let mut xmap = Vec::new();
    let viewport = Viewport::fit((w, h), (w as usize, h as usize));

    let n = config.frames;
    let mut samples: [Vec<f64>; 6] = std::array::from_fn(|_| Vec::with_capacity(n));
    for i in 0..config.warmup + n {
        let t0 = Instant::now();
        decode_into(&jpeg, &mut frame)?;
        let decode = t0.elapsed();
        stylizer.stylize_into(&frame, &mut styled)?;
        let stages = stylizer.last_timings();
        let t1 = Instant::now();
        blit_scaled(
            &styled,
            &mut window,
            w as usize,
            h as usize,
            viewport,
            &mut xmap,
        );
        let blit = t1.elapsed();
        std::hint::black_box(&window);
        if i >= config.warmup {
            let parts = [
                ms(decode),
                ms(stages.preprocess),
                ms(stages.inference),
                ms(stages.postprocess),
                ms(blit),
            ];
            for (s, v) in samples.iter_mut().zip(parts) {
                s.push(v);
            }
            samples[5].push(parts.iter().sum());
        }
    }
    let [decode, preprocess, inference, postprocess, blit, total] =
        samples.map(|s| StageStats::from_ms(&s));
    let geometry = PadGeometry::for_frame(w as usize, h as usize);
    let flops = flops(geometry.padded_height, geometry.padded_width).map(|f| f as f64);
    let per_s = |m: f64| if m > 0.0 { 1000.0 / m } else { 0.0 };
    Ok(SizeResult {
        width: w,
        height: h,
        tensor_width: geometry.padded_width,
        tensor_height: geometry.padded_height,
        fps: per_s(total.median_ms),
        inference_fps: per_s(inference.median_ms),
        gflop_per_frame: flops.map(|f| f / 1e9),
        gflops_per_s: flops.map(|f| f / 1e9 * per_s(inference.median_ms)),
        pre_post_percent_of_inference: if inference.median_ms > 0.0 {
            100.0 * (preprocess.median_ms + postprocess.median_ms) / inference.median_ms
        } else {
            0.0
        },
        peak_rss_mib: peak_rss_mib(),
        nodes: None,
        stages: Stages {
            decode,
            preprocess,
            inference,
            postprocess,
            blit,
            total,
        },
    })
}

/// The report as a plain-text table.
pub fn format_table(report: &BenchReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "model: {}  architecture: {}  provider: {} (graph: {})  threads: {}  frames: {} (+{} warm-up)",
        report.model,
        report.architecture.as_deref().unwrap_or("?"),
        report.provider,
        report.graph,
        report.threads,
        report.frames,
        report.warmup
    );
    let _ = writeln!(
        s,
        "{:<10} {:<11} {:>15} {:>15} {:>15} {:>15} {:>15} {:>15} {:>7} {:>8} {:>8}",
        "size",
        "tensor",
        "decode ms",
        "preprocess ms",
        "inference ms",
        "postprocess ms",
        "blit ms",
        "total ms",
        "FPS",
        "GFLOP/s",
        "RSS MiB"
    );
    let cell = |st: &StageStats| format!("{:.2} / {:.2}", st.median_ms, st.p95_ms);
    for r in &report.sizes {
        let g = &r.stages;
        let _ = writeln!(
            s,
            "{:<10} {:<11} {:>15} {:>15} {:>15} {:>15} {:>15} {:>15} {:>7.2} {:>8} {:>8}",
            format!("{}x{}", r.width, r.height),
            format!("{}x{}", r.tensor_width, r.tensor_height),
            cell(&g.decode),
            cell(&g.preprocess),
            cell(&g.inference),
            cell(&g.postprocess),
            cell(&g.blit),
            cell(&g.total),
            r.fps,
            r.gflops_per_s
                .map(|v| format!("{v:.1}"))
                .unwrap_or_else(|| "?".into()),
            r.peak_rss_mib
                .map(|v| format!("{v:.0}"))
                .unwrap_or_else(|| "?".into()),
        );
    }
    s.push_str("(each stage: median / p95 over the timed frames; FPS = 1000 / median total)\n");
    for r in &report.sizes {
        if let Some(nodes) = &r.nodes {
            format_nodes(&mut s, r, nodes);
        }
    }
    if let Some(file) = &report.profile_file {
        let _ = writeln!(
            s,
            "\nONNX Runtime's trace: {} (chrome://tracing or ui.perfetto.dev)",
            file.display()
        );
    }
    s
}

/// Where one size's inference time went: the slowest nodes, then the time per operator.
fn format_nodes(s: &mut String, r: &SizeResult, nodes: &[NodeTime]) {
    use std::fmt::Write;
    const SHOWN: usize = 15;
    let _ = writeln!(
        s,
        "\n{}x{}: the {} slowest of {} nodes (mean kernel ms per frame, % of the run)",
        r.width,
        r.height,
        SHOWN.min(nodes.len()),
        nodes.len()
    );
    for n in nodes.iter().take(SHOWN) {
        let _ = writeln!(
            s,
            "  {:>8.2} ms {:>5.1} %  {:<24} {}",
            n.ms_per_run, n.percent, n.op, n.node
        );
    }
    let mut ops: Vec<(&str, f64, usize)> = Vec::new();
    for n in nodes {
        match ops.iter_mut().find(|o| o.0 == n.op) {
            Some(o) => {
                o.1 += n.ms_per_run;
                o.2 += 1;
            }
            None => ops.push((&n.op, n.ms_per_run, 1)),
        }
    }
    ops.sort_by(|a, b| b.1.total_cmp(&a.1));
    let per_op: Vec<String> = ops
        .iter()
        .map(|(op, ms, count)| format!("{op} {ms:.2} ms ({count})"))
        .collect();
    let _ = writeln!(s, "  per operator: {}", per_op.join(", "));
}

/// One session configuration's inference time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OptionResult {
    pub name: String,
    pub inference: StageStats,
}

/// Times inference under each ONNX Runtime setting in `variants` (one session each, loaded
/// in turn) and, with the `base` options, three ways of running: the engine's I/O binding with
/// preallocated bound output (what [`Stylizer`] does), I/O binding with the output allocated by
/// ONNX Runtime each run, and a plain `run` with the input passed by reference.
pub fn session_option_sweep(
    model: &BenchModel,
    (w, h): (u32, u32),
    frames: usize,
    warmup: usize,
    base: &EngineOptions,
    variants: &[(String, EngineOptions)],
) -> Result<Vec<OptionResult>> {
    let (path, _guard, _) = materialise(model)?;
    let frame = crate::source::testcard::render(w, h, 3);
    // Rounds interleave the settings so that a change in the machine's load mid-sweep spreads
    // over all of them instead of favouring whichever ran in the quiet part.
    let per_round = frames.div_ceil(SWEEP_ROUNDS).max(1);
    let mut names: Vec<String> = variants.iter().map(|(n, _)| n.clone()).collect();
    let mut times: Vec<Vec<f64>> = Vec::new();
    for _ in 0..SWEEP_ROUNDS {
        let mut round: Vec<Vec<f64>> = Vec::new();
        for (_, opts) in variants {
            let mut st = Stylizer::load(&path, DeviceChoice::Cpu, opts)?;
            let mut out = RgbImage::new(w, h);
            let mut t = Vec::with_capacity(per_round);
            for i in 0..warmup + per_round {
                st.stylize_into(&frame, &mut out)?;
                if i >= warmup {
                    t.push(ms(st.last_timings().inference));
                }
            }
            round.push(t);
        }
        let modes = run_mode_sweep(&path, (w, h), per_round, warmup, base)?;
        if names.len() == variants.len() {
            names.extend(modes.iter().map(|(n, _)| n.clone()));
        }
        round.extend(modes.into_iter().map(|(_, t)| t));
        times.resize(round.len(), Vec::new());
        for (all, t) in times.iter_mut().zip(round) {
            all.extend(t);
        }
    }
    Ok(names
        .into_iter()
        .zip(times)
        .map(|(name, t)| OptionResult {
            name,
            inference: StageStats::from_ms(&t),
        })
        .collect())
}

/// How many interleaved rounds [`session_option_sweep`] splits its frames into.
pub const SWEEP_ROUNDS: usize = 3;

/// The ONNX Runtime settings the sweep compares, each one change from `base`.
pub fn sweep_variants(base: &EngineOptions) -> Vec<(String, EngineOptions)> {
    use crate::engine::GraphOptimisation as G;
    let with = |f: &dyn Fn(&mut EngineOptions)| {
        let mut o = base.clone();
        f(&mut o);
        o
    };
    let threads = base.intra_threads.unwrap_or_else(num_cpus::get_physical);
    let mut v = vec![
        ("defaults".to_string(), base.clone()),
        (
            "optimisation: disable".into(),
            with(&|o| o.optimisation = G::Disable),
        ),
        (
            "optimisation: basic".into(),
            with(&|o| o.optimisation = G::Basic),
        ),
        (
            "optimisation: extended (no layout)".into(),
            with(&|o| o.optimisation = G::Extended),
        ),
        (
            "optimisation: all, NCHWc transformer off".into(),
            with(&|o| o.nchwc_layout = false),
        ),
    ];
    for t in [1, 2] {
        if t != threads {
            v.push((
                format!("intra-op threads: {t}"),
                with(&|o| o.intra_threads = Some(t)),
            ));
        }
    }
    v.extend([
        (
            "inter-op threads: 2 (parallel execution)".to_string(),
            with(&|o| o.inter_threads = Some(2)),
        ),
        (
            "CPU arena off".into(),
            with(&|o| o.cpu_arena = !base.cpu_arena),
        ),
        (
            format!(
                "memory pattern {}",
                if base.memory_pattern { "off" } else { "on" }
            ),
            with(&|o| o.memory_pattern = !base.memory_pattern),
        ),
        (
            "flush-to-zero / denormals-are-zero on".into(),
            with(&|o| o.flush_to_zero = !base.flush_to_zero),
        ),
        (
            "intra-op spinning off".into(),
            with(&|o| o.intra_spinning = !base.intra_spinning),
        ),
    ]);
    v
}

/// The sweep as a markdown table.
pub fn format_sweep(results: &[OptionResult]) -> String {
    let mut s = String::from(
        "| setting | inference median ms | p95 ms | vs defaults |\n|---|---:|---:|---:|\n",
    );
    let base = results
        .first()
        .map(|r| r.inference.median_ms)
        .unwrap_or(0.0);
    for r in results {
        let rel = if base > 0.0 {
            format!("{:+.1} %", 100.0 * (r.inference.median_ms / base - 1.0))
        } else {
            "?".into()
        };
        s.push_str(&format!(
            "| {} | {:.1} | {:.1} | {} |\n",
            r.name, r.inference.median_ms, r.inference.p95_ms, rel
        ));
    }
    s
}

fn run_mode_sweep(
    path: &Path,
    (w, h): (u32, u32),
    frames: usize,
    warmup: usize,
    opts: &EngineOptions,
) -> Result<Vec<(String, Vec<f64>)>> {
    use ort::value::{Tensor, TensorRef};
    let bytes = crate::fsio::read_model(path)?;
    let lowered = crate::engine::stylizer::cpu_lowering(path, &bytes, DeviceChoice::Cpu, opts)?;
    let model = crate::engine::device::ModelBytes {
        stored: &bytes,
        cpu: lowered.as_ref().map(|l| l.bytes.as_slice()),
        cuda: None,
    };
    let (mut session, _, runs_lowered) =
        crate::engine::device::open_session(path, model, DeviceChoice::Cpu, opts)?;
    let io = match &lowered {
        Some(l) if runs_lowered => l.form.lowering,
        _ => crate::net::graph::Lowering::NONE,
    };
    let input_name = session.inputs()[0].name().to_string();
    let output_name = session.outputs()[0].name().to_string();
    let geometry = PadGeometry::for_frame(w as usize, h as usize);
    let [ci, hi, wi] = crate::engine::stylizer::input_shape(io, &geometry);
    let [co, ho, wo] = crate::engine::stylizer::output_shape(io, &geometry);
    let (shape, out_shape) = ([1usize, ci, hi, wi], [1usize, co, ho, wo]);
    let frame = crate::source::testcard::render(w, h, 3);
    let mut data = vec![0f32; ci * hi * wi];
    crate::engine::stylizer::preprocess_for(io, &frame, &geometry, &mut data)?;

    let timed = |run: &mut dyn FnMut() -> Result<()>| -> Result<Vec<f64>> {
        let mut times = Vec::with_capacity(frames);
        for i in 0..warmup + frames {
            let t = Instant::now();
            run()?;
            if i >= warmup {
                times.push(ms(t.elapsed()));
            }
        }
        Ok(times)
    };
    let mut results = Vec::new();

    // Plain run: input by reference, output allocated by ONNX Runtime and read back.
    let plain = timed(&mut || {
        let input = TensorRef::from_array_view((shape, &data[..]))?;
        let outputs = session.run(ort::inputs![input_name.as_str() => input])?;
        let (_, out) = outputs[0].try_extract_tensor::<f32>()?;
        std::hint::black_box(out);
        Ok(())
    })?;
    results.push((
        "plain run (input by reference, ORT-allocated output)".into(),
        plain,
    ));

    // I/O binding, output allocated by ONNX Runtime on each run.
    let allocator = session.allocator();
    let mut input = Tensor::<f32>::new(allocator, shape)?;
    input.extract_tensor_mut().1.copy_from_slice(&data);
    let mut binding = session.create_binding()?;
    binding.bind_input(input_name.as_str(), &input)?;
    binding.bind_output_to_device(output_name.as_str(), allocator.memory_info())?;
    let bound_device = timed(&mut || {
        let outputs = session.run_binding(&binding)?;
        let (_, out) = outputs[0].try_extract_tensor::<f32>()?;
        std::hint::black_box(out);
        Ok(())
    })?;
    results.push(("I/O binding, ORT-allocated output".into(), bound_device));

    // I/O binding with a preallocated bound output (the engine's path).
    let mut output = Tensor::<f32>::new(session.allocator(), out_shape)?;
    let mut binding = session.create_binding()?;
    binding.bind_input(input_name.as_str(), &input)?;
    binding.bind_output(output_name.as_str(), &mut output)?;
    let bound = timed(&mut || {
        drop(session.run_binding(&binding)?);
        Ok(())
    })?;
    results.push((
        "I/O binding, preallocated bound output (engine)".into(),
        bound,
    ));
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = StageStats::from_ms(&v);
        assert_eq!((s.median_ms, s.p95_ms), (50.0, 95.0));
        let s = StageStats::from_ms(&[3.0]);
        assert_eq!((s.median_ms, s.p95_ms), (3.0, 3.0));
        let s = StageStats::from_ms(&[5.0, 1.0, 3.0]);
        assert_eq!((s.median_ms, s.p95_ms), (3.0, 5.0));
    }

    #[test]
    fn architectures_parse() {
        assert_eq!(parse_arch("w16-b3").unwrap(), ImfwArch::new(16, 3));
        assert_eq!(parse_arch("imfwnet-w32-b5").unwrap(), ImfwArch::new(32, 5));
        assert!(parse_arch("16x3").is_err());
        assert!(parse_arch("w0-b3").is_err());
        let big = parse_arch("w100000-b100000").unwrap_err().to_string();
        assert!(big.contains("1..=128") && big.contains("1..=32"), "{big}");
        assert_eq!(parse_arch("w128-b32").unwrap(), ImfwArch::new(128, 32));
    }

    #[test]
    fn jpeg_test_frames_decode_at_their_size() {
        let jpeg = jpeg_frame(40, 30).unwrap();
        let mut frame = RgbImage::new(1, 1);
        decode_into(&jpeg, &mut frame).unwrap();
        assert_eq!(frame.dimensions(), (40, 30));
        // The test card's top bar is bright: the decode produced content, not zeros.
        assert!(frame.get_pixel(1, 1).0[0] > 150);
    }

    #[test]
    fn rss_is_read_from_proc() {
        if cfg!(target_os = "linux") {
            // Current first: other tests run in parallel and the RSS may grow in between.
            let current = current_rss_mib().unwrap();
            let peak = peak_rss_mib().unwrap();
            assert!(current > 0.0 && peak >= current, "{peak} < {current}");
        }
    }
}
