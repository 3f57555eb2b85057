//! H.264 encoding and decoding with OpenH264 (built from source by the `openh264` crate).
//!
//! The encoder takes even-sized RGB frames and returns AVCC access units (4-byte NAL lengths,
//! parameter sets split off); the decoder takes AVCC samples and returns RGB frames in display
//! order, B-frame streams included.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use image::RgbImage;
use openh264::decoder::{DecodeOptions, Decoder, DecoderConfig, Flush};
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, QpRange, RateControlMode,
};
use openh264::formats::{RgbSliceU8, YUVBuffer, YUVSource};
use openh264::{OpenH264API, Timestamp};

use crate::{Error, Result};

/// How hard to compress.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EncoderSettings {
    /// Target bit rate in bits/s; `None` picks one from the size and frame rate
    /// (0.2 bits per pixel per frame, at least 300 kbit/s).
    pub bitrate_bps: Option<u32>,
    /// Nominal frame rate, used by the rate control (timestamps still come from the caller).
    pub fps: f32,
    /// Quality floor: the largest quantizer the encoder may use (0..=51, lower = better quality
    /// and bigger files). The default, 28, keeps test pictures above 35 dB PSNR.
    pub max_qp: u8,
}

impl Default for EncoderSettings {
    fn default() -> Self {
        Self {
            bitrate_bps: None,
            fps: 30.0,
            max_qp: 28,
        }
    }
}

impl EncoderSettings {
    /// The bit rate that will be used for a `width`×`height` stream.
    pub fn effective_bitrate(&self, width: u32, height: u32) -> u32 {
        self.bitrate_bps.unwrap_or_else(|| {
            let bits = f64::from(width) * f64::from(height) * f64::from(self.fps.max(1.0)) * 0.2;
            (bits as u32).max(300_000)
        })
    }
}

/// Parses a bit rate for `--bitrate`: `4M`, `800k`, `2.5m` or plain bits/s (`1500000`).
pub fn parse_bitrate(text: &str) -> Result<u32> {
    let t = text.trim().to_ascii_lowercase();
    let (number, scale) = match t.strip_suffix(['k', 'm']) {
        Some(n) if t.ends_with('k') => (n, 1e3),
        Some(n) => (n, 1e6),
        None => (t.as_str(), 1.0),
    };
    let value = number
        .parse::<f64>()
        .ok()
        .map(|v| v * scale)
        .filter(|v| v.is_finite() && *v >= 10_000.0 && *v <= 500e6);
    value.map(|v| v as u32).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "bit rate '{text}' is not valid: use e.g. 800k, 4M or 2500000 (10k..500M bits/s)"
        ))
    })
}

/// One encoded frame.
#[derive(Debug, Clone)]
pub struct EncodedFrame {
    /// NAL units with 4-byte big-endian length prefixes (no SPS/PPS).
    pub avcc: Vec<u8>,
    pub key: bool,
}

/// H.264 encoder for RGB frames of one fixed, even size.
pub struct H264Encoder {
    encoder: Encoder,
    yuv: YUVBuffer,
    width: u32,
    height: u32,
    sps: Option<Vec<u8>>,
    pps: Option<Vec<u8>>,
}

