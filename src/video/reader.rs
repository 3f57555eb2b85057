//! `VideoReader`: MP4 demux + H.264 decode → RGB frames with presentation times.

use std::collections::VecDeque;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use image::RgbImage;

use crate::video::container::check_input_container;
use crate::video::h264::{DecodedPicture, H264Decoder};
use crate::video::mp4_read::{self, read_mp4, Mp4File};
use crate::video::mp4_write::{AudioPassthrough, AudioSampleRef};
use crate::{Error, Result};

/// What a video file holds.
#[derive(Debug, Clone)]
pub struct VideoInfo {
    pub width: u32,
    pub height: u32,
    /// Average frames per second.
    pub fps: f64,
    pub frame_count: usize,
    pub duration: Duration,
    /// Ticks per second of the video track.
    pub timescale: u32,
    /// Codec of the audio track, if any (e.g. `mp4a` for AAC).
    pub audio_codec: Option<String>,
    /// The file ended inside a box (e.g. a recording that was killed); frames up to there are read.
    pub truncated_tail: bool,
}

/// One decoded frame.
#[derive(Debug, Clone)]
pub struct DecodedFrame {
    pub image: RgbImage,
    /// Presentation time from the start of the video.
    pub pts: Duration,
    /// Presentation time in track ticks (see [`VideoInfo::timescale`]).
    pub pts_ticks: u64,
}

/// Reads the frames of an MP4/H.264 file in presentation order.
pub struct VideoReader {
    path: PathBuf,
    mp4: Mp4File,
    file: File,
    decoder: H264Decoder,
    next_sample: usize,
    flushed: bool,
    ready: VecDeque<DecodedPicture>,
    sample_buf: Vec<u8>,
    /// Smallest presentation time of the track (subtracted so the first frame is at 0).
    pts_base: i64,
}

impl VideoReader {
    /// Opens `path`; fails with a clear message for other containers or codecs, truncated files
    /// and non-video files.
    pub fn open(path: &Path) -> Result<Self> {
        check_input_container(path)?;
        let mp4 = read_mp4(path)?;
        let (file, _) = crate::fsio::open_file(path, crate::fsio::Kind::Video)?;
        let avc = &mp4.video.avc;
        let decoder = H264Decoder::new(&avc.sps, &avc.pps, avc.nal_length_size)?;
        let pts_base = mp4.video.samples.iter().map(|s| s.pts()).min().unwrap_or(0);
        Ok(Self {
            path: path.to_path_buf(),
            mp4,
            file,
            decoder,
            next_sample: 0,
            flushed: false,
            ready: VecDeque::new(),
            sample_buf: Vec::new(),
            pts_base,
        })
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Size, frame rate, frame count, duration and audio of the file.
    pub fn info(&self) -> VideoInfo {
        let v = &self.mp4.video;
        VideoInfo {
            width: v.width,
            height: v.height,
            fps: v.fps(),
            frame_count: v.samples.len(),
            duration: Duration::from_secs_f64(v.duration_secs()),
            timescale: v.timescale,
            audio_codec: self.mp4.audio.as_ref().map(|a| a.codec.clone()),
            truncated_tail: self.mp4.truncated_tail,
        }
    }

    /// The audio track as something the MP4 writer can copy, when it is AAC (`mp4a`).
    /// Returns `Err(reason)` when there is audio that cannot be copied, `Ok(None)` when there is none.
    pub fn audio_passthrough(&self) -> std::result::Result<Option<AudioPassthrough>, String> {
        let Some(a) = &self.mp4.audio else {
            return Ok(None);
        };
        if a.codec != "mp4a" {
            return Err(format!(
                "the audio codec '{}' cannot be copied into MP4 by stylecam (only AAC/mp4a)",
                a.codec
            ));
        }
        Ok(Some(AudioPassthrough {
            sample_entry: a.sample_entry.clone(),
            timescale: a.timescale,
            source: self.path.clone(),
            samples: a
                .samples
                .iter()
                .map(|s| AudioSampleRef {
                    offset: s.offset,
                    size: s.size,
                    dts: s.dts,
                    duration: s.duration,
                })
                .collect(),
        }))
    }

    /// Next frame in presentation order, or `None` at the end.
    pub fn next_frame(&mut self) -> Result<Option<DecodedFrame>> {
        loop {
            if let Some(p) = self.ready.pop_front() {
                let ticks = (p.pts - self.pts_base).max(0) as u64;
                let ts = u64::from(self.mp4.video.timescale);
                let pts = Duration::from_nanos(
                    (u128::from(ticks) * 1_000_000_000 / u128::from(ts)) as u64,
                );
                return Ok(Some(DecodedFrame {
                    image: p.image,
                    pts,
                    pts_ticks: ticks,
                }));
            }
            if self.next_sample < self.mp4.video.samples.len() {
                let s = self.mp4.video.samples[self.next_sample];
                let index = self.next_sample;
                self.next_sample += 1;
                mp4_read::read_sample(&mut self.file, &self.path, &s, &mut self.sample_buf)?;
                let mut out = Vec::new();
                self.decoder
                    .decode(&self.sample_buf, s.pts(), s.key, &mut out)
                    .map_err(|e| Error::Input {
                        path: self.path.clone(),
                        reason: format!("frame {} (decode order): {e}", index + 1),
                    })?;
                self.ready.extend(out);
            } else if !self.flushed {
                self.flushed = true;
                let mut out = Vec::new();
                self.decoder.flush(&mut out).map_err(|e| Error::Input {
                    path: self.path.clone(),
                    reason: e.to_string(),
                })?;
                self.ready.extend(out);
            } else {
                return Ok(None);
            }
        }
    }

    /// Starts again from the first frame (for looping playback).
    pub fn rewind(&mut self) -> Result<()> {
        let avc = &self.mp4.video.avc;
        self.decoder = H264Decoder::new(&avc.sps, &avc.pps, avc.nal_length_size)?;
        self.next_sample = 0;
        self.flushed = false;
        self.ready.clear();
        Ok(())
    }
}
