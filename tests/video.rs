//! Recording and video files: H.264 MP4 writing (recorder), reading (own decoder), crash safety,
//! offline stylization, and the errors users get for files stylecam cannot read.
//!
//! Needs `ffmpeg` and `ffprobe` on PATH (the Makefile installs them): ffprobe is the independent
//! judge of the files we write, ffmpeg makes the H.264 fixtures (B-frames, audio, odd sizes).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};
use stylecam::sink::recorder::{Recorder, RecorderOptions};
use stylecam::source::video::VideoFileSource;
use stylecam::video::{stylize_video, AudioOutcome, VideoReader, VideoStylizeOptions};

// ---------------------------------------------------------------- helpers

/// A moving test card: smooth gradients, a bouncing box and a sliding stripe, different every
/// frame. Edges sit on the 2×2 grid of 4:2:0 chroma, so the colour subsampling that every H.264
/// file has does not by itself cap the PSNR.
fn test_card(w: u32, h: u32, i: u32) -> RgbImage {
    let bx = ((i * 6) % w.max(2)) & !1;
    let by = ((i * 2) % h.max(2)) & !1;
    let half = (w / 8).max(2) & !1;
    let stripe = ((i * 4) % h.max(2)) & !1;
    RgbImage::from_fn(w, h, |x, y| {
        let ramp = (x + y + i * 4) % 512;
        let tri = if ramp < 256 { ramp } else { 511 - ramp };
        let mut p = [
            (x * 255 / w.max(1)) as u8,
            (y * 255 / h.max(1)) as u8,
            tri as u8,
        ];
        if x >= bx && x < bx + half && y >= by && y < by + half {
            p = [240, 240, 40];
        }
        if y >= stripe && y < stripe + 4 {
            p = [20, 20, 220];
        }
        Rgb(p)
    })
}

