//! Hostile input, through the real binary: bad files, special files, absurd numbers, closed and
//! full output streams. Each case of the table asserts the exit status, that nothing panicked or
//! aborted, that the message names the problem, that nothing is left behind in the case's own
//! output folder (nor any `.stylecam-*.part` anywhere in the fixtures), and that the run ends
//! within [`HANG_BOUND`] (a hang is killed and fails the case).
//!
//! Fixtures are made here: models with the library's ONNX writer, images with `image`, a video
//! with the library's recorder, FIFOs with `mkfifo`, a socket with `UnixListener`.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};
use stylecam::net::onnx::{random_weights, write_model, ModelMetadata};
use stylecam::net::ImfwArch;

/// A case still running after this is a hang (no case needs more than a few seconds).
const HANG_BOUND: Duration = Duration::from_secs(60);
/// Text that means a panic or an abort, never acceptable in the output.
const CRASH_TEXT: &[&str] = &[
    "panicked",
    "RUST_BACKTRACE",
    "core dumped",
    "Aborted",
    "memory allocation of",
];

const BIN: &str = env!("CARGO_BIN_EXE_stylecam");

/// The binary under test: this build's, or `STYLECAM_HOSTILE_BIN` (to sweep another build, e.g.
/// an older release, with the same table).
fn bin() -> String {
    std::env::var("STYLECAM_HOSTILE_BIN").unwrap_or_else(|_| BIN.to_string())
}

/// One hostile run. `args` and `shell` may use `{d}` (the fixture folder) and `{o}` (this
/// case's own output folder, which must hold no file afterwards unless `outputs` says so).
struct Case {
    name: &'static str,
    /// Arguments of `stylecam`; ignored when `shell` is set.
    args: &'static str,
    /// A bash command line instead (`$BIN` is the binary); its exit status is stylecam's, e.g.
    /// `"$BIN" styles | head -c1; exit ${PIPESTATUS[0]}`.
    shell: Option<&'static str>,
    /// The exit status it must end with.
    exit: i32,
    /// Each must appear (case-insensitive) in stdout + stderr.
    needles: &'static [&'static str],
    /// File names expected in `{o}` afterwards (sorted); empty: none.
    outputs: &'static [&'static str],
}

const fn case(
    name: &'static str,
    args: &'static str,
    code: i32,
    needles: &'static [&'static str],
) -> Case {
    Case {
        name,
        args,
        shell: None,
        exit: code,
        needles,
        outputs: &[],
    }
}

const fn shell(
    name: &'static str,
    line: &'static str,
    code: i32,
    needles: &'static [&'static str],
) -> Case {
    Case {
        name,
        args: "",
        shell: Some(line),
        exit: code,
        needles,
        outputs: &[],
    }
}

const fn producing(mut c: Case, outputs: &'static [&'static str]) -> Case {
    c.outputs = outputs;
    c
}

const M: &str = "--models {d}/models";

