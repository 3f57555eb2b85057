//! Video files: MP4 demux + H.264 decode (reading), H.264 encode + fragmented-MP4 mux (writing),
//! temporal smoothing, and offline stylization of whole videos.
//!
//! Supported: MP4/MOV containers with H.264 video (any profile OpenH264 decodes, B-frames
//! included); an AAC (or other) audio track is copied unchanged when a video is stylized.
//! Written files are fragmented MP4 (one fragment per ≤ 1 s), so they stay readable when the
//! writing process is killed.

pub mod container;
#[cfg(feature = "video")]
pub mod h264;
pub mod mp4_read;
#[cfg(feature = "video")]
pub mod mp4_write;
#[cfg(feature = "video")]
pub mod reader;
pub mod smooth;
#[cfg(feature = "video")]
pub mod stylize;
#[cfg(feature = "video")]
pub mod writer;

pub use container::{check_input_container, check_output_container};
#[cfg(feature = "video")]
pub use h264::{parse_bitrate, EncoderSettings};
#[cfg(feature = "video")]
pub use reader::{DecodedFrame, VideoInfo, VideoReader};
pub use smooth::TemporalSmoother;
#[cfg(feature = "video")]
pub use stylize::{stylize_video, AudioOutcome, VideoReport, VideoStylizeOptions};
#[cfg(feature = "video")]
pub use writer::{VideoWriter, VideoWriterOptions};
