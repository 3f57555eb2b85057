//! MP4 reader: progressive files (sample tables in `moov`) and fragmented ones (`moof` + `trun`),
//! enough to pull H.264 video samples and to copy an audio track.
//!
//! Only the boxes needed for that are parsed; everything else is skipped. A file cut short after
//! its last complete fragment (what a killed recorder leaves) is read up to that fragment.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// What stylecam can read, for error messages.
/// Most samples a track may declare (over 77 hours at 60 fps), and never more than the file has
/// bytes: a corrupt count must not size an allocation of gigabytes nor a loop of billions (found
/// by tests/fuzz_readers.rs).
const MAX_SAMPLES: u64 = 1 << 24;
/// Largest `moov`/`moof` box read into memory.
const MAX_INDEX_BOX: u64 = 256 << 20;

pub const SUPPORTED: &str =
    "stylecam reads MP4/MOV files (.mp4, .m4v, .mov) with H.264 (AVC) video";

/// One sample of a track: where its bytes are and when it is decoded / shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleRef {
    pub offset: u64,
    pub size: u32,
    /// Decode time in track ticks, relative to the track's first sample.
    pub dts: u64,
    pub duration: u32,
    /// Presentation time minus decode time (B-frames), in track ticks.
    pub cts_offset: i64,
    pub key: bool,
}

impl SampleRef {
    /// Presentation time in ticks.
    pub fn pts(&self) -> i64 {
        self.dts as i64 + self.cts_offset
    }
}

/// The H.264 decoder configuration from the `avcC` box.
#[derive(Debug, Clone, Default)]
pub struct AvcConfig {
    pub nal_length_size: usize,
    pub sps: Vec<Vec<u8>>,
    pub pps: Vec<Vec<u8>>,
    pub profile: u8,
}

/// The video track found in the file.
#[derive(Debug, Clone)]
pub struct VideoTrack {
    pub track_id: u32,
    pub timescale: u32,
    pub width: u32,
    pub height: u32,
    pub avc: AvcConfig,
    pub samples: Vec<SampleRef>,
}

impl VideoTrack {
    /// Frames per second from the sample count and total duration (0 when unknown).
    pub fn fps(&self) -> f64 {
        let total: u64 = self.samples.iter().map(|s| u64::from(s.duration)).sum();
        if total == 0 {
            return 0.0;
        }
        self.samples.len() as f64 * f64::from(self.timescale) / total as f64
    }

    /// Total duration in seconds.
    pub fn duration_secs(&self) -> f64 {
        let total: u64 = self.samples.iter().map(|s| u64::from(s.duration)).sum();
        total as f64 / f64::from(self.timescale.max(1))
    }
}

/// An audio track (any codec), kept so it can be copied.
#[derive(Debug, Clone)]
pub struct AudioTrack {
    pub track_id: u32,
    pub timescale: u32,
    /// Four-character code of the sample entry, e.g. `mp4a`.
    pub codec: String,
    /// The whole sample entry box, bytes as in the file.
    pub sample_entry: Vec<u8>,
    pub samples: Vec<SampleRef>,
}

/// A parsed MP4 file.
#[derive(Debug)]
pub struct Mp4File {
    pub path: PathBuf,
    pub video: VideoTrack,
    pub audio: Option<AudioTrack>,
    /// True when the file is fragmented (samples come from `moof` boxes).
    pub fragmented: bool,
    /// True when the file ended inside a box (e.g. a recording that was killed).
    pub truncated_tail: bool,
}

#[derive(Debug, Default, Clone)]
struct TrackBuild {
    track_id: u32,
    timescale: u32,
    handler: [u8; 4],
    entry_type: [u8; 4],
    entry_raw: Vec<u8>,
    width: u32,
    height: u32,
    avc: Option<AvcConfig>,
    stts: Vec<(u32, u32)>,
    ctts: Vec<(u32, i64)>,
    stsc: Vec<(u32, u32)>,
    stsz: Vec<u32>,
    chunk_offsets: Vec<u64>,
    stss: Option<Vec<u32>>,
    trex_duration: u32,
    trex_size: u32,
    trex_flags: u32,
    samples: Vec<SampleRef>,
    next_dts: u64,
}

fn bad(path: &Path, reason: impl Into<String>) -> Error {
    Error::Input {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// A cursor over a byte slice with big-endian reads that fail instead of panicking.
struct Cur<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cur<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes")))
    }
    fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }
    fn full_header(&mut self) -> Option<(u8, u32)> {
        let v = self.u32()?;
        Some(((v >> 24) as u8, v & 0x00FF_FFFF))
    }
}

