//! Fragmented MP4 writer (ISO/IEC 14496-12 + 14496-15), written box by box.
//!
//! Layout: `ftyp`, `moov` (with empty sample tables and `mvex`), then one `moof` + `mdat` pair per
//! fragment. Every fragment is written with one `write_all` and flushed, so a process killed at any
//! moment leaves a file that players read up to the last complete fragment.
//!
//! Video samples are H.264 access units in AVCC form (4-byte NAL lengths, no SPS/PPS: those live in
//! the `avcC` box). An optional audio track is copied verbatim from another MP4 (passthrough).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// What the video track holds.
#[derive(Debug, Clone)]
pub struct VideoTrackConfig {
    pub width: u32,
    pub height: u32,
    /// Ticks per second of the sample timestamps given to [`FragmentedMp4Writer::write_video`].
    pub timescale: u32,
}

/// An audio track copied sample by sample from a source MP4.
#[derive(Debug, Clone)]
pub struct AudioPassthrough {
    /// The source's whole sample entry box (e.g. `mp4a` with its `esds`), written unchanged.
    pub sample_entry: Vec<u8>,
    pub timescale: u32,
    /// File the sample bytes are read from.
    pub source: PathBuf,
    /// Samples in decode order, timestamps relative to the track start.
    pub samples: Vec<AudioSampleRef>,
}

/// Where one audio sample lies in the source file and when it plays.
#[derive(Debug, Clone, Copy)]
pub struct AudioSampleRef {
    pub offset: u64,
    pub size: u32,
    pub dts: u64,
    pub duration: u32,
}

/// One encoded video sample waiting for its duration (known when the next one arrives).
struct PendingVideo {
    data: Vec<u8>,
    pts: u64,
    key: bool,
}

/// A finished video sample inside the current fragment.
struct VideoSample {
    data: Vec<u8>,
    duration: u32,
    key: bool,
}

struct AudioState {
    sample_entry: Vec<u8>,
    timescale: u32,
    source: File,
    source_path: PathBuf,
    queue: VecDeque<AudioSampleRef>,
    copied: usize,
}

/// Writes a fragmented MP4 with one H.264 video track and optionally one passthrough audio track.
pub struct FragmentedMp4Writer {
    path: PathBuf,
    file: File,
    config: VideoTrackConfig,
    audio: Option<AudioState>,
    sps: Vec<u8>,
    pps: Vec<u8>,
    header_written: bool,
    sequence: u32,
    /// Decode time (video ticks) of the first sample of the current fragment.
    fragment_start: u64,
    fragment: Vec<VideoSample>,
    pending: Option<PendingVideo>,
    /// Timestamp of the first sample written; later ones are relative to it.
    first_pts: Option<u64>,
    last_duration: u32,
    samples_written: u64,
    /// Decode time just past the last sample written to disk.
    written_end: u64,
    fragment_ticks: u64,
}

/// Summary of a finished file.
#[derive(Debug, Clone)]
pub struct MuxSummary {
    pub path: PathBuf,
    pub video_samples: u64,
    pub duration_secs: f64,
    pub audio_samples: usize,
}