fn cases() -> Vec<Case> {
    vec![
        // ---------------------------------------------------------- closed and full streams
        shell(
            "styles into a closed pipe",
            r#""$BIN" --models {d}/models styles | head -c1 >/dev/null; exit ${PIPESTATUS[0]}"#,
            0,
            &[],
        ),
        shell(
            "style names into a closed pipe",
            r#""$BIN" --models {d}/models styles --names-only | head -c0; exit ${PIPESTATUS[0]}"#,
            0,
            &[],
        ),
        shell(
            "styles into a full disk",
            r#""$BIN" --models {d}/models styles >/dev/full"#,
            1,
            &["standard output", "no space left"],
        ),
        shell(
            "style names into a full disk",
            r#""$BIN" --models {d}/models styles --names-only >/dev/full"#,
            1,
            &["standard output", "no space left"],
        ),
        shell(
            "help into a full disk",
            r#""$BIN" --help >/dev/full"#,
            1,
            &["standard output", "no space left"],
        ),
        shell(
            "help into a closed pipe",
            r#""$BIN" --help | head -c1 >/dev/null; exit ${PIPESTATUS[0]}"#,
            0,
            &[],
        ),
        shell(
            "bench json into a full disk",
            r#""$BIN" bench --arch w4-b1 --size 16x16 --frames 1 --warmup 0 --json >/dev/full"#,
            1,
            &["standard output", "no space left"],
        ),
        shell(
            "bench table into a closed pipe",
            r#""$BIN" bench --arch w4-b1 --size 16x16 --frames 1 --warmup 0 | head -c1 >/dev/null; exit ${PIPESTATUS[0]}"#,
            0,
            &[],
        ),
        shell(
            "cameras into a full disk",
            r#""$BIN" cameras >/dev/full"#,
            1,
            &["standard output"],
        ),
        producing(
            shell(
                "stylize with its log into a closed pipe",
                r#""$BIN" --models {d}/models stylize --style good {d}/photos --out-dir {o} 2>&1 | head -c1 >/dev/null; exit ${PIPESTATUS[0]}"#,
                0,
                &[],
            ),
            &["a.png", "b.jpg"],
        ),
        shell(
            "stylize with stderr full",
            r#""$BIN" --models {d}/models stylize --style good {d}/img.png -o {o}/x.png 2>/dev/full; s=$?; test -s {o}/x.png && rm {o}/x.png && exit $s; exit 99"#,
            0,
            &[],
        ),
        // ---------------------------------------------------------------- input images
        case(
            "missing image",
            "{M} stylize --style good {d}/nope.png -o {o}/x.png",
            1,
            &["nope.png", "no such file"],
        ),
        case(
            "empty image",
            "{M} stylize --style good {d}/empty.png -o {o}/x.png",
            1,
            &["empty.png", "empty"],
        ),
        case(
            "text file named .png",
            "{M} stylize --style good {d}/text.png -o {o}/x.png",
            1,
            &["text.png", "not a recognised image format"],
        ),
        case(
            "truncated png",
            "{M} stylize --style good {d}/trunc.png -o {o}/x.png",
            1,
            &["trunc.png", "decode"],
        ),
        case(
            "truncated jpeg",
            "{M} stylize --style good {d}/trunc.jpg -o {o}/x.png",
            1,
            &["trunc.jpg", "truncated"],
        ),
        case(
            "corrupt png body",
            "{M} stylize --style good {d}/corrupt.png -o {o}/x.png",
            1,
            &["corrupt.png", "decode"],
        ),
        case(
            "fifo as an image",
            "{M} stylize --style good {d}/fifo.png -o {o}/x.png",
            1,
            &["fifo.png", "FIFO"],
        ),
        case(
            "socket as an image",
            "{M} stylize --style good {d}/sock.png -o {o}/x.png",
            1,
            &["sock.png", "socket"],
        ),
        case(
            "/dev/zero as an image",
            "{M} stylize --style good /dev/zero -o {o}/x.png",
            1,
            &["/dev/zero", "character device"],
        ),
        case(
            "/dev/null as an image",
            "{M} stylize --style good /dev/null -o {o}/x.png",
            1,
            &["/dev/null", "character device"],
        ),
        case(
            "very tall image",
            "{M} stylize --style good {d}/tall.png -o {o}/x.png",
            1,
            &["3×100000", "16384"],
        ),
        case(
            "folder without images",
            "{M} stylize --style good {d}/noimages --out-dir {o}",
            1,
            &["noimages", "no image files"],
        ),
        case(
            "missing folder input",
            "{M} stylize --style good {d}/nofolder/ --out-dir {o}",
            1,
            &["nofolder", "no such file"],
        ),
        producing(
            case(
                "folder with a symlink loop",
                "{M} stylize --style good {d}/loop --out-dir {o}",
                0,
                &["symlink loop"],
            ),
            &["a.png"],
        ),
        producing(
            case(
                "one bad file among good ones",
                "{M} stylize --style good {d}/img.png {d}/text.png --out-dir {o}",
                1,
                &["text.png", "1 of 2 inputs failed"],
            ),
            &["img.png"],
        ),
        // ---------------------------------------------------------------- videos
        case(
            "empty mp4",
            "{M} stylize --style good {d}/empty.mp4 -o {o}/x.mp4",
            1,
            &["empty.mp4", "empty"],
        ),
        case(
            "text file named .mp4",
            "{M} stylize --style good {d}/text.mp4 -o {o}/x.mp4",
            1,
            &["text.mp4"],
        ),
        case(
            "truncated mp4",
            "{M} stylize --style good {d}/trunc.mp4 -o {o}/x.mp4",
            1,
            &["trunc.mp4"],
        ),
        case(
            "fifo named .mp4",
            "{M} stylize --style good {d}/fifo.mp4 -o {o}/x.mp4",
            1,
            &["fifo.mp4", "FIFO"],
        ),
        case(
            "matroska input",
            "{M} stylize --style good {d}/clip.mkv -o {o}/x.mp4",
            1,
            &["clip.mkv", "not supported"],
        ),
        case(
            "video to an image output",
            "{M} stylize --style good {d}/clip.mp4 -o {o}/x.png",
            1,
            &["x.png"],
        ),
        case(
            "video output is the input",
            "{M} stylize --style good {d}/clip.mp4 -o {d}/clip.mp4",
            1,
            &["input"],
        ),
        // ---------------------------------------------------------------- models and styles
        case(
            "style from /dev/zero",
            "{M} stylize --style /dev/zero {d}/img.png -o {o}/x.png",
            1,
            &["/dev/zero", "character device"],
        ),
        case(
            "style from a fifo",
            "{M} stylize --style {d}/fifo.onnx {d}/img.png -o {o}/x.png",
            1,
            &["fifo.onnx", "FIFO"],
        ),
        case(
            "missing model file",
            "{M} stylize --style {d}/nope.onnx {d}/img.png -o {o}/x.png",
            1,
            &["nope.onnx", "no such file"],
        ),
        case(
            "corrupt model",
            "{M} stylize --style {d}/bad/corrupt.onnx {d}/img.png -o {o}/x.png",
            1,
            &["corrupt.onnx", "not a readable ONNX model"],
        ),
        case(
            "empty model",
            "{M} stylize --style {d}/empty.onnx {d}/img.png -o {o}/x.png",
            1,
            &["empty.onnx", "empty"],
        ),
        case(
            "folder named .onnx",
            "{M} stylize --style {d}/dir.onnx {d}/img.png -o {o}/x.png",
            1,
            &["dir.onnx", "folder"],
        ),
        case(
            "model with int64 input",
            "{M} stylize --style {d}/bad/aaa-int64.onnx {d}/img.png -o {o}/x.png",
            1,
            &["aaa-int64.onnx", "float32"],
        ),
        case(
            "model whose output is taller",
            "{M} stylize --style {d}/taller.onnx {d}/img.png -o {o}/x.png",
            1,
            &["taller.onnx", "output has shape", "input's shape"],
        ),
        case(
            "unknown style name",
            "{M} stylize --style nosuchstyle {d}/img.png -o {o}/x.png",
            1,
            &["unknown style 'nosuchstyle'", "good"],
        ),
        case(
            "models folder missing",
            "--models {d}/nomodels stylize --style good {d}/img.png -o {o}/x.png",
            1,
            &["nomodels", "does not exist"],
        ),
        case(
            "models folder is a file",
            "--models {d}/img.png stylize --style good {d}/img.png -o {o}/x.png",
            1,
            &["img.png", "is a file, not a folder"],
        ),
        case(
            "styles: models folder missing",
            "--models {d}/nomodels styles",
            1,
            &["nomodels", "does not exist"],
        ),
        case(
            "styles: models folder is a file",
            "--models {d}/img.png styles",
            1,
            &["is a file, not a folder"],
        ),
        case(
            "styles: bad models are skipped",
            "--models {d}/bad styles",
            0,
            &[
                "corrupt.onnx",
                "skipping style 'aaa-int64'",
                "good",
                "provider: cpu",
            ],
        ),
        case(
            "styles: empty models folder",
            "--models {d}/noimages styles",
            0,
            &["no styles"],
        ),
        case(
            "bench a /dev/zero model",
            "bench --style /dev/zero --size 16x16 --frames 1",
            1,
            &["/dev/zero", "character device"],
        ),
        // ---------------------------------------------------------------- outputs
        case(
            "output is the input",
            "{M} stylize --style good {d}/img.png -o {d}/img.png",
            1,
            &["input itself"],
        ),
        case(
            "output folder missing",
            "{M} stylize --style good {d}/img.png -o {o}/no/such/x.png",
            1,
            &["does not exist"],
        ),
        case(
            "output extension unknown",
            "{M} stylize --style good {d}/img.png -o {o}/x.xyz",
            1,
            &["unsupported output extension"],
        ),
        case(
            "out-dir below a file",
            "{M} stylize --style good {d}/img.png --out-dir {d}/img.png/sub",
            1,
            &["cannot create the output folder"],
        ),
        case(
            "output in /proc",
            "{M} stylize --style good {d}/img.png -o /proc/stylecam-test.png",
            1,
            &["/proc"],
        ),
        case(
            "two inputs, one output",
            "{M} stylize --style good {d}/img.png {d}/photos/a.png -o {o}/x.png",
            1,
            &["--out-dir"],
        ),
        case(
            "gallery output is a photo",
            "{M} gallery {d}/img.png --styles good --out {d}/img.png",
            1,
            &["img.png"],
        ),
        // ---------------------------------------------------------------- numbers
        case(
            "size zero",
            "{M} stylize --style good {d}/img.png -o {o}/x.png --size 0x10",
            2,
            &["1..=16384"],
        ),
        case(
            "size huge",
            "{M} stylize --style good {d}/img.png -o {o}/x.png --size 99999x10",
            2,
            &["1..=16384"],
        ),
        case(
            "size negative",
            "{M} stylize --style good {d}/img.png -o {o}/x.png --size -5x10",
            2,
            &["--size"],
        ),
        case(
            "size not a size",
            "{M} stylize --style good {d}/img.png -o {o}/x.png --size big",
            2,
            &["WIDTHxHEIGHT"],
        ),
        case(
            "max-side zero",
            "{M} stylize --style good {d}/img.png -o {o}/x.png --max-side 0",
            2,
            &["1..=16384"],
        ),
        case(
            "max-side huge",
            "{M} stylize --style good {d}/img.png -o {o}/x.png --max-side 4294967296",
            2,
            &["--max-side"],
        ),
        case(
            "threads zero",
            "{M} --threads 0 stylize --style good {d}/img.png -o {o}/x.png",
            2,
            &["--threads", "1..=1024"],
        ),
        case(
            "threads huge",
            "{M} --threads 100000 stylize --style good {d}/img.png -o {o}/x.png",
            2,
            &["--threads"],
        ),
        case(
            "smooth out of range",
            "{M} stylize --style good {d}/clip.mp4 -o {o}/x.mp4 --smooth 2",
            2,
            &["0..=1"],
        ),
        case(
            "smooth not a number",
            "{M} stylize --style good {d}/clip.mp4 -o {o}/x.mp4 --smooth NaN",
            2,
            &["--smooth"],
        ),
        case(
            "bitrate zero",
            "{M} stylize --style good {d}/clip.mp4 -o {o}/x.mp4 --bitrate 0",
            2,
            &["--bitrate"],
        ),
        case(
            "bitrate negative",
            "{M} stylize --style good {d}/clip.mp4 -o {o}/x.mp4 --bitrate -4M",
            2,
            &["--bitrate"],
        ),
        case(
            "bench giant architecture",
            "bench --arch w100000-b100000",
            2,
            &["1..=128", "1..=32"],
        ),
        case("bench zero width", "bench --arch w0-b3", 2, &["1..=128"]),
        case("bench zero blocks", "bench --arch w8-b0", 2, &["1..=32"]),
        case(
            "bench architecture garbage",
            "bench --arch banana",
            2,
            &["wWIDTH-bBLOCKS"],
        ),
        case("bench zero frames", "bench --frames 0", 2, &["--frames"]),
        case(
            "bench a million frames",
            "bench --frames 1000000",
            2,
            &["--frames", "100000"],
        ),
        case(
            "bench huge warmup",
            "bench --warmup 99999999",
            2,
            &["--warmup"],
        ),
        case("bench size zero", "bench --size 0x0", 2, &["1..=16384"]),
        case(
            "gallery cell zero",
            "{M} gallery {d}/img.png --out {o}/g.png --cell 0",
            2,
            &["--cell"],
        ),
        case(
            "gallery cell huge",
            "{M} gallery {d}/img.png --out {o}/g.png --cell 99999",
            2,
            &["--cell"],
        ),
        case(
            "calibrate limit zero",
            "calibrate {d}/models/good.onnx --photos {d}/photos --limit 0",
            2,
            &["--limit"],
        ),
        case(
            "calibrate on /dev/zero photos",
            "calibrate {o}/m.onnx --photos /dev/zero",
            1,
            &["/dev/zero", "character device"],
        ),
        case(
            "calibrate a missing model",
            "calibrate {d}/nope.onnx --photos {d}/photos",
            1,
            &["nope.onnx"],
        ),
        case("live workers zero", "live --workers 0", 2, &["1…8"]),
        case("live scale huge", "live --scale 100", 2, &["0.125..=2"]),
        case("live fps zero", "live --fps 0", 2, &["--fps"]),
        case("live size tiny", "live --size 1x1", 2, &["16…8192"]),
        case("unknown subcommand", "frobnicate", 2, &["frobnicate"]),
        case(
            "out-dir is a device",
            "{M} stylize --style good {d}/img.png --out-dir /dev/null",
            1,
            &["/dev/null", "not a folder"],
        ),
        case(
            "live from a fifo image",
            "{M} live --source {d}/fifo.png",
            1,
            &["fifo.png", "FIFO"],
        ),
        case(
            "live from a fifo video",
            "{M} live --source {d}/fifo.mp4",
            1,
            &["fifo.mp4", "FIFO"],
        ),
        case(
            "live from /dev/zero",
            "{M} live --source /dev/zero",
            1,
            &["/dev/zero", "character device"],
        ),
    ]
}