/// Iterates over the child boxes of `data`: yields (type, body, start of the box within data).
fn children(data: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8], usize)> {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        if pos + 8 > data.len() {
            return None;
        }
        let start = pos;
        let size32 = u32::from_be_bytes(data[pos..pos + 4].try_into().ok()?) as u64;
        let typ: [u8; 4] = data[pos + 4..pos + 8].try_into().ok()?;
        let (header, size) = match size32 {
            0 => (8u64, (data.len() - pos) as u64),
            1 => {
                let large = u64::from_be_bytes(data.get(pos + 8..pos + 16)?.try_into().ok()?);
                (16, large)
            }
            s => (8, s),
        };
        if size < header || pos as u64 + size > data.len() as u64 {
            return None;
        }
        let body = &data[pos + header as usize..pos + size as usize];
        pos += size as usize;
        Some((typ, body, start))
    })
}

fn child<'a>(data: &'a [u8], typ: &[u8; 4]) -> Option<&'a [u8]> {
    children(data).find(|(t, _, _)| t == typ).map(|(_, b, _)| b)
}

fn fourcc(t: &[u8; 4]) -> String {
    t.iter()
        .map(|&c| {
            if c.is_ascii_graphic() || c == b' ' {
                c as char
            } else {
                '?'
            }
        })
        .collect()
}

