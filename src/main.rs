//! The `stylecam` binary: parse the command line, call the library, print errors.

mod cli;

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use tracing_subscriber::EnvFilter;

use cli::{Cli, Command, EngineArgs, StylesArgs, StylizeArgs};
use stylecam::batch::{self, OutputSpec, Resize};
use stylecam::engine::{runtime, EngineOptions, Stylizer};
use stylecam::styles;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("stylecam=info,warn")),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Stylize(args) => stylize(&cli.engine, args),
        Command::Styles(args) => list_styles(&cli.engine, args),
    }
}

fn engine_options(engine: &EngineArgs) -> EngineOptions {
    let mut opts = EngineOptions::default();
    if let Some(t) = engine.threads {
        opts.intra_threads = Some(t as usize);
    }
    opts
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
    let jobs = batch::plan(&args.inputs, &output)?;
    for job in &jobs {
        batch::prepare_output_dir(&job.output, matches!(output, OutputSpec::Dir { .. }))?;
    }
    let models = styles::models_dir(engine.models.as_deref());
    let style = styles::resolve(&args.style, &models)?;
    runtime::init(engine.ort_lib.as_deref())?;
    let mut stylizer = Stylizer::load(&style.path, engine.device, &engine_options(engine))?;
    tracing::info!(
        "style '{}' ({}) on {}",
        style.name,
        style.path.display(),
        stylizer.provider()
    );

    let mut failed = 0usize;
    for job in &jobs {
        let t0 = Instant::now();
        let result = batch::load_input(job, resize).and_then(|img| {
            let out = stylizer.stylize(&img)?;
            stylecam::sink::image_file::write_rgb(&out, &job.output)?;
            Ok(out.dimensions())
        });
        match result {
            Ok((w, h)) => eprintln!(
                "{} → {} ({w}×{h}, {:.0} ms)",
                job.input.display(),
                job.output.display(),
                t0.elapsed().as_secs_f64() * 1e3
            ),
            Err(e) => {
                failed += 1;
                eprintln!("error: {e}");
            }
        }
    }
    if failed > 0 {
        eprintln!("{failed} of {} inputs failed", jobs.len());
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn list_styles(engine: &EngineArgs, args: StylesArgs) -> Result<ExitCode> {
    let dir = styles::models_dir(engine.models.as_deref());
    let found = styles::discover(&dir)
        .with_context(|| format!("listing styles in {}", dir.display()))?;
    if args.names_only {
        for s in &found {
            println!("{}", s.name);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if found.is_empty() {
        println!("no styles in {} (train one with stylecam-train, or pass --models DIR)", dir.display());
    } else {
        println!("{:<3} {:<24} {:<16} FILE", "#", "NAME", "ARCHITECTURE");
        for (i, s) in found.iter().enumerate() {
            println!(
                "{:<3} {:<24} {:<16} {}",
                i + 1,
                s.name,
                s.architecture.as_deref().unwrap_or("?"),
                s.path.display()
            );
        }
    }
    // Which provider would run: load the first model on the requested device.
    runtime::init(engine.ort_lib.as_deref())?;
    match found.first() {
        Some(first) => {
            let st = Stylizer::load(&first.path, engine.device, &engine_options(engine))?;
            println!("provider: {} (--device {})", st.provider(), engine.device);
        }
        None => println!("provider: unknown until a style is present"),
    }
    Ok(ExitCode::SUCCESS)
}
