//! The arbitrary-style family (any picture as the style) end to end: through the library seam
//! and through `stylecam stylize` / `stylecam bench --style-image`, on tiny stand-ins for
//! Magenta's two networks written with the project's ONNX types (`common::arbitrary`), and on
//! the real networks' interface when `make setup` has installed them.

mod common;

use common::cli::{assert_clean_failure, test_image as photo, text};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use image::{Rgb, RgbImage};
use stylecam::engine::arbitrary::{ArbitraryNets, ArbitraryOptions, ContentSize};
use stylecam::engine::{DeviceChoice, EngineOptions, Family, ModelFactory, StyleModel};
use stylecam::styles::{Blend, StyleEntry};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stylecam"));
    c.env_remove("STYLECAM_MODELS")
        .env_remove("STYLECAM_TEACHER")
        .env("RUST_LOG", "warn");
    c
}

/// A "painting" of one dominant colour with some texture.
fn painting(w: u32, h: u32, colour: [u8; 3]) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let t = ((x * 13 + y * 7) % 40) as u8;
        Rgb(colour.map(|c| c.saturating_add(t)))
    })
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    nets: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let nets = root.join("nets");
        common::arbitrary::write_tiny_teacher(&nets);
        Fixture {
            _dir: dir,
            root,
            nets,
        }
    }

    fn save(&self, name: &str, img: &RgbImage) -> PathBuf {
        let p = self.root.join(name);
        img.save(&p).unwrap();
        p
    }

    fn options(&self) -> ArbitraryOptions {
        ArbitraryOptions {
            dir: Some(self.nets.clone()),
            ..ArbitraryOptions::default()
        }
    }

    fn factory(&self, opts: ArbitraryOptions) -> ModelFactory {
        stylecam::engine::runtime::init(None).unwrap();
        ModelFactory::new(DeviceChoice::Cpu, EngineOptions::default(), opts)
    }
}

fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    a.as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| (x as f64 - y as f64).abs())
        .sum::<f64>()
        / a.as_raw().len() as f64
}

#[test]
fn a_picture_styles_frames_of_any_size_through_the_seam() {
    let f = Fixture::new();
    let red = f.save("red.png", &painting(300, 200, [200, 30, 30]));
    let blue = f.save("blue.png", &painting(200, 300, [20, 40, 210]));
    let factory = f.factory(f.options());
    let mut by_red = factory.load(&StyleEntry::picture(&red)).unwrap();
    let mut by_blue = factory.load(&StyleEntry::picture(&blue)).unwrap();
    assert_eq!(by_red.family(), Family::Arbitrary);
    assert_eq!(by_red.name(), "red");
    // Odd sizes: padded to the network's multiple of 4 and cropped back.
    for (w, h) in [(50, 37), (64, 48), (9, 13)] {
        let input = photo(w, h);
        let a = by_red.stylize(&input).unwrap();
        let b = by_blue.stylize(&input).unwrap();
        assert_eq!(a.dimensions(), (w, h));
        assert!(mean_abs_diff(&a, &input) > 5.0, "{w}×{h}: not stylized");
        assert!(
            mean_abs_diff(&a, &b) > 3.0,
            "{w}×{h}: two paintings gave the same picture"
        );
    }
    // The same picture again comes from the cache and gives the same output.
    let mut again = factory.load(&StyleEntry::picture(&red)).unwrap();
    let input = photo(40, 30);
    assert_eq!(
        again.stylize(&input).unwrap(),
        by_red.stylize(&input).unwrap()
    );
}

#[test]
fn strength_interpolates_embeddings_and_zero_is_the_photos_own_style() {
    let f = Fixture::new();
    let input = photo(64, 48);
    let own = f.save("own.png", &input);
    let red = f.save("red.png", &painting(256, 256, [200, 30, 30]));
    let run = |picture: &Path, strength: f32| {
        let factory = f.factory(ArbitraryOptions {
            strength,
            ..f.options()
        });
        let mut m = factory.load(&StyleEntry::picture(picture)).unwrap();
        m.stylize(&input).unwrap()
    };
    let zero = run(&red, 0.0);
    let self_styled = run(&own, 1.0);
    assert!(
        mean_abs_diff(&zero, &self_styled) < 0.5,
        "strength 0 = the photo's own style"
    );
    let full = run(&red, 1.0);
    assert!(mean_abs_diff(&full, &zero) > 5.0);
    // 0.5 runs the network with the two embeddings' midpoint (Magenta's way), not a pixel fade.
    let half = run(&red, 0.5);
    let nets = Arc::new(
        ArbitraryNets::load(&f.options(), DeviceChoice::Cpu, &EngineOptions::default()).unwrap(),
    );
    let style = nets.embed_file(&red, 256).unwrap();
    let photo_own = nets.embed_image(&input, 256).unwrap();
    let mid = stylecam::net::arbitrary::blend_embeddings(&style, &photo_own, 0.5);
    let mut by_mid = stylecam::engine::arbitrary::ArbitraryStylizer::with_embedding(
        nets,
        "mid".into(),
        mid,
        &f.options(),
        &EngineOptions::default(),
    )
    .unwrap();
    assert_eq!(half, by_mid.stylize(&input).unwrap());
    assert!(mean_abs_diff(&half, &full) > 1.0 && mean_abs_diff(&half, &zero) > 1.0);
}