fn psnr(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let mse: f64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| {
            let d = f64::from(x) - f64::from(y);
            d * d
        })
        .sum::<f64>()
        / a.as_raw().len() as f64;
    if mse == 0.0 {
        99.0
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

fn tool(name: &str) -> Command {
    let ok = Command::new(name)
        .arg("-version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "{name} is needed by the video tests: install it (`make setup` or `apt-get install ffmpeg`)"
    );
    let mut c = Command::new(name);
    c.args(["-hide_banner", "-loglevel", "error"]);
    c
}

/// What ffprobe says about the first video stream (frames counted by decoding).
#[derive(Debug)]
struct Probe {
    codec: String,
    width: u32,
    height: u32,
    frames: u64,
    duration: f64,
    streams: Vec<String>,
}

fn ffprobe(path: &Path) -> Probe {
    let out = tool("ffprobe")
        .args([
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=codec_name,width,height,nb_read_frames:format=duration",
            "-of",
            "default=noprint_wrappers=1",
        ])
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "ffprobe failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("ffprobe gave no {k} for {}:\n{text}", path.display()))
            .to_string()
    };
    let streams_out = tool("ffprobe")
        .args(["-show_entries", "stream=codec_name", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    Probe {
        codec: get("codec_name"),
        width: get("width").parse().unwrap(),
        height: get("height").parse().unwrap(),
        frames: get("nb_read_frames").parse().unwrap(),
        duration: get("duration").parse().unwrap(),
        streams: String::from_utf8_lossy(&streams_out.stdout)
            .lines()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    }
}

fn ffmpeg(args: &[&str]) {
    let out = tool("ffmpeg").arg("-y").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ffmpeg {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Our decode of a frame against ffmpeg's. H.264 decoding is exact, so both decoders produce the
/// same YUV; only the conversion to RGB differs (rounding, chroma upsampling: 3 levels at most
/// with ffmpeg 5–7, about 49 dB). A wrongly decoded block is off by tens of levels.
fn assert_same_decode(ours: &RgbImage, ffmpeg: &RgbImage, what: &str) {
    let max = ours
        .as_raw()
        .iter()
        .zip(ffmpeg.as_raw())
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap();
    let db = psnr(ours, ffmpeg);
    assert!(
        max <= 6 && db > 45.0,
        "{what}: {db:.1} dB, up to {max} levels from ffmpeg's decode of the same stream"
    );
}

/// Frames as ffmpeg decodes them (rgb24), for comparing with our decoder.
fn ffmpeg_frames(path: &Path, w: u32, h: u32) -> Vec<RgbImage> {
    let out = tool("ffmpeg")
        .arg("-i")
        .arg(path)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let n = (w * h * 3) as usize;
    out.stdout
        .chunks_exact(n)
        .map(|c| RgbImage::from_raw(w, h, c.to_vec()).unwrap())
        .collect()
}

fn decode_all(path: &Path) -> Vec<(RgbImage, Duration)> {
    let mut r = VideoReader::open(path).unwrap();
    let mut v = Vec::new();
    while let Some(f) = r.next_frame().unwrap() {
        v.push((f.image, f.pts));
    }
    v
}

/// An H.264 clip made by libx264 (`extra` adds options, e.g. B-frames).
fn x264_clip(dir: &Path, name: &str, size: &str, frames: u32, extra: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let src = format!("testsrc=size={size}:rate=25");
    let mut args = vec!["-f", "lavfi", "-i", &src];
    let frames_s = frames.to_string();
    args.extend([
        "-frames:v",
        &frames_s,
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
    ]);
    args.extend(extra);
    let p = path.to_str().unwrap().to_string();
    args.push(&p);
    ffmpeg(&args);
    path
}

fn record(path: &Path, w: u32, h: u32, n: u32, fps: f64) -> Vec<RgbImage> {
    let mut opts = RecorderOptions::new(path);
    opts.queue_len = n as usize + 1; // nothing may be dropped here
    opts.encoder.bitrate_bps = Some(4_000_000);
    let mut rec = Recorder::start(opts).unwrap();
    let t0 = Instant::now();
    let mut sent = Vec::new();
    for i in 0..n {
        let f = test_card(w, h, i);
        rec.push(&f, t0 + Duration::from_secs_f64(f64::from(i) / fps))
            .unwrap();
        sent.push(f);
    }
    assert_eq!(rec.dropped(), 0);
    let out = rec.finish().unwrap();
    assert_eq!(out, path);
    sent
}

// ---------------------------------------------------------------- recording

#[test]
fn recorded_file_is_h264_mp4_that_ffprobe_agrees_with() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.mp4");
    record(&path, 320, 240, 45, 30.0);
    let p = ffprobe(&path);
    assert_eq!(p.codec, "h264");
    assert_eq!((p.width, p.height), (320, 240));
    assert_eq!(p.frames, 45);
    assert!((p.duration - 1.5).abs() < 0.04, "duration {}", p.duration);
}

#[test]
fn own_decoder_reads_recording_at_35db_or_better() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.mp4");
    let sent = record(&path, 320, 240, 40, 30.0);
    let got = decode_all(&path);
    assert_eq!(got.len(), sent.len());
    for (i, ((img, pts), want)) in got.iter().zip(&sent).enumerate() {
        let db = psnr(img, want);
        assert!(db >= 35.0, "frame {i}: {db:.1} dB");
        let expect = Duration::from_secs_f64(i as f64 / 30.0);
        assert!(
            pts.abs_diff(expect) < Duration::from_millis(2),
            "frame {i} at {pts:?}, expected {expect:?}"
        );
    }
}

#[test]
fn variable_frame_rate_capture_times_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vfr.mp4");
    let mut opts = RecorderOptions::new(&path);
    opts.queue_len = 64;
    let mut rec = Recorder::start(opts).unwrap();
    let t0 = Instant::now();
    // Irregular gaps, 2.0 s of capture in total.
    let times_ms = [0u64, 40, 70, 200, 260, 900, 950, 1000, 1500, 1900, 1950];
    for (i, ms) in times_ms.iter().enumerate() {
        rec.push(
            &test_card(160, 120, i as u32),
            t0 + Duration::from_millis(*ms),
        )
        .unwrap();
    }
    rec.finish().unwrap();
    let got = decode_all(&path);
    let pts: Vec<u64> = got.iter().map(|(_, p)| p.as_millis() as u64).collect();
    assert_eq!(pts, times_ms);
    let p = ffprobe(&path);
    assert_eq!(p.frames, times_ms.len() as u64);
    // Last frame lasts as long as the mean frame interval: 1.95 s + 0.195 s.
    assert!((p.duration - 2.145).abs() < 0.03, "duration {}", p.duration);
}

#[test]
fn odd_frame_sizes_are_padded_to_even() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.mp4");
    let sent = record(&path, 37, 23, 10, 30.0);
    let p = ffprobe(&path);
    assert_eq!((p.width, p.height), (38, 24));
    assert_eq!(p.frames, 10);
    let got = decode_all(&path);
    // The picture is intact in the original area and the padding repeats the edge.
    let first = &got[0].0;
    let cropped = image::imageops::crop_imm(first, 0, 0, 37, 23).to_image();
    assert!(psnr(&cropped, &sent[0]) > 30.0);
    let edge = first.get_pixel(36, 10).0;
    let pad = first.get_pixel(37, 10).0;
    for c in 0..3 {
        assert!(edge[c].abs_diff(pad[c]) < 24, "edge {edge:?} pad {pad:?}");
    }
}