/// Reads the MP4 structure of `path` (no sample data is read).
pub fn read_mp4(path: &Path) -> Result<Mp4File> {
    let (mut file, meta) = crate::fsio::open_file(path, crate::fsio::Kind::Video)?;
    let len = meta.len();
    if len == 0 {
        return Err(bad(path, format!("the file is empty. {SUPPORTED}")));
    }
    let mut magic = [0u8; 12];
    let n = file
        .read(&mut magic)
        .map_err(|e| bad(path, e.to_string()))?;
    sniff_unsupported(path, &magic[..n])?;

    let mut tracks: Vec<TrackBuild> = Vec::new();
    let mut have_moov = false;
    let mut fragmented = false;
    let mut truncated_tail = false;
    let mut saw_mp4_box = false;
    let mut pos = 0u64;
    while pos + 8 <= len {
        let mut header = [0u8; 16];
        file.seek(SeekFrom::Start(pos))
            .and_then(|_| file.read_exact(&mut header[..8]))
            .map_err(|e| bad(path, e.to_string()))?;
        let size32 = u32::from_be_bytes(header[0..4].try_into().expect("4"));
        let typ: [u8; 4] = header[4..8].try_into().expect("4");
        if !typ.iter().all(|c| c.is_ascii_alphanumeric() || *c == b' ') {
            if saw_mp4_box {
                truncated_tail = true;
                break;
            }
            return Err(bad(
                path,
                format!("not an MP4 file (no MP4 boxes at the start). {SUPPORTED}"),
            ));
        }
        let (hlen, size) = match size32 {
            0 => (8u64, len - pos),
            1 => {
                if pos + 16 > len {
                    truncated_tail = true;
                    break;
                }
                file.read_exact(&mut header[8..16])
                    .map_err(|e| bad(path, e.to_string()))?;
                (16, u64::from_be_bytes(header[8..16].try_into().expect("8")))
            }
            s => (8, u64::from(s)),
        };
        if size < hlen {
            return Err(bad(
                path,
                format!("corrupt MP4 box '{}' at byte {pos}", fourcc(&typ)),
            ));
        }
        if !saw_mp4_box
            && !matches!(
                &typ,
                b"ftyp" | b"moov" | b"mdat" | b"free" | b"skip" | b"wide" | b"pnot" | b"styp"
            )
        {
            return Err(bad(
                path,
                format!(
                    "not an MP4 file (starts with '{}'). {SUPPORTED}",
                    fourcc(&typ)
                ),
            ));
        }
        saw_mp4_box = true;
        if pos + size > len {
            truncated_tail = true;
            if &typ != b"mdat" {
                break;
            }
        }
        if &typ == b"moov" || &typ == b"moof" {
            if pos + size > len {
                break;
            }
            if size > MAX_INDEX_BOX {
                return Err(bad(
                    path,
                    format!(
                        "its index ('{}' box) is {} MiB, more than the {} MiB accepted; \
                         the file is corrupt or not a video stylecam can read",
                        fourcc(&typ),
                        size >> 20,
                        MAX_INDEX_BOX >> 20
                    ),
                ));
            }
            let mut body = vec![0u8; (size - hlen) as usize];
            file.seek(SeekFrom::Start(pos + hlen))
                .and_then(|_| file.read_exact(&mut body))
                .map_err(|e| bad(path, e.to_string()))?;
            if &typ == b"moov" {
                parse_moov(path, &body, &mut tracks, MAX_SAMPLES.min(len))?;
                have_moov = true;
            } else {
                if !have_moov {
                    return Err(bad(
                        path,
                        "a fragment (moof) comes before the movie header (moov)",
                    ));
                }
                fragmented = true;
                parse_moof(&body, pos, &mut tracks, MAX_SAMPLES.min(len));
            }
        }
        pos += size;
    }
    if !have_moov {
        return Err(bad(
            path,
            "no movie header (moov box) found: the file is truncated or was not finished \
             (an MP4 written by a program that was killed has its index missing)",
        ));
    }

    // Pick the tracks.
    let video_idx = tracks.iter().position(|t| &t.handler == b"vide");
    let Some(video_idx) = video_idx else {
        return Err(bad(
            path,
            format!("the file has no video track. {SUPPORTED}"),
        ));
    };
    let vt = &tracks[video_idx];
    match &vt.entry_type {
        b"avc1" | b"avc3" => {}
        other => {
            let codec = match other {
                b"hvc1" | b"hev1" => "HEVC (H.265)".to_string(),
                b"vp09" => "VP9".to_string(),
                b"vp08" => "VP8".to_string(),
                b"av01" => "AV1".to_string(),
                b"mp4v" => "MPEG-4 Part 2".to_string(),
                o => format!("'{}'", fourcc(o)),
            };
            return Err(bad(
                path,
                format!(
                    "its video codec is {codec}, which stylecam cannot decode. {SUPPORTED}. \
                     Convert it first, e.g. `ffmpeg -i IN -c:v libx264 -c:a copy OUT.mp4`"
                ),
            ));
        }
    }
    let Some(avc) = vt.avc.clone() else {
        return Err(bad(path, "the H.264 track has no avcC configuration box"));
    };
    if avc.sps.is_empty() || avc.pps.is_empty() {
        return Err(bad(path, "the H.264 configuration (avcC) has no SPS/PPS"));
    }
    let profile = avc.sps[0].get(1).copied().unwrap_or(avc.profile);
    let unsupported_profile = match profile {
        110 => Some("High 10 (10-bit)"),
        122 => Some("High 4:2:2"),
        244 => Some("High 4:4:4"),
        44 => Some("CAVLC 4:4:4"),
        _ => None,
    };
    if let Some(name) = unsupported_profile {
        return Err(bad(
            path,
            format!(
                "its H.264 profile is {name}, which OpenH264 cannot decode (it decodes 8-bit 4:2:0: \
                 Baseline, Main and High). {SUPPORTED}. Convert it first, e.g. \
                 `ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p -c:a copy OUT.mp4`"
            ),
        ));
    }
    let video_samples = finalize_samples(path, vt, fragmented, len)?;
    if video_samples.is_empty() {
        return Err(bad(path, "the video track has no frames"));
    }
    let video = VideoTrack {
        track_id: vt.track_id,
        timescale: vt.timescale.max(1),
        width: vt.width,
        height: vt.height,
        avc,
        samples: video_samples,
    };
    let audio = tracks.iter().find(|t| &t.handler == b"soun").and_then(|t| {
        let samples = finalize_samples(path, t, fragmented, len).ok()?;
        Some(AudioTrack {
            track_id: t.track_id,
            timescale: t.timescale.max(1),
            codec: fourcc(&t.entry_type),
            sample_entry: t.entry_raw.clone(),
            samples,
        })
    });
    Ok(Mp4File {
        path: path.to_path_buf(),
        video,
        audio,
        fragmented,
        truncated_tail,
    })
}