impl H264Encoder {
    /// Creates an encoder for `width`×`height` frames (both even, ≤ 3840×2160).
    pub fn new(width: u32, height: u32, settings: EncoderSettings) -> Result<Self> {
        if width == 0 || height == 0 || !width.is_multiple_of(2) || !height.is_multiple_of(2) {
            return Err(Error::InvalidArgument(format!(
                "H.264 needs even frame sizes, got {width}x{height} (pad the frame first)"
            )));
        }
        if width.max(height) > 3840 || width.min(height) > 2160 {
            return Err(Error::InvalidArgument(format!(
                "{width}x{height} is larger than OpenH264 can encode (3840x2160); use a smaller --size"
            )));
        }
        let config = EncoderConfig::new()
            .bitrate(BitRate::from_bps(settings.effective_bitrate(width, height)))
            .max_frame_rate(FrameRate::from_hz(settings.fps.clamp(1.0, 240.0)))
            .rate_control_mode(RateControlMode::Bitrate)
            .skip_frames(false)
            .qp(QpRange::new(
                settings.max_qp.min(51).min(12),
                settings.max_qp.min(51),
            ));
        let mut encoder = Encoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| Error::Video(format!("OpenH264 encoder could not start: {e}")))?;
        // Silence OpenH264's own logging before it initialises (it prints a warning about frame
        // skipping to stdout otherwise); failures still come back as return codes.
        // ENCODER_OPTION_TRACE_LEVEL = 25 and WELS_LOG_QUIET = 0 in codec_app_def.h.
        let mut quiet: u32 = 0;
        // SAFETY: the encoder was just created; OpenH264 accepts the trace-level option before
        // initialisation and reads a uint32 from the pointer during the call only.
        unsafe {
            encoder
                .raw_api()
                .set_option(25, std::ptr::addr_of_mut!(quiet).cast());
        }
        Ok(Self {
            encoder,
            yuv: YUVBuffer::new(width as usize, height as usize),
            width,
            height,
            sps: None,
            pps: None,
        })
    }

    /// Frame size this encoder takes.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// SPS and PPS of the stream (available after the first keyframe).
    pub fn parameter_sets(&self) -> Option<(&[u8], &[u8])> {
        Some((self.sps.as_deref()?, self.pps.as_deref()?))
    }

    /// Encodes one frame shown at `pts_ms`. `force_key` makes it an IDR frame.
    /// Returns `None` when the encoder produced no picture for this frame.
    pub fn encode(
        &mut self,
        frame: &RgbImage,
        pts_ms: u64,
        force_key: bool,
    ) -> Result<Option<EncodedFrame>> {
        if frame.dimensions() != (self.width, self.height) {
            return Err(Error::InvalidArgument(format!(
                "frame is {}x{} but the encoder was set up for {}x{}",
                frame.width(),
                frame.height(),
                self.width,
                self.height
            )));
        }
        self.yuv.read_rgb8(RgbSliceU8::new(
            frame.as_raw(),
            (self.width as usize, self.height as usize),
        ));
        if force_key {
            self.encoder.force_intra_frame();
        }
        let bitstream = self
            .encoder
            .encode_at(&self.yuv, Timestamp::from_millis(pts_ms))
            .map_err(|e| Error::Video(format!("H.264 encoding failed: {e}")))?;
        let frame_type = bitstream.frame_type();
        if matches!(frame_type, FrameType::Skip | FrameType::Invalid) {
            return Ok(None);
        }
        let mut avcc = Vec::new();
        for l in 0..bitstream.num_layers() {
            let Some(layer) = bitstream.layer(l) else {
                continue;
            };
            for n in 0..layer.nal_count() {
                let Some(nal) = layer.nal_unit(n) else {
                    continue;
                };
                let nal = strip_start_code(nal);
                if nal.is_empty() {
                    continue;
                }
                match nal[0] & 0x1F {
                    7 => self.sps = Some(nal.to_vec()),
                    8 => self.pps = Some(nal.to_vec()),
                    _ => {
                        avcc.extend_from_slice(&(nal.len() as u32).to_be_bytes());
                        avcc.extend_from_slice(nal);
                    }
                }
            }
        }
        if avcc.is_empty() {
            return Ok(None);
        }
        Ok(Some(EncodedFrame {
            avcc,
            key: matches!(frame_type, FrameType::IDR | FrameType::I),
        }))
    }
}

/// Removes a leading Annex B start code (00 00 01 or 00 00 00 01).
fn strip_start_code(nal: &[u8]) -> &[u8] {
    let zeros = nal.iter().take_while(|&&b| b == 0).count();
    if zeros >= 2 && nal.get(zeros) == Some(&1) {
        &nal[zeros + 1..]
    } else {
        nal
    }
}

/// A decoded frame and the presentation time (track ticks) of the sample it came from.
pub struct DecodedPicture {
    pub image: RgbImage,
    pub pts: i64,
}

/// H.264 decoder for AVCC samples (as stored in MP4).
pub struct H264Decoder {
    decoder: Decoder,
    nal_length_size: usize,
    /// SPS + PPS in Annex B form, sent before every keyframe.
    headers: Vec<u8>,
    annexb: Vec<u8>,
    /// Presentation times of samples sent but not yet returned, smallest first.
    pending_pts: BinaryHeap<Reverse<i64>>,
}

