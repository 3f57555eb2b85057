//! Shared helpers for the trainer's tests: fixture images and finding Python with torch.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::{Rgb, RgbImage};

/// The tiny arbitrary-style networks are the app's test fixture (tests/common/arbitrary.rs).
#[path = "../../../tests/common/arbitrary.rs"]
pub mod teacher;

/// A small deterministic pseudo-random generator (no dependency on the crate under test).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next_u32(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }
    pub fn below(&mut self, n: u32) -> u32 {
        self.next_u32() % n.max(1)
    }
}

/// A photo-like fixture: a colour gradient with a few filled rectangles and discs.
pub fn photo(seed: u64, w: u32, h: u32) -> RgbImage {
    let mut rng = Lcg(seed.wrapping_add(17));
    let base = [rng.below(256), rng.below(256), rng.below(256)];
    let mut img = RgbImage::from_fn(w, h, |x, y| {
        Rgb([
            ((base[0] + x * 255 / w) % 256) as u8,
            ((base[1] + y * 255 / h) % 256) as u8,
            ((base[2] + (x + y) * 128 / (w + h)) % 256) as u8,
        ])
    });
    for _ in 0..4 {
        let (cx, cy) = (rng.below(w) as i64, rng.below(h) as i64);
        let r = 3 + rng.below(w / 4) as i64;
        let c = Rgb([
            rng.below(256) as u8,
            rng.below(256) as u8,
            rng.below(256) as u8,
        ]);
        let disc = rng.below(2) == 0;
        for y in 0..h as i64 {
            for x in 0..w as i64 {
                let (dx, dy) = (x - cx, y - cy);
                let inside = if disc {
                    dx * dx + dy * dy <= r * r
                } else {
                    dx.abs() <= r && dy.abs() <= r / 2
                };
                if inside {
                    img.put_pixel(x as u32, y as u32, c);
                }
            }
        }
    }
    img
}

/// A style-like fixture: bold diagonal stripes in two saturated colours.
pub fn style_image(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        if ((x + 2 * y) / 6) % 2 == 0 {
            Rgb([230, 190, 20])
        } else {
            Rgb([20, 40, 160])
        }
    })
}

/// Writes `n` photos (PNG and JPEG, in a nested folder too) and one unreadable `.jpg` into `dir`.
pub fn write_dataset(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir.join("nested")).unwrap();
    for i in 0..n {
        let img = photo(i as u64, 80 + (i as u32 % 3) * 8, 72);
        let path = if i % 3 == 0 {
            dir.join("nested").join(format!("p{i:02}.jpg"))
        } else {
            dir.join(format!("p{i:02}.png"))
        };
        img.save(&path).unwrap();
    }
    std::fs::write(dir.join("broken.jpg"), b"this is not a jpeg").unwrap();
}

/// Python with torch: `$STYLECAM_PYTHON`, the repository's `.venv`, or `python3` on PATH.
pub fn python() -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("STYLECAM_PYTHON") {
        candidates.push(PathBuf::from(p));
    }
    candidates.push(repo.join(".venv/bin/python"));
    candidates.push(PathBuf::from("python3"));
    for c in &candidates {
        let ok = Command::new(c)
            .args(["-c", "import torch, numpy"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if ok {
            return c.clone();
        }
    }
    panic!(
        "no Python with torch and numpy found (tried {candidates:?}); run `make setup` or set STYLECAM_PYTHON"
    );
}

/// The trainer binary.
pub fn trainer() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stylecam-train"))
}

/// A temporary folder with a photo folder (from [`write_dataset`]) and a style image.
pub struct Fixture {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub data: PathBuf,
    pub style: PathBuf,
}

/// `photos` photos in `root/<data_dir>` (plus one unreadable file) and a `style_w`×`style_h`
/// [`style_image`] at `root/style.png`.
pub fn fixture(data_dir: &str, photos: usize, style_w: u32, style_h: u32) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let data = root.join(data_dir);
    write_dataset(&data, photos);
    let style = root.join("style.png");
    style_image(style_w, style_h).save(&style).unwrap();
    Fixture {
        _dir: dir,
        root,
        data,
        style,
    }
}

/// Runs the trainer and expects success.
pub fn run_ok(args: &[String]) -> Output {
    let out = trainer().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "stylecam-train {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs the trainer, expects a failure without a panic or anything on stdout, returns stderr.
pub fn run_err(args: &[String]) -> String {
    let out = trainer().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "expected failure, got success:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "a failed command must not print a partial result: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

/// Starts the trainer with `args`, SIGKILLs it once `first_checkpoint` exists (and before the run
/// wrote `last_checkpoint`), checks that every checkpoint left is complete, then repeats the
/// command with `--resume` and returns that run's output.
pub fn kill_9_and_resume(
    args: &[String],
    run: &Path,
    first_checkpoint: &Path,
    last_checkpoint: &Path,
) -> Output {
    use std::time::{Duration, Instant};
    let mut child = trainer()
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !first_checkpoint.exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before its first checkpoint"
        );
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no checkpoint appeared"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "finished before the kill"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        !last_checkpoint.exists(),
        "the kill came too late to test anything"
    );
    // Whatever the kill interrupted, every checkpoint on disk is complete.
    for (_, p) in stylecam_train::checkpoint::list(run) {
        stylecam_train::checkpoint::load(&p)
            .unwrap_or_else(|e| panic!("corrupt checkpoint after kill: {e}"));
    }
    let mut resume = args.to_vec();
    resume.push("--resume".into());
    let out = run_ok(&resume);
    assert!(String::from_utf8_lossy(&out.stderr).contains("resuming from"));
    out
}