/// Rejects well-known containers that are not MP4, by their magic bytes.
fn sniff_unsupported(path: &Path, magic: &[u8]) -> Result<()> {
    let what = if magic.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        Some("a Matroska/WebM (.mkv/.webm) container")
    } else if magic.starts_with(b"RIFF") {
        Some("a RIFF (AVI/WAV/WebP) file")
    } else if magic.first() == Some(&0x47) && path_ext(path) == "ts" {
        Some("an MPEG transport stream")
    } else if magic.starts_with(b"FLV") {
        Some("an FLV container")
    } else if magic.starts_with(b"OggS") {
        Some("an Ogg container")
    } else if magic.starts_with(&[0x89, b'P', b'N', b'G']) {
        Some("a PNG image")
    } else if magic.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("a JPEG image")
    } else if magic.starts_with(&[0, 0, 0, 1]) || magic.starts_with(&[0, 0, 1]) {
        Some("a raw H.264/H.265 elementary stream without a container")
    } else {
        None
    };
    match what {
        Some(what) => Err(bad(
            path,
            format!(
                "this is {what}, which stylecam cannot read. {SUPPORTED}. Convert it first, e.g. \
                 `ffmpeg -i IN -c:v copy -c:a copy OUT.mp4` (H.264 inside) or \
                 `ffmpeg -i IN -c:v libx264 OUT.mp4`"
            ),
        )),
        None => Ok(()),
    }
}

