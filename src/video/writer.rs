//! `VideoWriter`: RGB frames with timestamps → H.264 → fragmented MP4.
//!
//! Handles what H.264 needs: odd sizes are padded to even by repeating the last row/column
//! (said once in the log), frames of another size are rescaled to the file's size, and a
//! keyframe starts every fragment (≤ 1 s apart) so a killed writer loses at most ~1 s.

use std::path::Path;
use std::time::Duration;

use image::RgbImage;

use crate::video::container::check_output_container;
use crate::video::h264::{EncoderSettings, H264Encoder};
use crate::video::mp4_write::{
    AudioPassthrough, FragmentedMp4Writer, MuxSummary, VideoTrackConfig,
};
use crate::Result;

/// Options for [`VideoWriter::create`].
#[derive(Debug, Clone)]
pub struct VideoWriterOptions {
    pub encoder: EncoderSettings,
    /// Ticks per second of the stored timestamps (90 kHz for capture times).
    pub timescale: u32,
    /// Longest time between keyframes; each keyframe starts a new fragment.
    pub keyframe_interval: Duration,
}

impl Default for VideoWriterOptions {
    fn default() -> Self {
        Self {
            encoder: EncoderSettings::default(),
            timescale: 90_000,
            keyframe_interval: Duration::from_secs(1),
        }
    }
}

/// The even size H.264 will store for a `width`×`height` frame.
pub fn even_size(width: u32, height: u32) -> (u32, u32) {
    (width + width % 2, height + height % 2)
}

/// Copies `src` into `dst` (at least as large), repeating the last column/row into the padding.
pub fn pad_into(src: &RgbImage, dst: &mut RgbImage) {
    let (sw, sh) = src.dimensions();
    let (dw, dh) = dst.dimensions();
    let src_row = sw as usize * 3;
    let dst_row = dw as usize * 3;
    let s = src.as_raw();
    let d: &mut [u8] = dst;
    for y in 0..dh as usize {
        let sy = y.min(sh as usize - 1);
        let srow = &s[sy * src_row..(sy + 1) * src_row];
        let drow = &mut d[y * dst_row..(y + 1) * dst_row];
        drow[..src_row].copy_from_slice(srow);
        let last = &srow[src_row - 3..];
        for x in sw as usize..dw as usize {
            drow[x * 3..x * 3 + 3].copy_from_slice(last);
        }
    }
}

/// Encodes frames into an MP4 file.
pub struct VideoWriter {
    encoder: H264Encoder,
    mux: FragmentedMp4Writer,
    /// Size of the frames the caller is expected to send.
    frame_size: (u32, u32),
    /// Even size stored in the file.
    stored_size: (u32, u32),
    padded: Option<RgbImage>,
    resized_note: bool,
    timescale: u32,
    keyframe_interval: Duration,
    last_key: Option<Duration>,
    frames_in: u64,
    frames_encoded: u64,
}

impl VideoWriter {
    /// Creates `path` for frames of `width`×`height` (odd sizes are padded to even).
    pub fn create(
        path: &Path,
        width: u32,
        height: u32,
        options: &VideoWriterOptions,
        audio: Option<AudioPassthrough>,
    ) -> Result<Self> {
        check_output_container(path)?;
        let stored = even_size(width, height);
        if stored != (width, height) {
            tracing::info!(
                "H.264 needs even sizes: {width}x{height} frames are stored as {}x{} \
                 (last row/column repeated)",
                stored.0,
                stored.1
            );
        }
        let encoder = H264Encoder::new(stored.0, stored.1, options.encoder)?;
        let mux = FragmentedMp4Writer::create(
            path,
            VideoTrackConfig {
                width: stored.0,
                height: stored.1,
                timescale: options.timescale,
            },
            audio,
        )?;
        Ok(Self {
            encoder,
            mux,
            frame_size: (width, height),
            stored_size: stored,
            padded: (stored != (width, height)).then(|| RgbImage::new(stored.0, stored.1)),
            resized_note: false,
            timescale: options.timescale,
            keyframe_interval: options.keyframe_interval,
            last_key: None,
            frames_in: 0,
            frames_encoded: 0,
        })
    }

    /// Size of the frames stored in the file (even).
    pub fn stored_size(&self) -> (u32, u32) {
        self.stored_size
    }

    /// Frames given to [`write`](Self::write) so far.
    pub fn frames_in(&self) -> u64 {
        self.frames_in
    }

    /// Encodes `frame`, shown at `pts` from the start of the recording.
    pub fn write(&mut self, frame: &RgbImage, pts: Duration) -> Result<()> {
        self.frames_in += 1;
        let resized;
        let mut frame = frame;
        if frame.dimensions() != self.frame_size {
            if !self.resized_note {
                tracing::warn!(
                    "frame size changed from {}x{} to {}x{} during the recording; \
                     later frames are rescaled to {}x{}",
                    self.frame_size.0,
                    self.frame_size.1,
                    frame.width(),
                    frame.height(),
                    self.frame_size.0,
                    self.frame_size.1
                );
                self.resized_note = true;
            }
            resized = image::imageops::resize(
                frame,
                self.frame_size.0,
                self.frame_size.1,
                image::imageops::FilterType::Triangle,
            );
            frame = &resized;
        }
        let to_encode: &RgbImage = match &mut self.padded {
            Some(buf) => {
                pad_into(frame, buf);
                buf
            }
            None => frame,
        };
        let force_key = match self.last_key {
            None => true,
            Some(k) => pts.saturating_sub(k) >= self.keyframe_interval,
        };
        let pts_ms = pts.as_millis() as u64;
        if let Some(encoded) = self.encoder.encode(to_encode, pts_ms, force_key)? {
            if encoded.key {
                self.last_key = Some(pts);
                if let Some((sps, pps)) = self.encoder.parameter_sets() {
                    self.mux.set_parameter_sets(sps, pps);
                }
            }
            let ticks = (pts.as_nanos() * u128::from(self.timescale) + 500_000_000) / 1_000_000_000;
            self.mux
                .write_video(encoded.avcc, ticks as u64, encoded.key)?;
            self.frames_encoded += 1;
        }
        Ok(())
    }

    /// Writes the last fragment. `last_frame` is how long the last frame is shown
    /// (default: as long as the one before it).
    pub fn finish(self, last_frame: Option<Duration>) -> Result<MuxSummary> {
        let ticks = last_frame
            .map(|d| ((d.as_nanos() * u128::from(self.timescale)) / 1_000_000_000).max(1) as u32);
        self.mux.finish(ticks)
    }
}
