//! Video files: MP4 demux + H.264 decode (reading), H.264 encode + fragmented-MP4 mux (writing),
//! temporal smoothing, and offline stylization of whole videos.
//!
//! Supported: MP4/MOV containers with H.264 video (any profile OpenH264 decodes, B-frames
//! included); an AAC (or other) audio track is copied unchanged when a video is stylized.
//! Written files are fragmented MP4 (one fragment per ≤ 1 s), so they stay readable when the
//! writing process is killed.

pub mod container;
pub mod h264;
pub mod mp4_read;
pub mod mp4_write;
pub mod reader;
pub mod smooth;
pub mod stylize;
pub mod writer;

pub use container::{check_input_container, check_output_container};
pub use h264::{parse_bitrate, EncoderSettings};
pub use reader::{DecodedFrame, VideoInfo, VideoReader};
pub use smooth::TemporalSmoother;
pub use stylize::{stylize_video, AudioOutcome, VideoReport, VideoStylizeOptions};
pub use writer::{VideoWriter, VideoWriterOptions};