impl FragmentedMp4Writer {
    /// Creates `path` (truncating it). Nothing is written until the first keyframe arrives,
    /// because the `moov` box needs the stream's SPS/PPS.
    pub fn create(
        path: &Path,
        config: VideoTrackConfig,
        audio: Option<AudioPassthrough>,
    ) -> Result<Self> {
        if config.width == 0
            || config.height == 0
            || config.width > 0xFFFF
            || config.height > 0xFFFF
        {
            return Err(Error::InvalidArgument(format!(
                "video size {}x{} cannot be stored in MP4",
                config.width, config.height
            )));
        }
        if config.timescale == 0 {
            return Err(Error::InvalidArgument("video timescale must be > 0".into()));
        }
        let audio = match audio {
            Some(a) => {
                let source = File::open(&a.source).map_err(|e| Error::io(&a.source, e))?;
                Some(AudioState {
                    sample_entry: a.sample_entry,
                    timescale: a.timescale.max(1),
                    source,
                    source_path: a.source,
                    queue: a.samples.into(),
                    copied: 0,
                })
            }
            None => None,
        };
        let file = File::create(path).map_err(|e| Error::Output {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let fragment_ticks = u64::from(config.timescale);
        Ok(Self {
            path: path.to_path_buf(),
            file,
            config,
            audio,
            sps: Vec::new(),
            pps: Vec::new(),
            header_written: false,
            sequence: 0,
            fragment_start: 0,
            fragment: Vec::new(),
            pending: None,
            first_pts: None,
            last_duration: 0,
            samples_written: 0,
            written_end: 0,
            fragment_ticks,
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sets the stream's parameter sets (needed before the first sample).
    pub fn set_parameter_sets(&mut self, sps: &[u8], pps: &[u8]) {
        if !self.header_written {
            self.sps = sps.to_vec();
            self.pps = pps.to_vec();
        }
    }

    /// Adds one access unit (AVCC: 4-byte big-endian NAL lengths) presented at `pts` ticks.
    /// Timestamps must increase; a repeated or earlier one is moved one tick after its predecessor.
    /// A fragment is cut before a keyframe once the open fragment spans ≥ 1 s.
    pub fn write_video(&mut self, avcc: Vec<u8>, pts: u64, key: bool) -> Result<()> {
        let first = *self.first_pts.get_or_insert(pts);
        let mut pts = pts.saturating_sub(first);
        if let Some(prev) = &self.pending {
            if pts <= prev.pts {
                pts = prev.pts + 1;
            }
            let prev = self.pending.take().expect("checked above");
            let duration = u32::try_from(pts - prev.pts).unwrap_or(u32::MAX);
            self.push_sample(prev, duration)?;
        } else if self.samples_written == 0 && self.fragment.is_empty() && !key {
            return Err(Error::Video(
                "the first video sample must be a keyframe (IDR)".into(),
            ));
        }
        let frag_span = pts.saturating_sub(self.fragment_start);
        if key && !self.fragment.is_empty() && frag_span >= self.fragment_ticks {
            self.flush_fragment(pts)?;
        }
        self.pending = Some(PendingVideo {
            data: avcc,
            pts,
            key,
        });
        Ok(())
    }

    fn push_sample(&mut self, sample: PendingVideo, duration: u32) -> Result<()> {
        let duration = duration.max(1);
        self.last_duration = duration;
        self.fragment.push(VideoSample {
            data: sample.data,
            duration,
            key: sample.key,
        });
        Ok(())
    }

    /// Writes everything still buffered. The last frame lasts as long as the one before it
    /// (or `last_frame_ticks` when given). Returns a summary; the file stays valid after any error.
    pub fn finish(mut self, last_frame_ticks: Option<u32>) -> Result<MuxSummary> {
        if let Some(last) = self.pending.take() {
            let duration = last_frame_ticks.unwrap_or(if self.last_duration > 0 {
                self.last_duration
            } else {
                self.config.timescale / 30
            });
            self.push_sample(last, duration)?;
        }
        if !self.fragment.is_empty() {
            let end = self.fragment_start + self.fragment_duration();
            self.flush_fragment(end)?;
        }
        if !self.header_written {
            return Err(Error::Video(format!(
                "no video frames were encoded, so {} was not written",
                self.path.display()
            )));
        }
        self.file.sync_all().map_err(|e| Error::io(&self.path, e))?;
        Ok(MuxSummary {
            path: self.path.clone(),
            video_samples: self.samples_written,
            duration_secs: self.written_end as f64 / f64::from(self.config.timescale),
            audio_samples: self.audio.as_ref().map_or(0, |a| a.copied),
        })
    }

    fn fragment_duration(&self) -> u64 {
        self.fragment.iter().map(|s| u64::from(s.duration)).sum()
    }

    /// Writes the open fragment (video up to `end` ticks, and the audio that plays before `end`).
    fn flush_fragment(&mut self, end: u64) -> Result<()> {
        if !self.header_written {
            self.write_header()?;
        }
        let video = std::mem::take(&mut self.fragment);
        let video_start = self.fragment_start;
        let end_secs = end as f64 / f64::from(self.config.timescale);

        // Audio samples that start before the end of this fragment's video.
        let mut audio_samples: Vec<(AudioSampleRef, Vec<u8>)> = Vec::new();
        if let Some(audio) = &mut self.audio {
            while let Some(s) = audio.queue.front().copied() {
                if s.dts as f64 / f64::from(audio.timescale) >= end_secs {
                    break;
                }
                audio.queue.pop_front();
                let mut data = vec![0u8; s.size as usize];
                audio
                    .source
                    .seek(SeekFrom::Start(s.offset))
                    .and_then(|_| audio.source.read_exact(&mut data))
                    .map_err(|e| Error::Input {
                        path: audio.source_path.clone(),
                        reason: format!("reading an audio sample failed: {e}"),
                    })?;
                audio_samples.push((s, data));
            }
        }

        self.sequence += 1;
        let mut out = Vec::with_capacity(
            1024 + video.iter().map(|s| s.data.len()).sum::<usize>()
                + audio_samples.iter().map(|(_, d)| d.len()).sum::<usize>(),
        );
        let moof = begin_box(&mut out, b"moof");
        let mfhd = begin_full_box(&mut out, b"mfhd", 0, 0);
        put_u32(&mut out, self.sequence);
        end_box(&mut out, mfhd);

        // Video traf.
        let video_offset_pos = write_traf(
            &mut out,
            1,
            video_start,
            video.iter().map(|s| {
                (
                    s.duration,
                    s.data.len() as u32,
                    if s.key {
                        SAMPLE_FLAGS_SYNC
                    } else {
                        SAMPLE_FLAGS_NON_SYNC
                    },
                )
            }),
        );
        let audio_offset_pos = if !audio_samples.is_empty() {
            let start = audio_samples[0].0.dts;
            Some(write_traf(
                &mut out,
                2,
                start,
                audio_samples
                    .iter()
                    .map(|(s, _)| (s.duration, s.size, SAMPLE_FLAGS_SYNC)),
            ))
        } else {
            None
        };
        end_box(&mut out, moof);
        let moof_size = out.len();
        let video_bytes: usize = video.iter().map(|s| s.data.len()).sum();
        let audio_bytes: usize = audio_samples.iter().map(|(_, d)| d.len()).sum();
        patch_u32(&mut out, video_offset_pos, (moof_size + 8) as u32);
        if let Some(pos) = audio_offset_pos {
            patch_u32(&mut out, pos, (moof_size + 8 + video_bytes) as u32);
        }
        put_u32(&mut out, (8 + video_bytes + audio_bytes) as u32);
        out.extend_from_slice(b"mdat");
        for s in &video {
            out.extend_from_slice(&s.data);
        }
        for (_, d) in &audio_samples {
            out.extend_from_slice(d);
        }
        self.file
            .write_all(&out)
            .and_then(|_| self.file.flush())
            .map_err(|e| Error::Output {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        let duration: u64 = video.iter().map(|s| u64::from(s.duration)).sum();
        self.samples_written += video.len() as u64;
        self.fragment_start = video_start + duration;
        self.written_end = self.fragment_start;
        if let Some(a) = &mut self.audio {
            a.copied += audio_samples.len();
        }
        Ok(())
    }

    fn write_header(&mut self) -> Result<()> {
        if self.sps.is_empty() || self.pps.is_empty() {
            return Err(Error::Video(
                "the encoder produced no SPS/PPS before the first frame".into(),
            ));
        }
        let mut out = Vec::with_capacity(1024);
        let ftyp = begin_box(&mut out, b"ftyp");
        out.extend_from_slice(b"iso5");
        put_u32(&mut out, 512);
        for brand in [b"iso5", b"iso6", b"avc1", b"mp41"] {
            out.extend_from_slice(brand);
        }
        end_box(&mut out, ftyp);

        let moov = begin_box(&mut out, b"moov");
        let mvhd = begin_full_box(&mut out, b"mvhd", 0, 0);
        put_u32(&mut out, 0); // creation
        put_u32(&mut out, 0); // modification
        put_u32(&mut out, 1000); // timescale
        put_u32(&mut out, 0); // duration: given by the fragments
        put_u32(&mut out, 0x0001_0000); // rate 1.0
        put_u16(&mut out, 0x0100); // volume 1.0
        out.extend_from_slice(&[0u8; 10]);
        put_matrix(&mut out);
        out.extend_from_slice(&[0u8; 24]); // pre_defined
        put_u32(&mut out, if self.audio.is_some() { 3 } else { 2 }); // next_track_ID
        end_box(&mut out, mvhd);

        self.write_video_trak(&mut out);
        if let Some(audio) = &self.audio {
            write_audio_trak(&mut out, audio);
        }

        let mvex = begin_box(&mut out, b"mvex");
        write_trex(&mut out, 1);
        if self.audio.is_some() {
            write_trex(&mut out, 2);
        }
        end_box(&mut out, mvex);
        end_box(&mut out, moov);

        self.file
            .write_all(&out)
            .and_then(|_| self.file.flush())
            .map_err(|e| Error::Output {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        self.header_written = true;
        Ok(())
    }

    fn write_video_trak(&self, out: &mut Vec<u8>) {
        let (w, h) = (self.config.width, self.config.height);
        let trak = begin_box(out, b"trak");
        write_tkhd(out, 1, false, w, h);
        let mdia = begin_box(out, b"mdia");
        write_mdhd(out, self.config.timescale);
        write_hdlr(out, b"vide", "VideoHandler");
        let minf = begin_box(out, b"minf");
        let vmhd = begin_full_box(out, b"vmhd", 0, 1);
        out.extend_from_slice(&[0u8; 8]); // graphicsmode + opcolor
        end_box(out, vmhd);
        write_dinf(out);
        let stbl = begin_box(out, b"stbl");
        let stsd = begin_full_box(out, b"stsd", 0, 0);
        put_u32(out, 1);
        let avc1 = begin_box(out, b"avc1");
        out.extend_from_slice(&[0u8; 6]);
        put_u16(out, 1); // data_reference_index
        out.extend_from_slice(&[0u8; 16]); // pre_defined + reserved
        put_u16(out, w as u16);
        put_u16(out, h as u16);
        put_u32(out, 0x0048_0000); // 72 dpi
        put_u32(out, 0x0048_0000);
        put_u32(out, 0);
        put_u16(out, 1); // frame_count
        let mut name = [0u8; 32];
        let label = b"stylecam openh264";
        name[0] = label.len() as u8;
        name[1..=label.len()].copy_from_slice(label);
        out.extend_from_slice(&name);
        put_u16(out, 0x0018); // depth
        put_u16(out, 0xFFFF); // pre_defined = -1
        let avcc = begin_box(out, b"avcC");
        out.push(1);
        out.push(self.sps.get(1).copied().unwrap_or(66));
        out.push(self.sps.get(2).copied().unwrap_or(0));
        out.push(self.sps.get(3).copied().unwrap_or(30));
        out.push(0xFF); // 4-byte NAL lengths
        out.push(0xE1); // one SPS
        put_u16(out, self.sps.len() as u16);
        out.extend_from_slice(&self.sps);
        out.push(1); // one PPS
        put_u16(out, self.pps.len() as u16);
        out.extend_from_slice(&self.pps);
        if matches!(self.sps.get(1), Some(100 | 110 | 122 | 144)) {
            out.extend_from_slice(&[0xFD, 0xF8, 0xF8, 0]); // 4:2:0, 8-bit, no SPS ext
        }
        end_box(out, avcc);
        end_box(out, avc1);
        end_box(out, stsd);
        write_empty_tables(out);
        end_box(out, stbl);
        end_box(out, minf);
        end_box(out, mdia);
        end_box(out, trak);
    }
}

const SAMPLE_FLAGS_SYNC: u32 = 0x0200_0000; // depends on no other sample
const SAMPLE_FLAGS_NON_SYNC: u32 = 0x0101_0000; // depends on others, not a sync sample

/// Writes a `traf` and returns the position of its `trun` data_offset field (patched later).
fn write_traf(
    out: &mut Vec<u8>,
    track_id: u32,
    base_decode_time: u64,
    samples: impl ExactSizeIterator<Item = (u32, u32, u32)>,
) -> usize {
    let traf = begin_box(out, b"traf");
    let tfhd = begin_full_box(out, b"tfhd", 0, 0x02_0000); // default-base-is-moof
    put_u32(out, track_id);
    end_box(out, tfhd);
    let tfdt = begin_full_box(out, b"tfdt", 1, 0);
    put_u64(out, base_decode_time);
    end_box(out, tfdt);
    // data-offset, sample duration, size and flags present.
    let trun = begin_full_box(out, b"trun", 0, 0x0001 | 0x0100 | 0x0200 | 0x0400);
    put_u32(out, samples.len() as u32);
    let offset_pos = out.len();
    put_u32(out, 0);
    for (duration, size, flags) in samples {
        put_u32(out, duration);
        put_u32(out, size);
        put_u32(out, flags);
    }
    end_box(out, trun);
    end_box(out, traf);
    offset_pos
}

fn write_audio_trak(out: &mut Vec<u8>, audio: &AudioState) {
    let trak = begin_box(out, b"trak");
    write_tkhd(out, 2, true, 0, 0);
    let mdia = begin_box(out, b"mdia");
    write_mdhd(out, audio.timescale);
    write_hdlr(out, b"soun", "SoundHandler");
    let minf = begin_box(out, b"minf");
    let smhd = begin_full_box(out, b"smhd", 0, 0);
    put_u32(out, 0); // balance + reserved
    end_box(out, smhd);
    write_dinf(out);
    let stbl = begin_box(out, b"stbl");
    let stsd = begin_full_box(out, b"stsd", 0, 0);
    put_u32(out, 1);
    out.extend_from_slice(&audio.sample_entry);
    end_box(out, stsd);
    write_empty_tables(out);
    end_box(out, stbl);
    end_box(out, minf);
    end_box(out, mdia);
    end_box(out, trak);
}

fn write_tkhd(out: &mut Vec<u8>, track_id: u32, audio: bool, width: u32, height: u32) {
    let tkhd = begin_full_box(out, b"tkhd", 0, 3); // enabled, in movie
    put_u32(out, 0);
    put_u32(out, 0);
    put_u32(out, track_id);
    put_u32(out, 0);
    put_u32(out, 0); // duration
    out.extend_from_slice(&[0u8; 8]);
    put_u16(out, 0); // layer
    put_u16(out, if audio { 1 } else { 0 }); // alternate group
    put_u16(out, if audio { 0x0100 } else { 0 }); // volume
    put_u16(out, 0);
    put_matrix(out);
    put_u32(out, width << 16);
    put_u32(out, height << 16);
    end_box(out, tkhd);
}

fn write_mdhd(out: &mut Vec<u8>, timescale: u32) {
    let mdhd = begin_full_box(out, b"mdhd", 0, 0);
    put_u32(out, 0);
    put_u32(out, 0);
    put_u32(out, timescale);
    put_u32(out, 0);
    put_u16(out, 0x55C4); // 'und'
    put_u16(out, 0);
    end_box(out, mdhd);
}

fn write_hdlr(out: &mut Vec<u8>, handler: &[u8; 4], name: &str) {
    let hdlr = begin_full_box(out, b"hdlr", 0, 0);
    put_u32(out, 0);
    out.extend_from_slice(handler);
    out.extend_from_slice(&[0u8; 12]);
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    end_box(out, hdlr);
}

fn write_dinf(out: &mut Vec<u8>) {
    let dinf = begin_box(out, b"dinf");
    let dref = begin_full_box(out, b"dref", 0, 0);
    put_u32(out, 1);
    let url = begin_full_box(out, b"url ", 0, 1); // media is in this file
    end_box(out, url);
    end_box(out, dref);
    end_box(out, dinf);
}

fn write_empty_tables(out: &mut Vec<u8>) {
    for typ in [b"stts", b"stsc", b"stco"] {
        let b = begin_full_box(out, typ, 0, 0);
        put_u32(out, 0);
        end_box(out, b);
    }
    let stsz = begin_full_box(out, b"stsz", 0, 0);
    put_u32(out, 0);
    put_u32(out, 0);
    end_box(out, stsz);
}

fn write_trex(out: &mut Vec<u8>, track_id: u32) {
    let trex = begin_full_box(out, b"trex", 0, 0);
    put_u32(out, track_id);
    put_u32(out, 1); // sample description index
    put_u32(out, 0);
    put_u32(out, 0);
    put_u32(out, 0);
    end_box(out, trex);
}

fn put_matrix(out: &mut Vec<u8>) {
    for v in [0x0001_0000u32, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
        put_u32(out, v);
    }
}

fn begin_box(out: &mut Vec<u8>, typ: &[u8; 4]) -> usize {
    let pos = out.len();
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(typ);
    pos
}

fn begin_full_box(out: &mut Vec<u8>, typ: &[u8; 4], version: u8, flags: u32) -> usize {
    let pos = begin_box(out, typ);
    put_u32(out, (u32::from(version) << 24) | (flags & 0x00FF_FFFF));
    pos
}

fn end_box(out: &mut [u8], pos: usize) {
    let size = (out.len() - pos) as u32;
    patch_u32(out, pos, size);
}

fn patch_u32(out: &mut [u8], pos: usize, value: u32) {
    out[pos..pos + 4].copy_from_slice(&value.to_be_bytes());
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}