/// The fixture folder, made once for all cases.
fn fixtures(d: &Path) {
    let arch = ImfwArch::new(4, 1);
    let model = |name: &str| {
        let meta = ModelMetadata {
            name: name.into(),
            extra: vec![],
        };
        write_model(&arch, &random_weights(&arch, 7), &meta).unwrap()
    };
    let mk = |p: &str| std::fs::create_dir_all(d.join(p)).unwrap();
    let put = |p: &str, bytes: &[u8]| std::fs::write(d.join(p), bytes).unwrap();
    for dir in [
        "models", "bad", "photos", "noimages", "loop", "dir.onnx", "out",
    ] {
        mk(dir);
    }
    put("models/good.onnx", &model("good"));
    put("bad/good.onnx", &model("good"));
    put(
        "bad/corrupt.onnx",
        b"\x08\x07this is not protobuf at all\xff\xff",
    );
    put(
        "bad/aaa-int64.onnx",
        &common::fixtures::identity_model(7, &[1, 3, 8, 8]),
    );
    put("taller.onnx", &common::fixtures::concat_model(2));
    put("empty.onnx", b"");

    let img = RgbImage::from_fn(24, 16, |x, y| Rgb([(x * 10) as u8, (y * 15) as u8, 90]));
    let png = encode(&img, image::ImageFormat::Png);
    let jpg = encode(&img, image::ImageFormat::Jpeg);
    put("img.png", &png);
    put("photos/a.png", &png);
    put("photos/b.jpg", &jpg);
    put("loop/a.png", &png);
    std::os::unix::fs::symlink(d.join("loop"), d.join("loop/again")).unwrap();
    put("noimages/readme.txt", b"no pictures here");
    put("empty.png", b"");
    put("text.png", b"hello, I am a text file\n");
    put("trunc.png", &png[..png.len() / 2]);
    put("trunc.jpg", &jpg[..jpg.len() - 60]);
    let mut corrupt = png.clone();
    let mid = corrupt.len() / 2;
    corrupt[mid..mid + 16].fill(0xA5);
    put("corrupt.png", &corrupt);
    put(
        "tall.png",
        &encode(&RgbImage::new(3, 100_000), image::ImageFormat::Png),
    );

    let clip = d.join("clip.mp4");
    record_clip(&clip, 64, 48, 12);
    let mp4 = std::fs::read(&clip).unwrap();
    put("trunc.mp4", &mp4[..mp4.len() / 3]);
    put("clip.mkv", &mp4);
    put("empty.mp4", b"");
    put("text.mp4", b"this is not a video\n");
    for fifo in ["fifo.png", "fifo.onnx", "fifo.mp4"] {
        let ok = Command::new("mkfifo")
            .arg(d.join(fifo))
            .status()
            .unwrap()
            .success();
        assert!(ok, "mkfifo failed");
    }
    // The listener is dropped; the socket file stays (a socket nobody listens on).
    std::os::unix::net::UnixListener::bind(d.join("sock.png")).unwrap();
}

