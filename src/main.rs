//! The `stylecam` binary: parse the command line, call the library, print errors.

mod cli;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use tracing_subscriber::EnvFilter;

use cli::{
    BenchArgs, CalibrateArgs, Cli, Command, EngineArgs, GalleryArgs, StylesArgs, StylizeArgs,
};
use stylecam::batch::{self, OutputSpec, Resize};
use stylecam::engine::{runtime, EngineOptions, ModelFactory, StyleModel, Stylizer};
use stylecam::styles::{self, Preset, Style, StyleEntry};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_exit(&e),
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("stylecam=info,ort=off,warn")),
        )
        .with_writer(std::io::stderr)
        // A closed stderr must not turn a log line into a panic (eprint! inside the subscriber).
        .log_internal_errors(false)
        .with_target(false)
        .without_time()
        .init();
    // Output left in stdout's buffer is flushed here, where a failure can still be reported.
    match run(cli).and_then(|code| Ok(stylecam::output::flush_stdout().map(|()| code)?)) {
        Ok(code) => code,
        // The reader of our stdout closed it (`stylecam styles | head -1`): it has what it
        // wanted, so stop quietly and successfully (see stylecam::output).
        Err(e) if stylecam::output::is_broken_pipe(&*e) => ExitCode::SUCCESS,
        Err(e) => {
            stylecam::note!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// clap's own exit (usage errors, --help, --version), with a failed stdout handled like ours:
/// quiet on a closed pipe, an error on a full disk (clap itself ignores write errors).
fn clap_exit(e: &clap::Error) -> ExitCode {
    if e.use_stderr() {
        let _ = e.print();
        return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
    }
    match stylecam::out!("{}", e.render()).and_then(|()| stylecam::output::flush_stdout()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if stylecam::output::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            stylecam::note!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Stylize(args) => stylize(&cli.engine, args),
        Command::Styles(args) => list_styles(&cli.engine, args),
        Command::Live(args) => live(&cli.engine, args),
        Command::Cameras => cameras(),
        Command::Bench(args) => bench(&cli.engine, args),
        Command::Calibrate(args) => calibrate(&cli.engine, args),
        Command::Gallery(args) => gallery(&cli.engine, args),
    }
}

fn engine_options(engine: &EngineArgs) -> EngineOptions {
    let mut opts = EngineOptions {
        cpu_graph: engine.cpu_graph.into(),
        fp16: engine.fp16,
        int8: engine.int8,
        ..EngineOptions::default()
    };
    if let Some(t) = engine.threads {
        opts.intra_threads = Some(t as usize);
    }
    opts
}

fn calibrate(engine: &EngineArgs, args: CalibrateArgs) -> Result<ExitCode> {
    runtime::init(engine.ort_lib.as_deref())?;
    let mut files = batch::find_images(&args.photos)?;
    files.truncate(args.limit as usize);
    let resize = Resize::MaxSide(args.max_side);
    let photos = files
        .iter()
        .map(|f| Ok(resize.apply(stylecam::source::image_file::read_rgb(f)?)))
        .collect::<stylecam::Result<Vec<_>>>()?;
    let opts = engine_options(engine);
    let size = format!("longer side ≤ {}", args.max_side);
    for model in &args.models {
        let calibration =
            stylecam::engine::calibrate::calibrate_file(model, &photos, &size, &opts)?;
        stylecam::outln!(
            "{}: int8 ranges of {} residual blocks measured on {} photos; run it with --int8",
            model.display(),
            calibration.blocks.len(),
            photos.len()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn stylize(engine: &EngineArgs, args: StylizeArgs) -> Result<ExitCode> {
    let output = match (&args.output, &args.out_dir) {
        (Some(o), _) => OutputSpec::File(o.clone()),
        (None, Some(d)) => OutputSpec::Dir {
            dir: d.clone(),
            format: args.format.clone(),
        },
        (None, None) => unreachable!("clap requires -o or --out-dir"),
    };
    let resize = match (args.size, args.max_side) {
        (Some((w, h)), _) => Resize::Exact(w, h),
        (None, Some(m)) => Resize::MaxSide(m),
        _ => Resize::Native,
    };
    // Videos go through the decoder/encoder; everything else is an image (or a folder of them).
    let (videos, images): (Vec<_>, Vec<_>) =
        args.inputs.iter().cloned().partition(|p| is_video_path(p));
    let mut video_jobs = Vec::new();
    for v in &videos {
        stylecam::video::container::check_input_container(v)?;
        let out = match &output {
            OutputSpec::File(o) if args.inputs.len() == 1 => o.clone(),
            OutputSpec::File(_) => anyhow::bail!(
                "-o names one output file but there are {} inputs; use --out-dir DIR instead",
                args.inputs.len()
            ),
            OutputSpec::Dir { dir, .. } => {
                let mut o = dir.join(v.file_name().unwrap_or_default());
                o.set_extension("mp4");
                o
            }
        };
        stylecam::video::container::check_output_container(&out)?;
        video_jobs.push((v.clone(), out));
    }
    let jobs = if images.is_empty() {
        Vec::new()
    } else {
        batch::plan(&images, &output)?
    };
    // An --out-dir this run creates is removed again if it ends up empty (a failed run leaves
    // nothing behind).
    let _cleanup = match &output {
        OutputSpec::Dir { dir, .. } if !dir.exists() => {
            // The highest folder of the path that does not exist yet: create_dir_all makes it.
            let top = dir
                .ancestors()
                .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
                .last()
                .unwrap_or(dir);
            Some(RemoveIfEmpty(top.to_path_buf()))
        }
        _ => None,
    };
    for job in &jobs {
        batch::prepare_output_dir(&job.output, matches!(output, OutputSpec::Dir { .. }))?;
    }
    if let OutputSpec::Dir { dir, .. } = &output {
        if !video_jobs.is_empty() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the output folder {}", dir.display()))?;
        }
    }
    runtime::init(engine.ort_lib.as_deref())?;
    let mut stylizer = load_for_stylize(engine, &args)?;
    let mut failed = 0usize;
    let interrupt = if video_jobs.is_empty() {
        None
    } else {
        Some(stop_on_ctrl_c()?)
    };
    for (input, out) in &video_jobs {
        let opts = stylecam::video::stylize::VideoStylizeOptions {
            size: args.size,
            smooth: args.smooth,
            bitrate_bps: args.bitrate,
            progress: true,
            interrupt: interrupt.clone(),
            ..Default::default()
        };
        stylizer.new_sequence();
        let result = stylecam::video::stylize::stylize_video(input, out, opts, &mut |i, o| {
            stylizer.stylize_into(i, o)
        });
        match result {
            Ok(r) => {
                stylecam::note!(
                    "{} → {} ({} frames, {}×{}, {:.2} fps, {:.1} frames/s{})",
                    input.display(),
                    out.display(),
                    r.frames_written,
                    r.width,
                    r.height,
                    r.fps,
                    r.frames_per_sec(),
                    if r.interrupted {
                        ", interrupted: partial file kept"
                    } else {
                        ""
                    }
                );
                match &r.audio {
                    stylecam::video::stylize::AudioOutcome::None => {}
                    stylecam::video::stylize::AudioOutcome::Copied { codec, .. } => {
                        stylecam::note!("audio: {codec} track copied")
                    }
                    stylecam::video::stylize::AudioOutcome::Dropped { reason } => {
                        stylecam::note!("audio: dropped ({reason})")
                    }
                }
                if r.interrupted {
                    return Ok(ExitCode::from(130));
                }
            }
            Err(e) => {
                failed += 1;
                stylecam::note!("error: {e}");
            }
        }
    }
    let total = jobs.len() + video_jobs.len();
    for job in &jobs {
        let t0 = Instant::now();
        stylizer.new_sequence();
        let result = batch::load_input(job, resize).and_then(|img| {
            let out = stylizer.stylize(&img)?;
            stylecam::sink::image_file::write_rgb(&out, &job.output)?;
            Ok(out.dimensions())
        });
        match result {
            Ok((w, h)) => stylecam::note!(
                "{} → {} ({w}×{h}, {:.0} ms)",
                job.input.display(),
                job.output.display(),
                t0.elapsed().as_secs_f64() * 1e3
            ),
            Err(e) => {
                failed += 1;
                stylecam::note!("error: {e}");
            }
        }
    }
    if failed > 0 {
        stylecam::note!("{failed} of {total} inputs failed");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Removes a folder tree when dropped, if it holds no file (only empty folders, or nothing).
struct RemoveIfEmpty(std::path::PathBuf);

impl Drop for RemoveIfEmpty {
    fn drop(&mut self) {
        let walk = walkdir::WalkDir::new(&self.0).contents_first(true);
        for entry in walk.into_iter().flatten() {
            if entry.file_type().is_dir() {
                // Fails, harmlessly, on a folder that holds a file.
                let _ = std::fs::remove_dir(entry.path());
            }
        }
    }
}

/// The model `stylize` runs: the picture given by --style-image (arbitrary family), else the
/// variant of --style that --preset picks.
fn load_for_stylize(engine: &EngineArgs, args: &StylizeArgs) -> Result<Box<dyn StyleModel>> {
    if let Some(picture) = &args.style_image {
        let factory = ModelFactory::new(
            engine.device(),
            engine_options(engine),
            args.picture.options(engine.arbitrary_dir.clone()),
        );
        let model = factory.load(&StyleEntry::picture(picture))?;
        tracing::info!(
            "style picture {} ({}) on {}",
            picture.display(),
            model.describe(),
            model.provider()
        );
        return Ok(model);
    }
    let name = args
        .style
        .as_deref()
        .expect("clap requires --style or --style-image");
    let models = styles::models_dir(engine.models.as_deref());
    let style = styles::find_style(name, &models)?;
    let preset = args.preset.map_or(Preset::Full, Preset::from);
    if args.preset.is_some() {
        styles::note_single_variant(&style, preset);
    }
    let (stylizer, chosen) = load_variant(&style, preset, engine)?;
    tracing::info!(
        "style '{}' {} ({}) on {}",
        style.name,
        style.variant_label(chosen),
        style.variants[chosen].path.display(),
        stylizer.provider()
    );
    Ok(Box::new(stylizer))
}

fn gallery(engine: &EngineArgs, args: GalleryArgs) -> Result<ExitCode> {
    use stylecam::gallery;
    let files = batch::find_images(&args.photos)?;
    // Check the output before any time is spent on inference, and never overwrite a photo.
    batch::prepare_output_dir(&args.out, true)?;
    gallery::check_output(&files, &args.out)?;
    let photos = files
        .iter()
        .map(|f| gallery::read_photo(f, args.cell))
        .collect::<stylecam::Result<Vec<_>>>()?;
    let models = styles::models_dir(engine.models.as_deref());
    let chosen = if args.style_image.is_empty() || !args.styles.is_empty() {
        gallery::select_styles(&args.styles, &models)?
    } else {
        Vec::new()
    };
    let preset = args.preset.map_or(Preset::Full, Preset::from);
    runtime::init(engine.ort_lib.as_deref())?;
    // Style pictures first: a picture that cannot be one fails before any stylizing.
    let factory = ModelFactory::new(
        engine.device(),
        engine_options(engine),
        args.picture.options(engine.arbitrary_dir.clone()),
    );
    let pictures = args
        .style_image
        .iter()
        .map(|p| factory.load(&StyleEntry::picture(p)))
        .collect::<stylecam::Result<Vec<_>>>()?;
    let mut labels = vec![gallery::ORIGINAL_LABEL.to_string()];
    let mut rows: Vec<Vec<_>> = photos.iter().map(|p| vec![p.clone()]).collect();
    for style in &chosen {
        if args.preset.is_some() {
            styles::note_single_variant(style, preset);
        }
        let t0 = Instant::now();
        let (mut stylizer, variant) = load_variant(style, preset, engine)?;
        for (row, photo) in rows.iter_mut().zip(&photos) {
            row.push(stylizer.stylize(photo)?);
        }
        stylecam::note!(
            "{} {} on {}: {} photos ({:.0} ms)",
            style.name,
            style.variant_label(variant),
            stylizer.provider(),
            photos.len(),
            t0.elapsed().as_secs_f64() * 1e3
        );
        labels.push(style.name.clone());
    }
    for mut model in pictures {
        for (row, photo) in rows.iter_mut().zip(&photos) {
            row.push(model.stylize(photo)?);
        }
        labels.push(model.name().to_string());
    }
    let sheet = gallery::compose(&labels, &rows)?;
    stylecam::sink::image_file::write_rgb(&sheet, &args.out)?;
    stylecam::note!(
        "{} ({}×{}: {} photos × {} styles)",
        args.out.display(),
        sheet.width(),
        sheet.height(),
        photos.len(),
        labels.len() - 1
    );
    Ok(ExitCode::SUCCESS)
}

/// Loads the variant of `style` that `preset` picks; returns it with its index. `--preset auto`
/// with `--device auto` cannot know the provider before a session exists: the lightest variant
/// is loaded first, and when it runs on CUDA/TensorRT rather than the CPU the full one replaces it.
fn load_variant(style: &Style, preset: Preset, engine: &EngineArgs) -> Result<(Stylizer, usize)> {
    let opts = engine_options(engine);
    let load = |v: &StyleEntry| Stylizer::load(&v.path, engine.device(), &opts);
    let (first, pending) = preset.start(engine.device());
    let i = style.variant_index(first);
    let stylizer = load(&style.variants[i])?;
    let settled = match pending {
        true => style.variant_index(preset.settled_by(stylizer.provider())),
        false => i,
    };
    if settled == i {
        return Ok((stylizer, i));
    }
    drop(stylizer);
    Ok((load(&style.variants[settled])?, settled))
}

fn list_styles(engine: &EngineArgs, args: StylesArgs) -> Result<ExitCode> {
    let dir = styles::models_dir(engine.models.as_deref());
    let found = styles::discover_styles(&dir)
        .with_context(|| format!("listing styles in {}", dir.display()))?;
    if args.names_only {
        for s in &found {
            stylecam::outln!("{}", s.name)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if found.is_empty() {
        stylecam::outln!(
            "no styles in {} (train one with stylecam-train, or pass --models DIR)",
            dir.display()
        )?;
    } else {
        let (fw, fh) = styles::COST_FRAME;
        stylecam::outln!(
            "{:<3} {:<24} {:<10} {:<16} {:>12} {:>9}  {:<5} FILE",
            "#",
            "NAME",
            "PRESET",
            "ARCHITECTURE",
            format!("GFLOP@{fw}x{fh}"),
            "TEACHER",
            "INT8"
        )?;
        for (i, s) in found.iter().enumerate() {
            for (j, v) in s.variants.iter().enumerate() {
                let (num, name) = if j == 0 {
                    ((i + 1).to_string(), s.name.as_str())
                } else {
                    (String::new(), "")
                };
                let gflop = v
                    .flops()
                    .map_or_else(|| "?".to_string(), |f| format!("{:.2}", f as f64 / 1e9));
                // A distilled model's held-out closeness to its teacher (stylecam-train distill).
                let teacher = v
                    .metadata
                    .get("teacher_psnr_db")
                    .and_then(|p| p.parse::<f64>().ok())
                    .map_or_else(|| "-".to_string(), |p| format!("{p:.1} dB"));
                stylecam::outln!(
                    "{:<3} {:<24} {:<10} {:<16} {:>12} {:>9}  {:<5} {}",
                    num,
                    name,
                    s.preset_label(j),
                    v.architecture.as_deref().unwrap_or("?"),
                    gflop,
                    teacher,
                    if v.int8_calibrated() { "yes" } else { "-" },
                    v.path.display()
                )?;
            }
        }
    }
    // Which provider would run: load the first loadable style's lightest model on the requested
    // device. A model that fails to load is reported and skipped, not fatal to the listing.
    runtime::init(engine.ort_lib.as_deref())?;
    let opts = engine_options(engine);
    let loaded = found.iter().find_map(|s| {
        Stylizer::load(&s.variant(Preset::Fast).path, engine.device(), &opts)
            .inspect_err(|e| stylecam::note!("warning: skipping style '{}': {e}", s.name))
            .ok()
    });
    match loaded {
        Some(st) => stylecam::outln!("provider: {} (--device {})", st.provider(), engine.device())?,
        None => stylecam::outln!("provider: unknown until a loadable style is present")?,
    }
    Ok(ExitCode::SUCCESS)
}

fn live(engine: &EngineArgs, args: cli::live::LiveArgs) -> Result<ExitCode> {
    let mut opts = args.into_options();
    opts.models = engine.models.clone();
    opts.device = engine.device();
    opts.ort_lib = engine.ort_lib.clone();
    opts.engine = engine_options(engine);
    opts.arbitrary.dir = engine.arbitrary_dir.clone();
    let benchmark = opts.benchmark.is_some();
    // With --pipe, standard output carries only the video.
    let piping = opts.outputs.contains(&stylecam::sink::SinkKind::Y4mStdout);
    let summary = stylecam::live::run_live(opts, stop_on_ctrl_c()?)?;
    match (benchmark, piping) {
        (true, false) => println!("{summary}"),
        (true, true) => eprintln!("{summary}"),
        (false, _) => tracing::info!("{summary}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The stop flag of a long run (live view, videos): the first Ctrl-C or SIGTERM sets it and the
/// run finishes its outputs; a second one exits at once (130). Installed once, by the commands that
/// watch the flag, so the others keep the default Ctrl-C.
fn stop_on_ctrl_c() -> Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    ctrlc::set_handler(move || {
        if f.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        stylecam::note!("\nstopping: finishing the output (Ctrl-C or SIGTERM again to abort)");
    })
    .context("cannot install the Ctrl-C handler")?;
    Ok(flag)
}

fn cameras() -> Result<ExitCode> {
    let cams = stylecam::live::list_cameras()?;
    if cams.is_empty() {
        stylecam::outln!("no cameras found. Run without one: stylecam live --source testcard")?;
        return Ok(ExitCode::SUCCESS);
    }
    for cam in cams {
        stylecam::outln!("camera:{}  {}  {}", cam.index, cam.name, cam.description)?;
        if let Some(problem) = &cam.problem {
            stylecam::outln!("    (modes unavailable: {problem})")?;
        }
        for mode in &cam.modes {
            stylecam::outln!("    {mode}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn bench(engine: &EngineArgs, args: BenchArgs) -> Result<ExitCode> {
    use stylecam::bench::{self, BenchConfig, BenchModel};
    if let Some(path) = &args.write_model {
        bench::write_random_model(&args.arch, path)?;
        stylecam::note!(
            "wrote {} with random weights to {}",
            args.arch.label(),
            path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let model = match &args.style {
        _ if args.style_image.is_some() => BenchModel::Picture {
            path: args.style_image.clone().expect("checked"),
            options: args.picture.options(engine.arbitrary_dir.clone()),
        },
        Some(s) => {
            let models = styles::models_dir(engine.models.as_deref());
            // Auto follows --device; with --device auto it times the light variant.
            let preset = args.preset.map_or(Preset::Full, Preset::from);
            let (preset, _) = preset.start(engine.device());
            BenchModel::File(styles::resolve(s, &models, preset)?.path)
        }
        None => BenchModel::Random(args.arch),
    };
    let sizes = args.size.clone();
    runtime::init(engine.ort_lib.as_deref())?;
    let mut opts = engine_options(engine);
    opts.cpu_arena &= !args.no_cpu_arena;
    opts.memory_pattern |= args.memory_pattern;
    if args.session_options {
        let results = bench::session_option_sweep(
            &model,
            sizes[0],
            args.frames as usize,
            args.warmup as usize,
            &opts,
            &bench::sweep_variants(&opts),
        )?;
        if args.json {
            stylecam::outln!("{}", serde_json::to_string_pretty(&results)?)?;
        } else {
            stylecam::out!("{}", bench::format_sweep(&results))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let report = bench::run(&BenchConfig {
        model,
        sizes,
        frames: args.frames as usize,
        warmup: args.warmup as usize,
        device: engine.device(),
        engine: opts,
        profile: args.profile,
    })?;
    if args.json {
        stylecam::outln!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        stylecam::out!("{}", bench::format_table(&report))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Inputs handled as videos (by extension; other containers get a clear error from the reader).
/// Anything but a folder counts, so a missing or special `x.mp4` gets the video reader's message.
fn is_video_path(p: &std::path::Path) -> bool {
    const VIDEO_EXTENSIONS: &[&str] = &[
        "mp4", "m4v", "mov", "mkv", "webm", "avi", "flv", "ts", "m2ts", "mts", "ogv", "wmv", "asf",
    ];
    !p.is_dir()
        && p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}