#[test]
fn recorder_never_blocks_and_counts_dropped_frames() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("drop.mp4");
    let mut opts = RecorderOptions::new(&path);
    opts.queue_len = 2;
    let mut rec = Recorder::start(opts).unwrap();
    let frame = test_card(1280, 720, 0);
    let t0 = Instant::now();
    for i in 0..60 {
        rec.push(&frame, t0 + Duration::from_millis(i * 33))
            .unwrap();
    }
    // 60 frames of 720p arrive far faster than they encode: some must have been dropped.
    let dropped = rec.dropped();
    let queued = rec.frames_queued();
    assert_eq!(dropped + queued, 60);
    assert!(
        dropped > 0,
        "a 2-frame queue cannot hold 60 frames pushed at once"
    );
    let summary = rec.finish_with_summary().unwrap();
    assert_eq!(summary.frames_written, queued);
    assert_eq!(ffprobe(&path).frames, queued);
}

#[test]
fn dropping_a_recorder_without_finish_still_finalizes_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dropped.mp4");
    let mut opts = RecorderOptions::new(&path);
    opts.queue_len = 64;
    let mut rec = Recorder::start(opts).unwrap();
    let t0 = Instant::now();
    for i in 0..12 {
        rec.push(
            &test_card(96, 64, i),
            t0 + Duration::from_millis(u64::from(i) * 50),
        )
        .unwrap();
    }
    drop(rec);
    let p = ffprobe(&path);
    assert_eq!(p.frames, 12);
    assert!((p.duration - 0.6).abs() < 0.03, "duration {}", p.duration);
}

#[test]
fn recorder_rejects_unsupported_output_and_missing_folder() {
    let dir = tempfile::tempdir().unwrap();
    let err = Recorder::start(RecorderOptions::new(dir.path().join("x.mkv")))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("MP4") && err.contains("H.264"), "{err}");
    assert!(!dir.path().join("x.mkv").exists());
    let err = Recorder::start(RecorderOptions::new(dir.path().join("nope/x.mp4")))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("does not exist"), "{err}");
}

// ---------------------------------------------------------------- crash safety

const CHILD_ENV: &str = "STYLECAM_TEST_RECORD_FOREVER";

/// Helper process for `kill_9_leaves_a_playable_file`: records the test card until killed.
/// Runs only when that test starts it (with the env var set).
#[test]
#[ignore = "helper process started by kill_9_leaves_a_playable_file"]
fn record_forever_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        panic!("run by kill_9_leaves_a_playable_file only");
    };
    let mut rec = Recorder::start(RecorderOptions::new(&path)).unwrap();
    let start = Instant::now();
    let mut i = 0;
    loop {
        let t = start + Duration::from_millis(i * 40);
        while Instant::now() < t {
            std::thread::sleep(Duration::from_millis(2));
        }
        rec.push(&test_card(320, 240, i as u32), t).unwrap();
        i += 1;
    }
}

#[test]
fn kill_9_leaves_a_playable_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("killed.mp4");
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "record_forever_child",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_ENV, &path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the file holds at least 30 frames (our reader reads a growing fragmented MP4
    // up to its last complete fragment); a slow machine only takes longer to get there.
    let t0 = Instant::now();
    let frames_on_disk =
        || stylecam::video::VideoReader::open(&path).map_or(0, |r| r.info().frame_count);
    while frames_on_disk() < 30 {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "no 30 frames written in 120 s"
        );
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            child.try_wait().unwrap().is_none(),
            "recording child exited early"
        );
    }
    // SIGKILL: no destructor, no finish().
    child.kill().unwrap();
    child.wait().unwrap();
    let p = ffprobe(&path);
    assert_eq!(p.codec, "h264");
    assert!(p.frames >= 25, "only {} frames survived", p.frames);
    assert!(p.duration >= 1.0, "only {:.2} s survived", p.duration);
    // Our own reader reads the same frames.
    let frames = decode_all(&path);
    assert_eq!(frames.len() as u64, p.frames);
}