impl H264Decoder {
    /// Creates a decoder for a stream with the given parameter sets and NAL length size.
    pub fn new(sps: &[Vec<u8>], pps: &[Vec<u8>], nal_length_size: usize) -> Result<Self> {
        let config = DecoderConfig::new().flush_after_decode(Flush::NoFlush);
        let decoder = Decoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| Error::Video(format!("OpenH264 decoder could not start: {e}")))?;
        let mut headers = Vec::new();
        for nal in sps.iter().chain(pps) {
            headers.extend_from_slice(&[0, 0, 0, 1]);
            headers.extend_from_slice(nal);
        }
        if !(1..=4).contains(&nal_length_size) {
            return Err(Error::Video(format!(
                "invalid NAL length size {nal_length_size} in the H.264 configuration"
            )));
        }
        Ok(Self {
            decoder,
            nal_length_size,
            headers,
            annexb: Vec::new(),
            pending_pts: BinaryHeap::new(),
        })
    }

    /// Decodes one sample; any pictures that became ready are appended to `out`.
    pub fn decode(
        &mut self,
        sample: &[u8],
        pts: i64,
        key: bool,
        out: &mut Vec<DecodedPicture>,
    ) -> Result<()> {
        self.annexb.clear();
        if key {
            self.annexb.extend_from_slice(&self.headers);
        }
        let n = self.nal_length_size;
        let mut pos = 0usize;
        while pos < sample.len() {
            let Some(len_bytes) = sample.get(pos..pos + n) else {
                return Err(Error::Video("corrupt H.264 sample (cut NAL length)".into()));
            };
            let len = len_bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            pos += n;
            let Some(nal) = sample.get(pos..pos + len) else {
                return Err(Error::Video(
                    "corrupt H.264 sample (NAL longer than the sample)".into(),
                ));
            };
            self.annexb.extend_from_slice(&[0, 0, 0, 1]);
            self.annexb.extend_from_slice(nal);
            pos += len;
        }
        self.pending_pts.push(Reverse(pts));
        let options = DecodeOptions::new().flush_after_decode(Flush::NoFlush);
        let picture = self
            .decoder
            .decode_with_options(&self.annexb, options)
            .map_err(|e| Error::Video(format!("H.264 decoding failed: {e}")))?;
        if let Some(yuv) = picture {
            let image = yuv_to_rgb(&yuv);
            let pts = self.pending_pts.pop().map_or(pts, |Reverse(p)| p);
            out.push(DecodedPicture { image, pts });
        }
        Ok(())
    }

    /// Returns the pictures still held for reordering (call after the last sample).
    pub fn flush(&mut self, out: &mut Vec<DecodedPicture>) -> Result<()> {
        let pictures = self
            .decoder
            .flush_remaining()
            .map_err(|e| Error::Video(format!("H.264 decoding failed at the end: {e}")))?;
        for yuv in pictures {
            let image = yuv_to_rgb(&yuv);
            let pts = self.pending_pts.pop().map_or(0, |Reverse(p)| p);
            out.push(DecodedPicture { image, pts });
        }
        self.pending_pts.clear();
        Ok(())
    }
}

fn yuv_to_rgb(yuv: &openh264::decoder::DecodedYUV<'_>) -> RgbImage {
    let (w, h) = yuv.dimensions();
    let mut rgb = vec![0u8; w * h * 3];
    yuv.write_rgb8(&mut rgb);
    RgbImage::from_raw(w as u32, h as u32, rgb).expect("buffer sized for the image")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitrates_parse_with_units() {
        assert_eq!(parse_bitrate("4M").unwrap(), 4_000_000);
        assert_eq!(parse_bitrate("800k").unwrap(), 800_000);
        assert_eq!(parse_bitrate("2.5m").unwrap(), 2_500_000);
        assert_eq!(parse_bitrate("1500000").unwrap(), 1_500_000);
        for bad in ["", "fast", "-3M", "1k", "9000M"] {
            assert!(parse_bitrate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn odd_sizes_are_refused_by_the_encoder() {
        assert!(H264Encoder::new(37, 24, EncoderSettings::default()).is_err());
        assert!(H264Encoder::new(5000, 480, EncoderSettings::default()).is_err());
    }

    #[test]
    fn start_codes_are_stripped() {
        assert_eq!(strip_start_code(&[0, 0, 0, 1, 0x65, 7]), &[0x65, 7]);
        assert_eq!(strip_start_code(&[0, 0, 1, 0x41]), &[0x41]);
        assert_eq!(strip_start_code(&[0x41, 0]), &[0x41, 0]);
    }
}