#[test]
fn a_morph_blends_two_pictures_styles() {
    let f = Fixture::new();
    let red = f.save("red.png", &painting(256, 256, [200, 30, 30]));
    let blue = f.save("blue.png", &painting(256, 256, [20, 40, 210]));
    let factory = f.factory(f.options());
    let input = photo(48, 48);
    let at = |t: f32| {
        let mut e = StyleEntry::picture(&red);
        e.blend = Some(Blend {
            with: blue.clone(),
            t,
        });
        factory.load(&e).unwrap().stylize(&input).unwrap()
    };
    let (a, mid, b) = (at(0.0), at(0.5), at(1.0));
    let only_red = factory
        .load(&StyleEntry::picture(&red))
        .unwrap()
        .stylize(&input)
        .unwrap();
    let only_blue = factory
        .load(&StyleEntry::picture(&blue))
        .unwrap()
        .stylize(&input)
        .unwrap();
    assert_eq!(a, only_red, "t = 0 is the first picture");
    assert_eq!(b, only_blue, "t = 1 is the second");
    assert!(mean_abs_diff(&mid, &a) > 1.0 && mean_abs_diff(&mid, &b) > 1.0);
}

#[test]
fn the_384_and_rescale_way_runs_small_and_scales_back() {
    let f = Fixture::new();
    let red = f.save("red.png", &painting(256, 256, [200, 30, 30]));
    let input = photo(160, 120);
    let native = f
        .factory(f.options())
        .load(&StyleEntry::picture(&red))
        .unwrap()
        .stylize(&input)
        .unwrap();
    let small = f
        .factory(ArbitraryOptions {
            content_size: ContentSize::LongerSide(40),
            ..f.options()
        })
        .load(&StyleEntry::picture(&red))
        .unwrap()
        .stylize(&input)
        .unwrap();
    assert_eq!(small.dimensions(), (160, 120));
    // The small way loses the photo's fine detail: less Laplacian energy (the test photo's
    // hard edges are in its blue channel).
    let edges = |img: &RgbImage| -> f64 {
        let p = |x: u32, y: u32| img.get_pixel(x, y)[2] as f64;
        let mut s = 0.0;
        for y in 1..img.height() - 1 {
            for x in 1..img.width() - 1 {
                s += (4.0 * p(x, y) - p(x - 1, y) - p(x + 1, y) - p(x, y - 1) - p(x, y + 1)).abs();
            }
        }
        s
    };
    assert!(
        edges(&small) < 0.8 * edges(&native),
        "rescaled {} vs native {}",
        edges(&small),
        edges(&native)
    );
}

#[test]
fn stylize_with_a_style_image_writes_images_and_videos_at_their_size() {
    use stylecam::video::writer::{VideoWriter, VideoWriterOptions};
    let f = Fixture::new();
    let red = f.save("red.png", &painting(256, 256, [200, 30, 30]));
    let input = f.save("photo.png", &photo(50, 38));
    let out = f.root.join("out.png");
    let o = bin()
        .args(["stylize", "--style-image"])
        .arg(&red)
        .arg("--arbitrary-dir")
        .arg(&f.nets)
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let styled = image::open(&out).unwrap().to_rgb8();
    assert_eq!(styled.dimensions(), (50, 38));
    assert!(mean_abs_diff(&styled, &photo(50, 38)) > 5.0);

    let clip = f.root.join("clip.mp4");
    let mut w = VideoWriter::create(&clip, 64, 48, &VideoWriterOptions::default(), None).unwrap();
    for i in 0..5u32 {
        let mut frame = photo(64, 48);
        frame.put_pixel(i * 8, 10, Rgb([255, 255, 255]));
        w.write(&frame, std::time::Duration::from_millis(i as u64 * 40))
            .unwrap();
    }
    w.finish(Some(std::time::Duration::from_millis(40)))
        .unwrap();
    let out = f.root.join("clip_red.mp4");
    let o = bin()
        .args(["stylize", "--strength", "0.7", "--style-image"])
        .arg(&red)
        .arg("--arbitrary-dir")
        .arg(&f.nets)
        .arg(&clip)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let info = stylecam::video::reader::VideoReader::open(&out)
        .unwrap()
        .info();
    assert_eq!((info.width, info.height, info.frame_count), (64, 48, 5));
}