// ---------------------------------------------------------------- decoding

#[test]
fn decodes_b_frame_h264_in_display_order() {
    let dir = tempfile::tempdir().unwrap();
    let clip = x264_clip(
        dir.path(),
        "bframes.mp4",
        "160x120",
        30,
        &["-bf", "2", "-profile:v", "high", "-g", "12"],
    );
    let has_b = tool("ffprobe")
        .args([
            "-select_streams",
            "v",
            "-show_frames",
            "-show_entries",
            "frame=pict_type",
            "-of",
            "csv=p=0",
        ])
        .arg(&clip)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&has_b.stdout).contains('B'),
        "fixture should contain B-frames"
    );
    let ours = decode_all(&clip);
    let reference = ffmpeg_frames(&clip, 160, 120);
    assert_eq!(ours.len(), 30);
    assert_eq!(reference.len(), 30);
    for (i, ((img, pts), want)) in ours.iter().zip(&reference).enumerate() {
        assert_same_decode(img, want, &format!("frame {i}"));
        assert_eq!(pts.as_millis(), (i as u128) * 40, "frame {i} pts");
    }
}

#[test]
fn decodes_sizes_that_are_not_multiples_of_16() {
    let dir = tempfile::tempdir().unwrap();
    let clip = x264_clip(dir.path(), "odd.mp4", "202x118", 10, &[]);
    let ours = decode_all(&clip);
    let reference = ffmpeg_frames(&clip, 202, 118);
    assert_eq!(ours.len(), 10);
    assert_eq!(ours[0].0.dimensions(), (202, 118));
    for (i, (a, b)) in ours.iter().zip(&reference).enumerate() {
        assert_same_decode(&a.0, b, &format!("frame {i}"));
    }
}

#[test]
fn reads_ffmpeg_fragmented_mp4() {
    let dir = tempfile::tempdir().unwrap();
    let clip = x264_clip(
        dir.path(),
        "frag.mp4",
        "128x96",
        20,
        &["-movflags", "frag_keyframe+empty_moov", "-g", "5"],
    );
    assert_eq!(decode_all(&clip).len(), 20);
}

// ---------------------------------------------------------------- offline stylize

fn invert(input: &RgbImage, output: &mut RgbImage) -> stylecam::Result<()> {
    for (o, i) in output.as_mut().iter_mut().zip(input.as_raw()) {
        *o = 255 - i;
    }
    Ok(())
}

#[test]
fn stylize_b_frame_clip_keeps_frames_rate_and_size() {
    let dir = tempfile::tempdir().unwrap();
    let clip = x264_clip(dir.path(), "in.mp4", "160x120", 30, &["-bf", "2"]);
    let out = dir.path().join("out.mp4");
    let report = stylize_video(&clip, &out, VideoStylizeOptions::default(), &mut invert).unwrap();
    assert_eq!(report.frames_written, 30);
    assert!(!report.interrupted);
    assert_eq!(report.audio, AudioOutcome::None);
    let p = ffprobe(&out);
    assert_eq!(
        (p.codec.as_str(), p.width, p.height, p.frames),
        ("h264", 160, 120, 30)
    );
    assert!((p.duration - 1.2).abs() < 0.03, "duration {}", p.duration);
    // The output really is the stylized (inverted) input, frame for frame.
    let src = ffmpeg_frames(&clip, 160, 120);
    let got = decode_all(&out);
    for (i, (g, s)) in got.iter().zip(&src).enumerate() {
        let mut inv = s.clone();
        invert(s, &mut inv).unwrap();
        let db = psnr(&g.0, &inv);
        assert!(db > 30.0, "frame {i}: {db:.1} dB");
    }
}

#[test]
fn stylize_odd_output_size_is_padded() {
    let dir = tempfile::tempdir().unwrap();
    let clip = x264_clip(dir.path(), "in.mp4", "202x118", 8, &[]);
    let out = dir.path().join("out.mp4");
    let opts = VideoStylizeOptions {
        size: Some((101, 59)),
        ..Default::default()
    };
    let mut sizes = Vec::new();
    let report = stylize_video(&clip, &out, opts, &mut |i: &RgbImage, o: &mut RgbImage| {
        sizes.push(i.dimensions());
        o.copy_from_slice(i);
        Ok(())
    })
    .unwrap();
    assert!(sizes.iter().all(|&s| s == (101, 59)));
    assert_eq!((report.width, report.height), (101, 59));
    let p = ffprobe(&out);
    assert_eq!((p.width, p.height, p.frames), (102, 60, 8));
}