fn path_ext(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

fn parse_moov(
    path: &Path,
    moov: &[u8],
    tracks: &mut Vec<TrackBuild>,
    max_samples: u64,
) -> Result<()> {
    for (typ, body, _) in children(moov) {
        match &typ {
            b"trak" => {
                if let Some(t) = parse_trak(body, max_samples) {
                    tracks.push(t);
                }
            }
            b"mvex" => {
                for (t, trex, _) in children(body) {
                    if &t != b"trex" {
                        continue;
                    }
                    let mut c = Cur::new(trex);
                    let parsed = (|| {
                        c.full_header()?;
                        Some((c.u32()?, c.u32()?, c.u32()?, c.u32()?, c.u32()?))
                    })();
                    if let Some((id, _desc, dur, size, flags)) = parsed {
                        if let Some(tr) = tracks.iter_mut().find(|tr| tr.track_id == id) {
                            tr.trex_duration = dur;
                            tr.trex_size = size;
                            tr.trex_flags = flags;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if tracks.is_empty() {
        return Err(bad(path, "the movie header (moov) has no tracks"));
    }
    Ok(())
}

fn parse_trak(trak: &[u8], max_samples: u64) -> Option<TrackBuild> {
    let mut t = TrackBuild::default();
    let tkhd = child(trak, b"tkhd")?;
    let mut c = Cur::new(tkhd);
    let (v, _) = c.full_header()?;
    c.skip(if v == 1 { 16 } else { 8 })?;
    t.track_id = c.u32()?;
    let mdia = child(trak, b"mdia")?;
    let mdhd = child(mdia, b"mdhd")?;
    let mut c = Cur::new(mdhd);
    let (v, _) = c.full_header()?;
    c.skip(if v == 1 { 16 } else { 8 })?;
    t.timescale = c.u32()?;
    let hdlr = child(mdia, b"hdlr")?;
    let mut c = Cur::new(hdlr);
    c.full_header()?;
    c.skip(4)?;
    t.handler = c.take(4)?.try_into().ok()?;
    let stbl = child(child(mdia, b"minf")?, b"stbl")?;
    for (typ, body, _) in children(stbl) {
        let mut c = Cur::new(body);
        match &typ {
            b"stsd" => {
                c.full_header()?;
                let count = c.u32()?;
                if count >= 1 {
                    let entries = &body[8..];
                    if let Some((etype, ebody, _)) = children(entries).next() {
                        t.entry_type = etype;
                        let size = ebody.len() + 8;
                        t.entry_raw = entries[..size].to_vec();
                        if &t.handler == b"vide" {
                            // VisualSampleEntry: 6+2 reserved/index, 16 pre_defined, then w, h.
                            let mut e = Cur::new(ebody);
                            e.skip(24)?;
                            t.width = u32::from(e.u16()?);
                            t.height = u32::from(e.u16()?);
                            // Child boxes start after the 78-byte visual sample entry.
                            if let Some(kids) = ebody.get(78..) {
                                if let Some(avcc) = child(kids, b"avcC") {
                                    t.avc = parse_avcc(avcc);
                                }
                            }
                        }
                    }
                }
            }
            b"stts" => {
                c.full_header()?;
                let n = c.u32()?;
                for _ in 0..n {
                    t.stts.push((c.u32()?, c.u32()?));
                }
            }
            b"ctts" => {
                let (v, _) = c.full_header()?;
                let n = c.u32()?;
                for _ in 0..n {
                    let count = c.u32()?;
                    let raw = c.u32()?;
                    let off = if v == 1 {
                        i64::from(raw as i32)
                    } else {
                        i64::from(raw)
                    };
                    t.ctts.push((count, off));
                }
            }
            b"stsc" => {
                c.full_header()?;
                let n = c.u32()?;
                for _ in 0..n {
                    let first = c.u32()?;
                    let per = c.u32()?;
                    c.u32()?;
                    t.stsc.push((first, per));
                }
            }
            b"stsz" => {
                c.full_header()?;
                let fixed = c.u32()?;
                let n = c.u32()?;
                if u64::from(n) > max_samples {
                    return None;
                }
                if fixed != 0 {
                    t.stsz = vec![fixed; n as usize];
                } else {
                    for _ in 0..n {
                        t.stsz.push(c.u32()?);
                    }
                }
            }
            b"stco" => {
                c.full_header()?;
                let n = c.u32()?;
                for _ in 0..n {
                    t.chunk_offsets.push(u64::from(c.u32()?));
                }
            }
            b"co64" => {
                c.full_header()?;
                let n = c.u32()?;
                for _ in 0..n {
                    t.chunk_offsets.push(c.u64()?);
                }
            }
            b"stss" => {
                c.full_header()?;
                let n = c.u32()?;
                let mut v = Vec::with_capacity(u64::from(n).min(max_samples) as usize);
                for _ in 0..n {
                    v.push(c.u32()?);
                }
                t.stss = Some(v);
            }
            _ => {}
        }
    }
    Some(t)
}

fn parse_avcc(body: &[u8]) -> Option<AvcConfig> {
    let mut c = Cur::new(body);
    c.u8()?; // version
    let profile = c.u8()?;
    c.u8()?;
    c.u8()?;
    let nal_length_size = usize::from(c.u8()? & 3) + 1;
    let nsps = c.u8()? & 0x1F;
    let mut sps = Vec::new();
    for _ in 0..nsps {
        let n = usize::from(c.u16()?);
        sps.push(c.take(n)?.to_vec());
    }
    let npps = c.u8()?;
    let mut pps = Vec::new();
    for _ in 0..npps {
        let n = usize::from(c.u16()?);
        pps.push(c.take(n)?.to_vec());
    }
    Some(AvcConfig {
        nal_length_size,
        sps,
        pps,
        profile,
    })
}

fn parse_moof(moof: &[u8], moof_start: u64, tracks: &mut [TrackBuild], max_samples: u64) {
    for (typ, traf, _) in children(moof) {
        if &typ != b"traf" {
            continue;
        }
        let _ = parse_traf(traf, moof_start, tracks, max_samples);
    }
}

fn parse_traf(
    traf: &[u8],
    moof_start: u64,
    tracks: &mut [TrackBuild],
    max_samples: u64,
) -> Option<()> {
    let tfhd = child(traf, b"tfhd")?;
    let mut c = Cur::new(tfhd);
    let (_, flags) = c.full_header()?;
    let id = c.u32()?;
    let t = tracks.iter_mut().find(|t| t.track_id == id)?;
    let mut base = moof_start;
    if flags & 0x1 != 0 {
        base = c.u64()?;
    }
    if flags & 0x2 != 0 {
        c.u32()?;
    }
    let default_duration = if flags & 0x8 != 0 {
        c.u32()?
    } else {
        t.trex_duration
    };
    let default_size = if flags & 0x10 != 0 {
        c.u32()?
    } else {
        t.trex_size
    };
    let default_flags = if flags & 0x20 != 0 {
        c.u32()?
    } else {
        t.trex_flags
    };
    if let Some(tfdt) = child(traf, b"tfdt") {
        let mut c = Cur::new(tfdt);
        let (v, _) = c.full_header()?;
        t.next_dts = if v == 1 {
            c.u64()?
        } else {
            u64::from(c.u32()?)
        };
    }
    let mut data_pos = base;
    for (typ, trun, _) in children(traf) {
        if &typ != b"trun" {
            continue;
        }
        let mut c = Cur::new(trun);
        let (v, fl) = c.full_header()?;
        let count = c.u32()?;
        // Without per-sample fields nothing bounds the count by the box's size.
        if t.samples.len() as u64 + u64::from(count) > max_samples {
            return None;
        }
        if fl & 0x1 != 0 {
            data_pos = (base as i64 + i64::from(c.u32()? as i32)) as u64;
        }
        let first_flags = if fl & 0x4 != 0 { Some(c.u32()?) } else { None };
        for i in 0..count {
            let duration = if fl & 0x100 != 0 {
                c.u32()?
            } else {
                default_duration
            };
            let size = if fl & 0x200 != 0 {
                c.u32()?
            } else {
                default_size
            };
            let mut sflags = if fl & 0x400 != 0 {
                c.u32()?
            } else {
                default_flags
            };
            if i == 0 {
                if let Some(f) = first_flags {
                    sflags = f;
                }
            }
            let cts = if fl & 0x800 != 0 {
                let raw = c.u32()?;
                if v == 1 {
                    i64::from(raw as i32)
                } else {
                    i64::from(raw)
                }
            } else {
                0
            };
            t.samples.push(SampleRef {
                offset: data_pos,
                size,
                dts: t.next_dts,
                duration,
                cts_offset: cts,
                key: sflags & 0x0001_0000 == 0,
            });
            data_pos += u64::from(size);
            t.next_dts += u64::from(duration);
        }
    }
    Some(())
}

/// Builds the final sample list of a track (progressive tables first, then fragments), checks
/// that each sample lies inside the file, and makes decode times start at zero.
fn finalize_samples(
    path: &Path,
    t: &TrackBuild,
    fragmented: bool,
    len: u64,
) -> Result<Vec<SampleRef>> {
    let mut samples = progressive_samples(path, t)?;
    samples.extend(t.samples.iter().copied());
    let complete = samples
        .iter()
        .position(|s| s.offset + u64::from(s.size) > len)
        .unwrap_or(samples.len());
    if complete < samples.len() {
        if !fragmented {
            return Err(bad(
                path,
                format!(
                    "the file is truncated: its index lists {} frames/samples but the data of \
                     sample {} lies past the end of the file ({len} bytes)",
                    samples.len(),
                    complete + 1
                ),
            ));
        }
        tracing::warn!(
            "{}: dropping {} samples cut off at the end of the file",
            path.display(),
            samples.len() - complete
        );
        samples.truncate(complete);
    }
    if let Some(first) = samples.first().map(|s| s.dts) {
        for s in &mut samples {
            s.dts -= first;
        }
    }
    Ok(samples)
}

fn progressive_samples(path: &Path, t: &TrackBuild) -> Result<Vec<SampleRef>> {
    let n = t.stsz.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let corrupt = |what: &str| bad(path, format!("corrupt sample table ({what})"));
    // Offsets from chunks.
    let mut offsets = Vec::with_capacity(n);
    let mut sample = 0usize;
    for (ci, &chunk_off) in t.chunk_offsets.iter().enumerate() {
        let chunk_no = ci as u32 + 1;
        let per = t
            .stsc
            .iter()
            .rev()
            .find(|(first, _)| *first <= chunk_no)
            .map(|(_, p)| *p)
            .ok_or_else(|| corrupt("stsc"))?;
        let mut off = chunk_off;
        for _ in 0..per {
            if sample >= n {
                break;
            }
            offsets.push(off);
            off += u64::from(t.stsz[sample]);
            sample += 1;
        }
    }
    if offsets.len() != n {
        return Err(corrupt("chunks do not cover all samples"));
    }
    let mut durations = Vec::with_capacity(n);
    for &(count, delta) in &t.stts {
        for _ in 0..count {
            if durations.len() < n {
                durations.push(delta);
            }
        }
    }
    let last = durations.last().copied().unwrap_or(0);
    durations.resize(n, last);
    let mut cts = Vec::with_capacity(n);
    for &(count, off) in &t.ctts {
        for _ in 0..count {
            if cts.len() < n {
                cts.push(off);
            }
        }
    }
    cts.resize(n, 0);
    let mut key = vec![t.stss.is_none(); n];
    if let Some(stss) = &t.stss {
        for &i in stss {
            if let Some(k) = key.get_mut((i as usize).wrapping_sub(1)) {
                *k = true;
            }
        }
    }
    let mut dts = 0u64;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(SampleRef {
            offset: offsets[i],
            size: t.stsz[i],
            dts,
            duration: durations[i],
            cts_offset: cts[i],
            key: key[i],
        });
        dts += u64::from(durations[i]);
    }
    Ok(out)
}

/// Reads the bytes of one sample.
pub fn read_sample(file: &mut File, path: &Path, s: &SampleRef, buf: &mut Vec<u8>) -> Result<()> {
    buf.resize(s.size as usize, 0);
    file.seek(SeekFrom::Start(s.offset))
        .and_then(|_| file.read_exact(buf))
        .map_err(|e| {
            bad(
                path,
                format!("reading a sample at byte {} failed: {e}", s.offset),
            )
        })
}