fn encode(img: &RgbImage, format: image::ImageFormat) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    img.write_to(&mut buf, format).unwrap();
    buf.into_inner()
}

/// An H.264 MP4 of `n` frames written by stylecam's own recorder.
fn record_clip(path: &Path, w: u32, h: u32, n: u32) {
    use stylecam::sink::recorder::{Recorder, RecorderOptions};
    let mut opts = RecorderOptions::new(path);
    opts.queue_len = n as usize + 1;
    let mut rec = Recorder::start(opts).unwrap();
    let t0 = Instant::now();
    for i in 0..n {
        let f = RgbImage::from_fn(w, h, |x, y| {
            Rgb([(x * 4 + i) as u8, (y * 5) as u8, (i * 20) as u8])
        });
        rec.push(&f, t0 + Duration::from_millis(u64::from(i) * 40))
            .unwrap();
    }
    rec.finish().unwrap();
}

/// What a finished run printed and how it ended.
struct Ran {
    status: ExitStatus,
    text: String,
    took: Duration,
}

/// Runs `cmd` to completion or [`HANG_BOUND`], whichever is first (then kills it: `None`).
fn run_bounded(mut cmd: Command) -> Option<Ran> {
    let t0 = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start the command");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > HANG_BOUND {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = reader.join().unwrap();
    let stderr = err_reader.join().unwrap();
    Some(Ran {
        status,
        text: format!(
            "{}{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        ),
        took: t0.elapsed(),
    })
}

fn command_for(c: &Case, d: &Path, o: &Path) -> Command {
    let fill = |s: &str| {
        s.replace("{M}", &M.replace("{d}", &d.display().to_string()))
            .replace("{d}", &d.display().to_string())
            .replace("{o}", &o.display().to_string())
    };
    let mut cmd = match c.shell {
        Some(line) => {
            let mut cmd = Command::new("bash");
            cmd.arg("-c").arg(fill(line)).env("BIN", bin());
            cmd
        }
        None => {
            let mut cmd = Command::new(bin());
            cmd.args(fill(c.args).split_whitespace());
            cmd
        }
    };
    cmd.env_remove("STYLECAM_MODELS")
        .env_remove("RUST_BACKTRACE")
        .env_remove("DISPLAY")
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1");
    cmd
}

/// Everything wrong with how `c` ended, as lines (empty: it passed).
fn check(c: &Case, d: &Path, o: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(ran) = run_bounded(command_for(c, d, o)) else {
        return vec![format!("still running after {HANG_BOUND:?}: killed")];
    };
    let want = c.exit;
    match ran.status.code() {
        Some(code) if code == want => {}
        Some(code) => problems.push(format!("exit status {code}, expected {want}")),
        None => problems.push(format!("ended by a signal ({:?})", ran.status)),
    }
    for bad in CRASH_TEXT {
        if ran.text.contains(bad) {
            problems.push(format!("output contains '{bad}'"));
        }
    }
    let lower = ran.text.to_lowercase();
    for n in c.needles {
        if !lower.contains(&n.to_lowercase()) {
            problems.push(format!("message lacks '{n}'"));
        }
    }
    let mut left = files_under(o);
    left.sort();
    if left != c.outputs {
        problems.push(format!(
            "output folder holds {left:?}, expected {:?}",
            c.outputs
        ));
    }
    if !problems.is_empty() {
        problems.push(format!(
            "({:.1} s) output:\n{}",
            ran.took.as_secs_f64(),
            ran.text
        ));
    }
    problems
}

/// Names of the files (not folders) under `dir`, relative to it; none if it does not exist.
fn files_under(dir: &Path) -> Vec<String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| !e.file_type().is_dir())
        .map(|e| {
            e.path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[test]
fn hostile_inputs_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fixtures(d);
    let cases = cases();
    assert!(cases.len() >= 60, "only {} cases", cases.len());
    let mut names: Vec<_> = cases.iter().map(|c| c.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names must be unique");

    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(c) = cases.get(i) else { break };
                let o = d.join("out").join(format!("case{i}"));
                std::fs::create_dir_all(&o).unwrap();
                let problems = check(c, d, &o);
                if !problems.is_empty() {
                    failures.lock().unwrap().push(format!(
                        "case '{}': {}",
                        c.name,
                        problems.join("\n  ")
                    ));
                }
            });
        }
    });
    let leftovers: Vec<_> = files_under(d)
        .into_iter()
        .filter(|f| f.contains(".stylecam-") || f.ends_with(".part"))
        .collect();
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} hostile cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
    assert!(
        leftovers.is_empty(),
        "temporary files left behind: {leftovers:?}"
    );
}

