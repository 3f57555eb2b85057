//! Video-file frame source for the live view: decodes an MP4/H.264 file, paced to its own
//! timestamps, optionally looping.

use std::path::Path;
use std::time::{Duration, Instant};

use image::RgbImage;

use crate::source::{Frame, FrameSource};
use crate::video::VideoReader;
use crate::Result;

/// Frames of a video file, delivered at the file's frame rate.
pub struct VideoFileSource {
    reader: VideoReader,
    looping: bool,
    fps: f64,
    /// Wall-clock time at which presentation time `loop_offset` is due.
    clock_start: Option<Instant>,
    /// Presentation time added to frames of later loops.
    loop_offset: Duration,
    /// Presentation time just past the last frame returned (start of the next loop).
    last_end: Duration,
    frame_duration: Duration,
    pacing: bool,
    index: u64,
    description: String,
}

impl VideoFileSource {
    /// Opens `path`; with `looping` the video restarts at its end forever.
    pub fn open(path: &Path, looping: bool) -> Result<Self> {
        let reader = VideoReader::open(path)?;
        let info = reader.info();
        let fps = if info.fps > 0.0 { info.fps } else { 30.0 };
        let description = format!(
            "{} {}×{} @ {:.1} fps{}",
            path.file_name().unwrap_or_default().to_string_lossy(),
            info.width,
            info.height,
            fps,
            if looping { ", looping" } else { "" }
        );
        Ok(Self {
            reader,
            looping,
            fps,
            clock_start: None,
            loop_offset: Duration::ZERO,
            last_end: Duration::ZERO,
            frame_duration: Duration::from_secs_f64(1.0 / fps),
            pacing: true,
            index: 0,
            description,
        })
    }

    /// Average frame rate of the file.
    pub fn fps(&self) -> f64 {
        self.fps
    }

    /// Frame size.
    pub fn size(&self) -> (u32, u32) {
        let info = self.reader.info();
        (info.width, info.height)
    }

    /// Turns real-time pacing off (frames as fast as they decode), e.g. for tests and benchmarks.
    pub fn set_pacing(&mut self, pacing: bool) {
        self.pacing = pacing;
    }

    /// The next frame and its presentation time (growing across loops). Sleeps until the frame
    /// is due. `None` at the end of a non-looping file.
    pub fn next_frame(&mut self) -> Result<Option<(RgbImage, Duration)>> {
        let frame = match self.reader.next_frame()? {
            Some(f) => f,
            None if self.looping => {
                self.reader.rewind()?;
                self.loop_offset = self.last_end;
                match self.reader.next_frame()? {
                    Some(f) => f,
                    None => return Ok(None),
                }
            }
            None => return Ok(None),
        };
        let pts = self.loop_offset + frame.pts;
        self.last_end = pts + self.frame_duration;
        if self.pacing {
            let start = *self.clock_start.get_or_insert_with(Instant::now);
            let due = start + pts;
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            } else if now - due > Duration::from_millis(500) {
                // Far behind (e.g. the consumer paused): re-anchor instead of racing to catch up.
                self.clock_start = Some(now - pts);
            }
        }
        Ok(Some((frame.image, pts)))
    }
}

impl FrameSource for VideoFileSource {
    fn next_frame(&mut self) -> Result<Option<Frame>> {
        let Some((image, _pts)) = VideoFileSource::next_frame(self)? else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        Ok(Some(Frame {
            image,
            captured: Instant::now(),
            index,
        }))
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}
