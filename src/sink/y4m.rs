//! YUV4MPEG2 out (`stylecam live --pipe y4m`): the raw format ffmpeg, ffplay, GStreamer and
//! mpv read from a pipe.
//!
//! The stream is constant-rate, as the format says: the header carries the source's frame rate,
//! and each frame is placed by its capture time, so when stylized frames come slower than that
//! rate the last one is repeated, and one that arrives before its slot is due is skipped.
//! The picture is I420 (`C420jpeg`: chroma centred between the lines), BT.601 limited range.

use std::io::{BufWriter, Write};
use std::time::Instant;

use image::RgbImage;

use super::{Sink, SinkReport, StreamInfo};
use crate::pixels::yuv;
use crate::{Error, Result};

/// Writes frames as YUV4MPEG2 to a byte stream.
pub struct Y4mSink {
    out: Box<dyn Write + Send>,
    stream: StreamInfo,
    what: String,
    start: Option<Instant>,
    written: u64,
    yuv: Vec<u8>,
}

impl Y4mSink {
    /// A y4m stream on `out`, of `stream`'s size and rate; `what` names it in messages.
    pub fn new(out: Box<dyn Write + Send>, stream: StreamInfo, what: &str) -> Y4mSink {
        Y4mSink {
            out,
            stream,
            what: what.into(),
            start: None,
            written: 0,
            yuv: Vec::new(),
        }
    }

    /// A y4m stream on standard output (nothing else may write there).
    pub fn stdout(stream: StreamInfo) -> Y4mSink {
        let size = yuv::i420_len(stream.width, stream.height) + 6;
        let out = BufWriter::with_capacity(size, std::io::stdout());
        Y4mSink::new(Box::new(out), stream, "y4m pipe")
    }

    fn fail(&self, e: std::io::Error) -> Error {
        Error::Sink(format!("{} stopped: {e}", self.what))
    }
}

/// The stream header line.
pub fn header(stream: &StreamInfo) -> String {
    let (num, den) = rate_fraction(stream.fps);
    format!(
        "YUV4MPEG2 W{} H{} F{num}:{den} Ip A1:1 C420jpeg XYSCSS=420JPEG XCOLORRANGE=LIMITED\n",
        stream.width, stream.height
    )
}

/// A frame rate as the fraction y4m writes: whole rates as `N:1`, the NTSC ones as
/// `N000:1001`, anything else in thousandths.
pub fn rate_fraction(fps: f64) -> (u64, u64) {
    let fps = fps.clamp(0.001, 1000.0);
    if (fps - fps.round()).abs() < 1e-6 {
        return (fps.round() as u64, 1);
    }
    let ntsc = fps * 1.001;
    if (ntsc - ntsc.round()).abs() < 1e-3 {
        return (ntsc.round() as u64 * 1000, 1001);
    }
    ((fps * 1000.0).round() as u64, 1000)
}

impl Sink for Y4mSink {
    fn push(&mut self, frame: &RgbImage, t: Instant) -> Result<()> {
        let (w, h) = frame.dimensions();
        if (w, h) != (self.stream.width, self.stream.height) {
            return Err(Error::Sink(format!(
                "{}: a {w}x{h} frame in a {}x{} stream",
                self.what, self.stream.width, self.stream.height
            )));
        }
        if self.start.is_none() {
            let head = header(&self.stream);
            self.out
                .write_all(head.as_bytes())
                .map_err(|e| self.fail(e))?;
        }
        let start = *self.start.get_or_insert(t);
        // Frames the stream should hold once this one is in: its slot, and any slot before it.
        let secs = t.saturating_duration_since(start).as_secs_f64();
        let due = (secs * self.stream.fps).floor() as u64 + 1;
        if due <= self.written {
            return Ok(()); // its slot is already filled
        }
        yuv::rgb_to_i420(frame, &mut self.yuv);
        for _ in self.written..due {
            self.out.write_all(b"FRAME\n").map_err(|e| self.fail(e))?;
            self.out.write_all(&self.yuv).map_err(|e| self.fail(e))?;
        }
        self.out.flush().map_err(|e| self.fail(e))?;
        self.written = due;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<SinkReport> {
        self.out.flush().map_err(|e| self.fail(e))?;
        Ok(SinkReport {
            what: self.what.clone(),
            path: None,
            frames: self.written,
            dropped: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    const STREAM: StreamInfo = StreamInfo {
        width: 4,
        height: 2,
        fps: 30.0,
    };

    #[test]
    fn frames_are_placed_by_time_at_the_header_rate() {
        let buf = Shared::default();
        let mut sink: Box<dyn Sink> = Box::new(Y4mSink::new(Box::new(buf.clone()), STREAM, "t"));
        let t0 = Instant::now();
        let grey = RgbImage::from_pixel(4, 2, image::Rgb([128, 128, 128]));
        sink.push(&grey, t0).unwrap();
        // 100 ms later at 30 fps: slots 1, 2 and 3 are due; the gap repeats the new frame.
        sink.push(&grey, t0 + Duration::from_millis(100)).unwrap();
        // Early for slot 4 (at 133 ms): skipped.
        sink.push(&grey, t0 + Duration::from_millis(110)).unwrap();
        let report = sink.finish().unwrap();
        assert_eq!(report.frames, 4);
        let bytes = buf.0.lock().unwrap().clone();
        let head = "YUV4MPEG2 W4 H2 F30:1 Ip A1:1 C420jpeg XYSCSS=420JPEG XCOLORRANGE=LIMITED\n";
        assert!(bytes.starts_with(head.as_bytes()));
        let frame = [b"FRAME\n".as_slice(), &[126; 8], &[128; 4]].concat();
        assert_eq!(bytes.len(), head.len() + 4 * frame.len());
        assert_eq!(
            &bytes[head.len()..head.len() + frame.len()],
            frame.as_slice()
        );
    }

    #[test]
    fn rates_are_written_as_fractions() {
        assert_eq!(rate_fraction(30.0), (30, 1));
        assert_eq!(rate_fraction(30_000.0 / 1001.0), (30_000, 1001));
        assert_eq!(rate_fraction(12.5), (12_500, 1000));
    }

    #[test]
    fn a_frame_of_another_size_is_an_error() {
        let mut sink = Y4mSink::new(Box::new(Shared::default()), STREAM, "t");
        assert!(sink.push(&RgbImage::new(2, 2), Instant::now()).is_err());
    }
}