#[test]
fn bad_style_pictures_and_missing_networks_are_clear_errors() {
    let f = Fixture::new();
    let input = f.save("photo.png", &photo(32, 32));
    let out = f.root.join("o.png");
    let stylize = |picture: &Path, nets: &Path| {
        bin()
            .args(["stylize", "--style-image"])
            .arg(picture)
            .arg("--arbitrary-dir")
            .arg(nets)
            .arg(&input)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap()
    };
    let text_file = f.root.join("notes.jpg");
    std::fs::write(&text_file, "not a picture").unwrap();
    assert_clean_failure(
        &stylize(&text_file, &f.nets),
        &["notes.jpg", "style picture"],
    );
    let tiny = f.save("tiny.png", &painting(8, 8, [1, 2, 3]));
    assert_clean_failure(&stylize(&tiny, &f.nets), &["8×8", "too small"]);
    let video = f.root.join("clip.mp4");
    std::fs::write(&video, b"\0\0\0\x18ftypisom").unwrap();
    assert_clean_failure(&stylize(&video, &f.nets), &["clip.mp4", "take a frame"]);
    let missing = f.root.join("missing.png");
    assert_clean_failure(&stylize(&missing, &f.nets), &["missing.png"]);
    let red = f.save("red.png", &painting(64, 64, [200, 30, 30]));
    assert_clean_failure(
        &stylize(&red, &f.root.join("nowhere")),
        &["arbitrary_transform.onnx", "make setup"],
    );
    assert!(!out.exists(), "a failed run wrote an output");
    // --style and --style-image are alternatives; one is needed.
    let o = bin()
        .args(["stylize", "x.png", "-o", "y.png"])
        .output()
        .unwrap();
    assert_clean_failure(&o, &["--style"]);
    let o = bin()
        .args(["stylize", "--style-size", "10", "--style-image"])
        .arg(&red)
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_clean_failure(&o, &["--style-size", "64"]);
}

#[test]
fn bench_times_a_style_picture() {
    let f = Fixture::new();
    let red = f.save("red.png", &painting(64, 64, [200, 30, 30]));
    let o = bin()
        .args(["--device", "cpu", "bench", "--frames", "2", "--warmup", "1"])
        .args(["--size", "64x48", "--json", "--style-image"])
        .arg(&red)
        .arg("--arbitrary-dir")
        .arg(&f.nets)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["architecture"], "magenta-arbitrary");
    assert_eq!(report["sizes"][0]["width"], 64);
    assert!(report["sizes"][0]["fps"].as_f64().unwrap() > 0.0);
}

/// The real networks (installed by `make setup`): names, shapes and value range, at a webcam's
/// size and at an odd one, and a style picture changes the frame.
#[test]
fn the_installed_networks_style_frames_at_their_own_size() {
    let opts = ArbitraryOptions::default();
    if let Err(e) = stylecam::net::arbitrary::locate(None) {
        eprintln!("SKIPPED: Magenta's networks are not installed here ({e})");
        return;
    }
    stylecam::engine::runtime::init(None).unwrap();
    let engine = EngineOptions {
        intra_threads: Some(2),
        ..EngineOptions::default()
    };
    let nets = Arc::new(ArbitraryNets::load(&opts, DeviceChoice::Cpu, &engine).unwrap());
    assert!(nets.pinned(), "not the pinned wheel's files");
    let emb = nets
        .embed_image(&painting(300, 200, [200, 120, 30]), 256)
        .unwrap();
    assert_eq!(emb.len(), 100);
    assert!(emb.iter().all(|v| v.is_finite()));
    let mut m = stylecam::engine::arbitrary::ArbitraryStylizer::with_embedding(
        nets,
        "orange".into(),
        emb,
        &opts,
        &engine,
    )
    .unwrap();
    for (w, h) in [(640, 480), (101, 77)] {
        let input = photo(w, h);
        let out = m.stylize(&input).unwrap();
        assert_eq!(out.dimensions(), (w, h));
        assert!(
            mean_abs_diff(&out, &input) > 10.0,
            "{w}×{h}: the output is too close to the photo"
        );
    }
}