#[test]
fn stylize_copies_aac_audio() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("av.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=128x96:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=44100",
        "-t",
        "2",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
        clip.to_str().unwrap(),
    ]);
    let out = dir.path().join("out.mp4");
    let report = stylize_video(&clip, &out, VideoStylizeOptions::default(), &mut invert).unwrap();
    let AudioOutcome::Copied { samples, .. } = report.audio else {
        panic!("audio not copied: {:?}", report.audio);
    };
    assert!(samples > 50);
    let p = ffprobe(&out);
    assert_eq!(p.streams, vec!["h264".to_string(), "aac".to_string()]);
    // The copied audio decodes cleanly and lasts as long as the video.
    let a = tool("ffprobe")
        .args([
            "-select_streams",
            "a:0",
            "-show_entries",
            "stream=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let adur: f64 = String::from_utf8_lossy(&a.stdout).trim().parse().unwrap();
    assert!((adur - 2.0).abs() < 0.1, "audio lasts {adur} s");
    let dec = tool("ffmpeg")
        .arg("-v")
        .arg("error")
        .arg("-i")
        .arg(&out)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    assert!(
        dec.status.success() && dec.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&dec.stderr)
    );
}

#[test]
fn interrupted_stylize_leaves_a_valid_shorter_file() {
    let dir = tempfile::tempdir().unwrap();
    let clip = x264_clip(dir.path(), "in.mp4", "128x96", 50, &[]);
    let out = dir.path().join("out.mp4");
    let flag = Arc::new(AtomicBool::new(false));
    let opts = VideoStylizeOptions {
        interrupt: Some(Arc::clone(&flag)),
        ..Default::default()
    };
    let mut n = 0;
    let report = stylize_video(&clip, &out, opts, &mut |i: &RgbImage, o: &mut RgbImage| {
        n += 1;
        if n == 12 {
            flag.store(true, Ordering::SeqCst); // as a Ctrl-C handler would
        }
        invert(i, o)
    })
    .unwrap();
    assert!(report.interrupted);
    assert_eq!(report.frames_written, 12);
    let p = ffprobe(&out);
    assert_eq!(p.frames, 12);
    assert!((p.duration - 0.48).abs() < 0.03, "duration {}", p.duration);
}

#[test]
fn smoothing_reduces_flicker() {
    let dir = tempfile::tempdir().unwrap();
    let clip = x264_clip(dir.path(), "in.mp4", "96x64", 20, &[]);
    // A "stylizer" that flickers: alternate frames brightened and darkened.
    let flicker = |smooth: f32| {
        let out = dir.path().join(format!("out{smooth}.mp4"));
        let mut k = 0u32;
        let opts = VideoStylizeOptions {
            smooth,
            ..Default::default()
        };
        stylize_video(&clip, &out, opts, &mut |i: &RgbImage, o: &mut RgbImage| {
            k += 1;
            for (o, i) in o.as_mut().iter_mut().zip(i.as_raw()) {
                *o = if k.is_multiple_of(2) {
                    i.saturating_add(40)
                } else {
                    i.saturating_sub(40)
                };
            }
            Ok(())
        })
        .unwrap()
        .flicker_ratio
        .unwrap()
    };
    let raw = flicker(0.0);
    let smoothed = flicker(0.6);
    assert!(raw > 2.0, "raw flicker ratio {raw}");
    assert!(smoothed < raw * 0.5, "smoothed {smoothed} vs raw {raw}");
}

// ---------------------------------------------------------------- errors

fn open_err(path: &Path) -> String {
    VideoReader::open(path)
        .err()
        .expect("should fail")
        .to_string()
}

/// Three frames of ffmpeg's 64×48 test pattern encoded with `codec_args`, as `dir/file`.
fn three_testsrc_frames(dir: &Path, file: &str, codec_args: &[&str]) -> PathBuf {
    let out = dir.join(file);
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=64x48:rate=10",
        "-frames:v",
        "3",
    ];
    args.extend_from_slice(codec_args);
    args.push(out.to_str().unwrap());
    ffmpeg(&args);
    out
}