/// New outputs get 0666 less the umask, like any file the user creates (images were 0600).
#[test]
fn outputs_respect_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fixtures(d);
    for (umask, want) in [("022", 0o644), ("077", 0o600), ("002", 0o664)] {
        for out in ["x.png", "x.mp4"] {
            let input = if out.ends_with("mp4") {
                "clip.mp4"
            } else {
                "img.png"
            };
            let o: PathBuf = d.join("out").join(format!("{umask}-{out}"));
            let line = format!(
                r#"umask {umask}; "$BIN" --models {m} stylize --style good {i} -o {o}"#,
                m = d.join("models").display(),
                i = d.join(input).display(),
                o = o.display()
            );
            let ran = run_bounded({
                let mut c = Command::new("bash");
                c.arg("-c")
                    .arg(line)
                    .env("BIN", BIN)
                    .env("RUST_LOG", "warn");
                c
            })
            .expect("stylize hung");
            assert!(ran.status.success(), "{}", ran.text);
            let mode = std::fs::metadata(&o).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, want, "{out} under umask {umask}: {mode:o}");
        }
    }
}

/// SIGTERM (what `kill`, systemd and container runtimes send) finishes a video job like Ctrl-C:
/// the frames so far are finalized into a playable file and the exit status is 130. Without a
/// handler the process would die by the signal with a file missing its index.
#[test]
fn sigterm_finalizes_a_video_job_like_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("models")).unwrap();
    let arch = ImfwArch::new(4, 1);
    let meta = ModelMetadata {
        name: "good".into(),
        extra: vec![],
    };
    let model = write_model(&arch, &random_weights(&arch, 7), &meta).unwrap();
    std::fs::write(d.join("models/good.onnx"), model).unwrap();
    const FRAMES: usize = 1500;
    record_clip(&d.join("long.mp4"), 96, 64, FRAMES as u32);
    let out = d.join("styled.mp4");
    let mut child = Command::new(BIN)
        .args(["--models", &d.join("models").display().to_string()])
        .args(["stylize", "--style", "good"])
        .arg(d.join("long.mp4"))
        .arg("-o")
        .arg(&out)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    // Signal as soon as the output has its first bytes: the job is running by then.
    while std::fs::metadata(&out).map_or(true, |m| m.len() == 0) {
        assert!(t0.elapsed() < HANG_BOUND, "the job never started writing");
        assert!(child.try_wait().unwrap().is_none(), "the job ended early");
        std::thread::sleep(Duration::from_millis(2));
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status:?}\n{stderr}");
    assert!(
        stderr.contains("interrupted: partial file kept"),
        "{stderr}"
    );
    let info = stylecam::video::reader::VideoReader::open(&out)
        .expect("the partial output is a readable MP4")
        .info();
    assert!(!info.truncated_tail, "the output was not finalized");
    assert!(
        info.frame_count < FRAMES,
        "all {FRAMES} frames were written: the signal came too late to test anything"
    );
}