/// The transformer stylecam runs on the CPU (rebuilt with its own operators, sub-pixel
/// upsampling and a phase-split first layer: `net::arbitrary::lowered`) computes the picture the
/// file's graph computes, at a webcam's size and at odd ones (the frame is reflect-padded to a
/// multiple of 4 and cropped back).
#[test]
fn the_lowered_transformer_paints_what_the_files_graph_paints() {
    let opts = ArbitraryOptions::default();
    if let Err(e) = stylecam::net::arbitrary::locate(None) {
        eprintln!("SKIPPED: Magenta's networks are not installed here ({e})");
        return;
    }
    stylecam::engine::runtime::init(None).unwrap();
    let run = |graph: stylecam::engine::CpuGraph, input: &RgbImage| {
        let engine = EngineOptions {
            intra_threads: Some(2),
            cpu_graph: graph,
            ..EngineOptions::default()
        };
        let nets = Arc::new(ArbitraryNets::load(&opts, DeviceChoice::Cpu, &engine).unwrap());
        let emb = nets
            .embed_image(&painting(300, 200, [40, 90, 200]), 256)
            .unwrap();
        let mut m = stylecam::engine::arbitrary::ArbitraryStylizer::with_embedding(
            nets,
            "blue".into(),
            emb,
            &opts,
            &engine,
        )
        .unwrap();
        m.stylize(input).unwrap()
    };
    for (w, h) in [(640, 480), (101, 77), (64, 250)] {
        let input = photo(w, h);
        let lowered = run(stylecam::engine::CpuGraph::Auto, &input);
        let stored = run(stylecam::engine::CpuGraph::Reference, &input);
        let worst = lowered
            .as_raw()
            .iter()
            .zip(stored.as_raw())
            .map(|(&a, &b)| a.abs_diff(b))
            .max()
            .unwrap();
        let mean = mean_abs_diff(&lowered, &stored);
        assert!(
            mean < 0.05 && worst <= 2,
            "{w}×{h}: lowered vs stored graph: mean |diff| {mean:.4}, max {worst} levels"
        );
        assert!(
            mean_abs_diff(&lowered, &input) > 10.0,
            "{w}×{h}: not stylized"
        );
    }
}

/// `--content-size` takes auto, native or a longer side, and says so when given anything else.
#[test]
fn content_size_values_and_a_bad_one() {
    let f = Fixture::new();
    let style = f.save("red.png", &painting(64, 64, [200, 30, 30]));
    let photo_path = f.save("photo.png", &photo(96, 64));
    for (value, name) in [
        ("auto", "auto.png"),
        ("native", "native.png"),
        ("48", "n48.png"),
    ] {
        let out = f.root.join(name);
        let o = bin()
            .args([
                "--arbitrary-dir",
                f.nets.to_str().unwrap(),
                "stylize",
                "--style-image",
            ])
            .arg(&style)
            .args(["--content-size", value])
            .arg(&photo_path)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{value}: {}", text(&o));
        assert_eq!(
            image::open(&out).unwrap().into_rgb8().dimensions(),
            (96, 64)
        );
    }
    let o = bin()
        .args(["stylize", "--style-image"])
        .arg(&style)
        .args(["--content-size", "huge"])
        .arg(&photo_path)
        .args(["-o", "/dev/null"])
        .output()
        .unwrap();
    assert_clean_failure(
        &o,
        &["`huge`", "auto, native or a longer side of 16..=8192"],
    );
}

/// `gallery --style-image` adds a column per picture (here without trained styles: only the
/// pictures' columns), each stylized, not a copy of the photo.
#[test]
fn gallery_draws_a_column_per_style_picture() {
    let f = Fixture::new();
    let red = f.save("red.png", &painting(64, 64, [200, 30, 30]));
    let blue = f.save("blue.png", &painting(64, 64, [30, 30, 200]));
    let photo_path = f.save("photo.png", &photo(96, 64));
    let sheet = |pictures: &[&Path], name: &str| {
        let out = f.root.join(name);
        let mut c = bin();
        c.args(["--arbitrary-dir", f.nets.to_str().unwrap(), "gallery"])
            .arg(&photo_path)
            .args(["--cell", "64", "--out"])
            .arg(&out);
        for p in pictures {
            c.arg("--style-image").arg(p);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
        image::open(&out).unwrap().into_rgb8()
    };
    let one = sheet(&[&red], "one.png");
    let two = sheet(&[&red, &blue], "two.png");
    let step = two.width() - one.width();
    assert_eq!(step, 64 + stylecam::gallery::GAP, "one more 64-px column");
    // The last column of `two` (blue) differs from the one before it (red).
    let y = two.height() - stylecam::gallery::GAP - 20;
    let x_blue = two.width() - stylecam::gallery::GAP - 32;
    let (r, b) = (two.get_pixel(x_blue - step, y), two.get_pixel(x_blue, y));
    assert!(
        b.0[2] as i32 - r.0[2] as i32 > 20,
        "blue column {b:?} vs red {r:?}"
    );
}