#[test]
fn unsupported_containers_and_codecs_say_what_is_supported() {
    let dir = tempfile::tempdir().unwrap();
    let mkv = x264_clip(dir.path(), "in.mkv", "64x48", 5, &[]);
    let e = open_err(&mkv);
    assert!(
        e.contains("Matroska") && e.contains("MP4") && e.contains("H.264"),
        "{e}"
    );
    // Same bytes under an .mp4 name: recognised by content.
    let renamed = dir.path().join("really-mkv.mp4");
    std::fs::copy(&mkv, &renamed).unwrap();
    let e = open_err(&renamed);
    assert!(e.contains("Matroska") && e.contains("H.264"), "{e}");

    let vp9 = three_testsrc_frames(dir.path(), "vp9.mp4", &["-c:v", "libvpx-vp9"]);
    let e = open_err(&vp9);
    assert!(e.contains("VP9") && e.contains("H.264"), "{e}");

    let hevc = three_testsrc_frames(
        dir.path(),
        "hevc.mp4",
        &["-c:v", "libx265", "-x265-params", "log-level=error"],
    );
    let e = open_err(&hevc);
    assert!(e.contains("HEVC") && e.contains("H.264"), "{e}");

    let yuv444 = three_testsrc_frames(
        dir.path(),
        "yuv444.mp4",
        &["-c:v", "libx264", "-pix_fmt", "yuv444p"],
    );
    let e = open_err(&yuv444);
    assert!(e.contains("4:4:4") && e.contains("yuv420p"), "{e}");

    let audio_only = dir.path().join("audio.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=duration=1",
        "-c:a",
        "aac",
        audio_only.to_str().unwrap(),
    ]);
    let e = open_err(&audio_only);
    assert!(e.contains("no video track"), "{e}");
}

#[test]
fn truncated_and_non_video_inputs_get_clear_errors_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    // Progressive MP4 with its index at the end, cut in half: the index is gone.
    let clip = x264_clip(dir.path(), "in.mp4", "128x96", 25, &[]);
    let bytes = std::fs::read(&clip).unwrap();
    let cut = dir.path().join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = open_err(&cut);
    assert!(e.contains("truncated"), "{e}");
    // Index at the start (faststart), data cut short.
    let fast = x264_clip(
        dir.path(),
        "fast.mp4",
        "128x96",
        25,
        &["-movflags", "+faststart"],
    );
    let bytes = std::fs::read(&fast).unwrap();
    let cut2 = dir.path().join("cut2.mp4");
    std::fs::write(&cut2, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let e = open_err(&cut2);
    assert!(e.contains("truncated"), "{e}");

    let text = dir.path().join("notes.mp4");
    std::fs::write(&text, "these are not the frames you are looking for\n").unwrap();
    let e = open_err(&text);
    assert!(e.contains("not an MP4") && e.contains("H.264"), "{e}");

    let png = dir.path().join("picture.mp4");
    test_card(16, 16, 0)
        .save_with_format(&png, image::ImageFormat::Png)
        .unwrap();
    let e = open_err(&png);
    assert!(e.contains("PNG"), "{e}");

    let empty = dir.path().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    assert!(open_err(&empty).contains("empty"));

    let missing = dir.path().join("missing.mp4");
    assert!(VideoReader::open(&missing).is_err());

    // stylize_video on bad input leaves no output file behind.
    for bad in [&cut, &cut2, &text, &png, &empty, &missing] {
        let out = dir.path().join("never.mp4");
        let r = stylize_video(bad, &out, VideoStylizeOptions::default(), &mut invert);
        assert!(r.is_err());
        assert!(!out.exists(), "output left behind for {}", bad.display());
    }
    // An unsupported output container is refused before anything is written.
    let out = dir.path().join("out.mkv");
    let e = stylize_video(&clip, &out, VideoStylizeOptions::default(), &mut invert)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("MP4"), "{e}");
    assert!(!out.exists());
}

// ---------------------------------------------------------------- live-view source

#[test]
fn video_file_source_loops_with_growing_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let clip = x264_clip(dir.path(), "loop.mp4", "64x48", 5, &[]);
    let mut src = VideoFileSource::open(&clip, true).unwrap();
    assert!((src.fps() - 25.0).abs() < 0.01);
    src.set_pacing(false);
    let pts: Vec<u128> = (0..12)
        .map(|_| src.next_frame().unwrap().unwrap().1.as_millis())
        .collect();
    assert_eq!(pts, (0..12).map(|i| i * 40).collect::<Vec<u128>>());

    let mut once = VideoFileSource::open(&clip, false).unwrap();
    let t0 = Instant::now();
    let mut n = 0;
    while once.next_frame().unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 5);
    // Paced: the 5th frame is due at 160 ms.
    assert!(t0.elapsed() >= Duration::from_millis(150));
}
