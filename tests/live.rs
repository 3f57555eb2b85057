//! The live view, driven like a user would: a real window on a private Xvfb display, real key
//! events from xdotool, and assertions on screenshots of the window (ImageMagick `import`).
//!
//! Needs Xvfb, xdotool and ImageMagick (the Makefile installs them).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use image::RgbImage;
use stylecam::net::onnx::{random_weights, write_model, ModelMetadata};
use stylecam::net::ImfwArch;

#[path = "common/arbitrary.rs"]
mod arbitrary;

/// A private X server, killed when dropped.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    /// Starts Xvfb on a display number it picks itself (`-displayfd`), so parallel tests and
    /// other X servers never collide.
    fn start() -> Xvfb {
        let dir = tempfile::tempdir().unwrap();
        let number_file = dir.path().join("display");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "exec Xvfb -displayfd 3 -screen 0 1024x768x24 -nolisten tcp 3>'{}'",
                number_file.display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sh");
        let t = Instant::now();
        loop {
            let n = std::fs::read_to_string(&number_file).unwrap_or_default();
            if n.ends_with('\n') {
                return Xvfb {
                    child,
                    display: format!(":{}", n.trim()),
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("Xvfb exited ({status}); it must be installed for the live-view tests (make setup)");
            }
            assert!(t.elapsed() < Duration::from_secs(20), "Xvfb did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `stylecam live` on CPU with one intra-op thread per session (the tests run side by side; the
/// default `--workers auto` runs two sessions on the CPU, so the tests below drive that path).
fn live_command() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stylecam"));
    c.args(["live", "--device", "cpu", "--threads", "1"]);
    c
}

/// Two generated styles (small random-weight ImfwNets) in a fresh models folder.
fn models(dir: &Path) -> PathBuf {
    let m = dir.join("models");
    std::fs::create_dir_all(&m).unwrap();
    for (seed, name) in [(11, "first"), (23, "second")] {
        let arch = ImfwArch::new(8, 1);
        let bytes = write_model(
            &arch,
            &random_weights(&arch, seed),
            &ModelMetadata::new(name),
        )
        .unwrap();
        std::fs::write(m.join(format!("{name}.onnx")), bytes).unwrap();
    }
    m
}

struct App {
    child: Child,
    window: String,
    display: String,
}

/// A models folder where style "first" comes in two sizes (w8-b1 full, w4-b1 light; the file
/// names say nothing) and "second" in one.
fn variant_models(dir: &Path) -> PathBuf {
    let m = dir.join("models");
    std::fs::create_dir_all(&m).unwrap();
    for (seed, name, arch, file) in [
        (11, "first", ImfwArch::new(8, 1), "a.onnx"),
        (12, "first", ImfwArch::new(4, 1), "b.onnx"),
        (23, "second", ImfwArch::new(8, 1), "c.onnx"),
    ] {
        let bytes = write_model(
            &arch,
            &random_weights(&arch, seed),
            &ModelMetadata::new(name),
        )
        .unwrap();
        std::fs::write(m.join(file), bytes).unwrap();
    }
    m
}

impl App {
    fn start(x: &Xvfb, dir: &Path, extra: &[&str]) -> App {
        let models = models(dir);
        App::start_with(x, dir, &models, extra, "warn")
    }

    /// Starts `stylecam live` on `models` with `RUST_LOG=rust_log`; stderr goes to
    /// `dir/stderr.txt`.
    fn start_with(x: &Xvfb, dir: &Path, models: &Path, extra: &[&str], rust_log: &str) -> App {
        let mut cmd = live_command();
        cmd.args(["--models", models.to_str().unwrap()])
            .args(["--out-dir", dir.join("out").to_str().unwrap()])
            .args(extra)
            .env("DISPLAY", &x.display)
            .env("RUST_LOG", rust_log)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("stderr.txt")).unwrap());
        let mut child = cmd.spawn().unwrap();
        let t = Instant::now();
        loop {
            let out = Command::new("xdotool")
                .args(["search", "--name", "^stylecam$"])
                .env("DISPLAY", &x.display)
                .output()
                .expect("xdotool must be installed for the live-view tests");
            let id = String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .map(str::to_string);
            if let Some(window) = id {
                return App {
                    child,
                    window,
                    display: x.display.clone(),
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                let err = std::fs::read_to_string(dir.join("stderr.txt")).unwrap_or_default();
                panic!("stylecam live exited before opening its window: {status}\n{err}");
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "no window after 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let ok = Command::new("xdotool")
                .args(["key", "--window", &self.window, k])
                .env("DISPLAY", &self.display)
                .stderr(Stdio::null())
                .status()
                .unwrap()
                .success();
            assert!(ok, "xdotool key {k}");
        }
    }

    fn grab(&self) -> RgbImage {
        let out = Command::new("import")
            .args(["-window", &self.window, "png:-"])
            .env("DISPLAY", &self.display)
            .output()
            .expect("ImageMagick's import must be installed for the live-view tests");
        assert!(
            out.status.success(),
            "import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        image::load_from_memory(&out.stdout).unwrap().into_rgb8()
    }

    /// Screenshots until two in a row 300 ms apart are identical and `accept` holds.
    fn settled(&self, what: &str, accept: impl Fn(&RgbImage) -> bool) -> RgbImage {
        let t = Instant::now();
        let mut prev = self.grab();
        loop {
            std::thread::sleep(Duration::from_millis(300));
            let next = self.grab();
            if next == prev && accept(&next) {
                return next;
            }
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "the window never settled: {what}"
            );
            prev = next;
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Mean absolute difference per channel (0…255) over a region.
fn mean_diff(a: &RgbImage, b: &RgbImage, x0: u32, x1: u32) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let mut sum = 0u64;
    let mut n = 0u64;
    for y in 0..a.height() {
        for x in x0..x1 {
            for c in 0..3 {
                sum += (a.get_pixel(x, y)[c] as i32 - b.get_pixel(x, y)[c] as i32).unsigned_abs()
                    as u64;
                n += 1;
            }
        }
    }
    sum as f64 / n as f64
}

/// Starts the live view on the test card, freezes the input (Space) and returns the app with
/// screenshots of the frozen frame in the original view (O) and stylised (once the style ran).
fn start_paused(x: &Xvfb, dir: &Path) -> (App, RgbImage, RgbImage) {
    let app = App::start(
        x,
        dir,
        &["--source", "testcard", "--no-overlay", "--source-fps", "15"],
    );
    let (original, stylized) = pause(&app);
    (app, original, stylized)
}

/// Freezes the input (Space) and returns screenshots of the frozen frame in the original view
/// (O) and stylised (once the style ran).
fn pause(app: &App) -> (RgbImage, RgbImage) {
    app.keys(&["space", "o"]);
    let original = app.settled("paused original view", |_| true);
    app.keys(&["o"]);
    let stylized = steady(app, "paused stylised view", |img| img != &original);
    (original, stylized)
}

/// [`App::settled`], then waits until the picture has stayed the same for a full second
/// (inference may still finish a frame that was queued at the pause).
fn steady(app: &App, what: &str, accept: impl Fn(&RgbImage) -> bool) -> RgbImage {
    let mut shown = app.settled(what, &accept);
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let again = app.settled(what, &accept);
        if again == shown {
            return shown;
        }
        shown = again;
    }
}

#[test]
fn views_strength_split_and_style_keys_change_the_window_as_expected() {
    let x = Xvfb::start();
    let dir = tempfile::tempdir().unwrap();
    let (app, original, stylized) = start_paused(&x, dir.path());
    assert_eq!(
        stylized.dimensions(),
        (640, 480),
        "the window shows the 640×480 card 1:1"
    );
    assert!(
        mean_diff(&stylized, &original, 0, 640) > 20.0,
        "the stylised picture differs clearly from the original"
    );

    // Strength down to 0 %: exactly the original.
    app.keys(&["minus"; 10]);
    let zero = app.settled("strength 0", |img| img != &stylized);
    assert_eq!(
        mean_diff(&zero, &original, 0, 640),
        0.0,
        "strength 0 % shows the original"
    );
    app.keys(&["plus"; 5]);
    let half = app.settled("strength 50", |img| img != &zero);
    let (d_orig, d_styl) = (
        mean_diff(&half, &original, 0, 640),
        mean_diff(&half, &stylized, 0, 640),
    );
    assert!(
        d_orig > 5.0 && d_styl > 5.0,
        "50 % is between the two ({d_orig}, {d_styl})"
    );
    app.keys(&["plus"; 5]);
    app.settled("strength 100", |img| img == &stylized);

    // Split view: original on the left half, stylised on the right.
    app.keys(&["s"]);
    let split = app.settled("split view", |img| img != &stylized);
    assert_eq!(
        mean_diff(&split, &original, 0, 310),
        0.0,
        "left of the split is the original"
    );
    assert_eq!(
        mean_diff(&split, &stylized, 330, 640),
        0.0,
        "right of the split is stylised"
    );
    app.keys(&["bracketright"; 4]); // split moves right by 20 %
    let moved = app.settled("split moved", |img| img != &split);
    assert_eq!(
        mean_diff(&moved, &original, 0, 430),
        0.0,
        "the split moved right"
    );
    app.keys(&["s"]);
    app.settled("split off", |img| img == &stylized);

    // Style 2: a different picture, still not the original.
    app.keys(&["2"]);
    let second = app.settled("second style", |img| img != &stylized);
    assert!(
        mean_diff(&second, &stylized, 0, 640) > 20.0,
        "style 2 looks different"
    );
    assert!(
        mean_diff(&second, &original, 0, 640) > 20.0,
        "style 2 is not the original"
    );
    app.keys(&["1"]);
    app.settled("first style again", |img| img == &stylized);
}

#[test]
fn l_switches_the_style_between_its_light_and_full_variant() {
    let x = Xvfb::start();
    let dir = tempfile::tempdir().unwrap();
    let models = variant_models(dir.path());
    let app = App::start_with(
        &x,
        dir.path(),
        &models,
        &["--source", "testcard", "--no-overlay", "--source-fps", "15"],
        "stylecam=info",
    );
    let log = || std::fs::read_to_string(dir.path().join("stderr.txt")).unwrap_or_default();
    // --preset auto (the default) on --device cpu: the light variant.
    let (original, fast) = pause(&app);
    assert!(
        log().contains("style 'first' w4-b1 (fast)"),
        "starts on the light variant:\n{}",
        log()
    );

    app.keys(&["l"]);
    let full = steady(&app, "full variant", |img| img != &fast);
    assert!(
        mean_diff(&full, &fast, 0, 640) > 5.0,
        "the full variant paints another picture"
    );
    assert!(mean_diff(&full, &original, 0, 640) > 5.0, "still stylised");
    assert!(
        log().contains("first  w8-b1 (full)"),
        "L names the variant:\n{}",
        log()
    );
    app.keys(&["l"]);
    app.settled("light variant again", |img| img == &fast);

    // Style changes keep the choice: full on "first", "second" (one variant), then "first" full.
    app.keys(&["l"]);
    app.settled("full variant again", |img| img == &full);
    app.keys(&["2"]);
    let second = steady(&app, "second style", |img| img != &full);
    assert!(mean_diff(&second, &full, 0, 640) > 5.0);
    app.keys(&["l"]);
    assert!(
        app.settled("one variant: L changes nothing", |_| true) == second,
        "a style of one variant stays as it is"
    );
    app.keys(&["1"]);
    app.settled("first style, still full", |img| img == &full);
}

#[test]
fn screenshot_matches_the_window_and_q_quits_promptly() {
    let x = Xvfb::start();
    let dir = tempfile::tempdir().unwrap();
    let (mut app, _original, stylized) = start_paused(&x, dir.path());
    app.keys(&["p"]);
    let out = dir.path().join("out");
    let t = Instant::now();
    let shot = loop {
        let pngs: Vec<PathBuf> = std::fs::read_dir(&out)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        if let Some(p) = pngs
            .iter()
            .find(|p| p.extension().is_some_and(|e| e == "png"))
        {
            break p.clone();
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "P wrote no PNG into --out-dir"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let name = shot.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        name.starts_with("stylecam-") && name.len() > "stylecam-20240101-000000.png".len() - 1,
        "{name}"
    );
    let png = image::open(&shot).unwrap().into_rgb8();
    assert_eq!(png.dimensions(), stylized.dimensions());
    assert_eq!(
        mean_diff(&png, &stylized, 0, 640),
        0.0,
        "the screenshot is what the window shows"
    );

    // xdotool may report an error when the window vanishes under it: only the exit counts.
    let _ = Command::new("xdotool")
        .args(["key", "--window", &app.window, "q"])
        .env("DISPLAY", &app.display)
        .stderr(Stdio::null())
        .status();
    let t = Instant::now();
    let status = loop {
        if let Some(s) = app.child.try_wait().unwrap() {
            break s;
        }
        // A hang bound, not a speed test (a loaded machine may take a while to quit).
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "q did not quit within 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "q exits with status 0, got {status}");
}

#[test]
fn without_a_camera_the_default_source_shows_the_test_card_with_a_banner() {
    let x = Xvfb::start();
    let dir = tempfile::tempdir().unwrap();
    // Camera 63 exists nowhere, so the fallback shows here even on a machine with a camera
    // (`auto` is `auto:0`, the same path with camera 0).
    let app = App::start(&x, dir.path(), &["--no-overlay", "--source", "auto:63"]);
    // The banner: a dark red bar across the bottom of the frame.
    let banner_rows = |img: &RgbImage| {
        (0..img.height())
            .filter(|&y| {
                (0..img.width())
                    .filter(|&x| img.get_pixel(x, y).0 == [0x90, 0x10, 0x10])
                    .count()
                    > 300
            })
            .count()
    };
    let t = Instant::now();
    loop {
        let img = app.grab();
        let rows = banner_rows(&img);
        if rows >= 10 {
            // And the test card is running behind it: the picture changes.
            std::thread::sleep(Duration::from_millis(300));
            assert_ne!(app.grab(), img, "the test card is animated");
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "no NO CAMERA banner visible ({rows} rows)"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs `stylecam live` with two generated styles and `args`, expects it to fail without a
/// panic, and returns its stderr.
fn live_error(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let models = models(dir.path());
    let out = live_command()
        .args(["--models", models.to_str().unwrap()])
        .args(args)
        .env("DISPLAY", ":0")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn an_explicit_camera_that_is_missing_is_a_clear_error() {
    // Camera 63 exists nowhere: this runs the same on machines with and without a camera.
    let err = live_error(&["--source", "camera:63"]);
    assert!(
        err.contains("--source testcard"),
        "names the way out: {err}"
    );
}

#[test]
fn smoothing_with_two_workers_is_refused_with_the_way_out() {
    let err = live_error(&["--source", "testcard", "--workers", "2", "--smooth", "0.5"]);
    assert!(
        err.contains("--smooth") && err.contains("--workers 1"),
        "says which flags clash and what to use: {err}"
    );
}

/// A red "painting" at `dir/red.png`.
fn red_picture(dir: &Path) -> PathBuf {
    let red = dir.join("red.png");
    RgbImage::from_fn(64, 64, |x, y| image::Rgb([200, ((x + y) % 40) as u8, 30]))
        .save(&red)
        .unwrap();
    red
}

/// The live view on the test card with `pictures` as its only styles (tiny networks), overlay
/// off, logging at info.
fn picture_app(x: &Xvfb, dir: &Path, pictures: &[&Path]) -> App {
    let nets = dir.join("nets");
    arbitrary::write_tiny_teacher(&nets);
    let empty = dir.join("no-models");
    std::fs::create_dir_all(&empty).unwrap();
    let mut args: Vec<String> = ["--source", "testcard", "--no-overlay", "--source-fps", "15"]
        .map(String::from)
        .to_vec();
    for p in pictures {
        args.extend(["--style-image".into(), p.display().to_string()]);
    }
    args.extend(["--arbitrary-dir".into(), nets.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    App::start_with(x, dir, &empty, &args, "info")
}

/// Pictures as styles (tiny stand-ins for Magenta's networks): G grabs the frozen camera frame
/// as a style (saved as a PNG), M morphs between the two latest pictures, and + moves the morph
/// all the way to the second picture, which then looks exactly like that picture's style.
#[test]
fn g_grabs_the_frame_as_a_style_and_m_morphs_between_pictures() {
    let x = Xvfb::start();
    let d = tempfile::tempdir().unwrap();
    let red = red_picture(d.path());
    let app = picture_app(&x, d.path(), &[&red]);
    let (original, by_red) = pause(&app);
    assert!(mean_diff(&original, &by_red, 0, original.width()) > 3.0);

    app.keys(&["g"]);
    let by_grab = steady(&app, "the grabbed style", |img| img != &by_red);
    let out = d.path().join("out");
    let grabs: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains("stylecam-grab-"))
        .collect();
    assert_eq!(grabs.len(), 1, "one grab saved in --out-dir: {grabs:?}");
    let grabbed = image::open(&grabs[0]).unwrap().into_rgb8();
    assert_eq!(grabbed.dimensions(), (640, 480), "the camera frame itself");

    app.keys(&["m"]);
    let morph = steady(&app, "the morph", |img| img != &by_grab);
    let w = original.width();
    assert!(mean_diff(&morph, &by_red, 0, w) > 0.5 && mean_diff(&morph, &by_grab, 0, w) > 0.5);
    // Halfway → all the way to the grab (the second picture): 5 steps of 10 %.
    app.keys(&["plus", "plus", "plus", "plus", "plus"]);
    steady(&app, "the morph at the grab's end", |img| img == &by_grab);
    let log = std::fs::read_to_string(d.path().join("stderr.txt")).unwrap();
    assert!(log.contains("grabbed:") && log.contains("morph"), "{log}");
}

/// A style picture that cannot be read is an error on the overlay (and in the log), and the
/// view keeps running: the next picture stylizes.
#[test]
fn an_unreadable_style_picture_is_reported_and_the_view_goes_on() {
    let x = Xvfb::start();
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("broken.jpg");
    std::fs::write(&bad, "not a picture").unwrap();
    let red = red_picture(d.path());
    let app = picture_app(&x, d.path(), &[&bad, &red]);
    app.keys(&["space", "o"]);
    let original = app.settled("paused original view", |_| true);
    app.keys(&["o", "Right"]);
    steady(&app, "the next picture's style", |img| img != &original);
    let log = std::fs::read_to_string(d.path().join("stderr.txt")).unwrap();
    assert!(
        log.contains("cannot load style broken") && log.contains("style picture"),
        "{log}"
    );
}

/// Frames in `path` as our reader sees it now (0 while the file has no complete fragment).
fn recorded_frames(path: &Path) -> usize {
    stylecam::video::VideoReader::open(path).map_or(0, |r| r.info().frame_count)
}

/// Waits (hang bound 60 s) until `path` holds at least `n` frames.
fn wait_for_frames(app: &mut App, path: &Path, n: usize) {
    let t = Instant::now();
    while recorded_frames(path) < n {
        assert!(
            app.child.try_wait().unwrap().is_none(),
            "stylecam live exited while recording"
        );
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "fewer than {n} frames recorded after 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `--record` from the start, then a pause with a style change (the paused frame is shown
/// again, restyled, with the capture time it already had), R to stop, R to start a second file
/// in the output folder, and Q: both files are complete MP4s whose frames have strictly
/// increasing timestamps.
#[test]
fn recording_from_the_live_view_survives_pause_and_style_change() {
    let x = Xvfb::start();
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec.mp4");
    let mut app = App::start(
        &x,
        dir.path(),
        &[
            "--source",
            "testcard",
            "--no-overlay",
            "--record",
            rec.to_str().unwrap(),
        ],
    );
    wait_for_frames(&mut app, &rec, 5);
    app.keys(&["space"]);
    std::thread::sleep(Duration::from_millis(300));
    app.keys(&["Right"]);
    std::thread::sleep(Duration::from_millis(300));
    app.keys(&["space"]);
    let before = recorded_frames(&rec);
    wait_for_frames(&mut app, &rec, before + 5);
    app.keys(&["r"]); // stop the --record file
    std::thread::sleep(Duration::from_millis(500));
    app.keys(&["r"]); // a second recording, named by the live view, in --out-dir
    let out = dir.path().join("out");
    let t = Instant::now();
    let second = loop {
        let found = std::fs::read_dir(&out).ok().and_then(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|e| e == "mp4"))
        });
        if let Some(p) = found {
            break p;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "R started no recording in {out:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    wait_for_frames(&mut app, &second, 5);
    app.keys(&["q"]);
    let t = Instant::now();
    let status = loop {
        if let Some(s) = app.child.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(60), "q did not quit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    for file in [&rec, &second] {
        let mut reader = stylecam::video::VideoReader::open(file).unwrap();
        let info = reader.info();
        assert!(!info.truncated_tail, "{file:?} was not finalized");
        assert!(
            info.frame_count >= 5,
            "{file:?}: {} frames",
            info.frame_count
        );
        let mut last = None;
        while let Some(f) = reader.next_frame().unwrap() {
            if let Some(prev) = last {
                assert!(
                    f.pts_ticks > prev,
                    "{file:?}: a timestamp repeats or goes back"
                );
            }
            last = Some(f.pts_ticks);
        }
    }
}

#[test]
fn headless_without_an_output_is_refused_with_the_choices() {
    let err = live_error(&["--source", "testcard", "--no-window"]);
    assert!(
        err.contains("--pipe y4m") && err.contains("--virtual-cam"),
        "{err}"
    );
}

#[test]
fn a_missing_virtual_camera_names_the_modprobe_line() {
    let err = live_error(&[
        "--source",
        "testcard",
        "--virtual-cam",
        "/dev/video-stylecam-missing",
    ]);
    assert!(err.contains("modprobe v4l2loopback"), "{err}");
}

/// `stylecam live --no-window --pipe y4m` with no display at all, read by ffprobe: the stream
/// has the test card's size, the `--source-fps` rate, and exactly the frames stylecam reports.
#[test]
fn headless_pipe_is_a_y4m_stream_ffprobe_reads() {
    let dir = tempfile::tempdir().unwrap();
    let models = models(dir.path());
    let stderr = dir.path().join("stderr.txt");
    let mut live = live_command()
        .args(["--models", models.to_str().unwrap()])
        .args([
            "--source",
            "testcard",
            "--camera-res",
            "160x120",
            "--source-fps",
            "15",
        ])
        .args(["--no-window", "--pipe", "y4m", "--frames", "20"])
        .env_remove("DISPLAY")
        .env("RUST_LOG", "stylecam=info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "stream=codec_name,width,height,r_frame_rate,nb_read_frames",
        ])
        .args(["-of", "default=noprint_wrappers=1", "-"])
        .stdin(Stdio::from(live.stdout.take().unwrap()))
        .stdout(Stdio::piped())
        .spawn()
        .expect("ffprobe must be installed (make setup)");
    let t = Instant::now();
    let status = loop {
        if let Some(s) = live.try_wait().unwrap() {
            break s;
        }
        if t.elapsed() > Duration::from_secs(90) {
            let _ = live.kill();
            panic!("stylecam live --frames 20 did not end within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let probed = probe.wait_with_output().unwrap();
    let err = std::fs::read_to_string(&stderr).unwrap();
    assert!(status.success(), "{err}");
    let written: u64 = err
        .lines()
        .find_map(|l| l.split("y4m pipe: ").nth(1))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no y4m report in stderr:\n{err}"));
    let text = String::from_utf8_lossy(&probed.stdout);
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("ffprobe gave no {k}: {text}"))
            .to_string()
    };
    assert_eq!(field("codec_name"), "rawvideo", "{text}");
    assert_eq!(
        (field("width"), field("height")),
        ("160".into(), "120".into())
    );
    assert_eq!(field("r_frame_rate"), "15/1");
    assert!(written >= 1, "{err}");
    assert_eq!(field("nb_read_frames"), written.to_string(), "{err}");
}

/// On a picture style −/+ change Magenta's strength (the picture's embedding blended with the
/// frame's own), not a pixel fade: at 0 the view shows the frame in its own style, which is not
/// the original picture (a fade at 0 would be).
#[test]
fn strength_on_a_picture_style_blends_embeddings() {
    let x = Xvfb::start();
    let d = tempfile::tempdir().unwrap();
    let red = red_picture(d.path());
    let app = picture_app(&x, d.path(), &[&red]);
    let (original, by_red) = pause(&app);
    app.keys(&["minus"; 10]);
    let own = steady(&app, "strength 0", |img| img != &by_red);
    let w = original.width();
    assert!(
        mean_diff(&own, &original, 0, w) > 1.0,
        "strength 0 on a picture style is the frame's own style, not the original"
    );
}
