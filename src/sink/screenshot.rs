//! Screenshots: the displayed frame as a timestamped PNG in the output folder.

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use image::RgbImage;

use super::{Sink, SinkReport};
use crate::{Error, Result};

/// `YYYYMMDD-HHMMSS-mmm` in UTC for `t`.
pub fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{day:02}-{:02}{:02}{:02}-{:03}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A path `dir/PREFIX-TIMESTAMP.EXT` that does not exist yet (a counter is added on collision).
pub fn timestamped_path(dir: &Path, prefix: &str, ext: &str) -> PathBuf {
    let stamp = timestamp(SystemTime::now());
    let mut path = dir.join(format!("{prefix}-{stamp}.{ext}"));
    let mut n = 1;
    while path.exists() {
        path = dir.join(format!("{prefix}-{stamp}-{n}.{ext}"));
        n += 1;
    }
    path
}

/// Writes `frame` as a PNG into `dir` (created if missing) under a timestamped name.
/// The file appears complete or not at all (written to a temporary name, then renamed).
pub fn save_png(frame: &RgbImage, dir: &Path) -> Result<PathBuf> {
    save_png_as(frame, dir, "stylecam")
}

/// [`save_png`] with the file name starting `prefix-`.
pub fn save_png_as(frame: &RgbImage, dir: &Path, prefix: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| Error::Output {
        path: dir.to_path_buf(),
        reason: format!(
            "cannot create the screenshot folder: {e}. Pass --out-dir with a writable folder"
        ),
    })?;
    let path = timestamped_path(dir, prefix, "png");
    // Atomic (a temporary file renamed into place) and with the umask's permissions.
    super::image_file::write_rgb(frame, &path)?;
    Ok(path)
}

/// The screenshot sink (P in the live view): each frame pushed becomes a PNG in the folder.
/// A failed save is a note, not the end of the sink: the next P may work (e.g. after a `mkdir`).
pub struct Screenshots {
    dir: PathBuf,
    saved: u64,
    notes: Vec<String>,
}

impl Screenshots {
    /// Screenshots into `dir` (created with the first one).
    pub fn new(dir: &Path) -> Screenshots {
        Screenshots {
            dir: dir.to_path_buf(),
            saved: 0,
            notes: Vec::new(),
        }
    }
}

impl Sink for Screenshots {
    fn push(&mut self, frame: &RgbImage, _t: Instant) -> Result<()> {
        let note = match save_png(frame, &self.dir) {
            Ok(p) => {
                self.saved += 1;
                format!("screenshot saved: {}", p.display())
            }
            Err(e) => format!("screenshot failed: {e}"),
        };
        self.notes.push(note);
        Ok(())
    }

    fn notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    fn finish(self: Box<Self>) -> Result<SinkReport> {
        Ok(SinkReport {
            what: "screenshots".into(),
            path: Some(self.dir),
            frames: self.saved,
            dropped: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        assert_eq!(timestamp(UNIX_EPOCH), "19700101-000000-000");
        // 2024-02-29 12:34:56.789 UTC = 1709210096.789
        let t = UNIX_EPOCH + Duration::from_millis(1_709_210_096_789);
        assert_eq!(timestamp(t), "20240229-123456-789");
    }

    #[test]
    fn saves_a_png_that_reads_back_identically() {
        let dir = tempfile::tempdir().unwrap();
        let img = RgbImage::from_fn(13, 7, |x, y| image::Rgb([x as u8 * 9, y as u8 * 30, 77]));
        let a = save_png(&img, &dir.path().join("shots")).unwrap();
        let b = save_png(&img, &dir.path().join("shots")).unwrap();
        assert_ne!(a, b, "two quick screenshots get distinct names");
        assert_eq!(image::open(&a).unwrap().into_rgb8(), img);
    }

    #[test]
    fn unwritable_folder_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let err = save_png(&RgbImage::new(2, 2), &file.join("sub"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("--out-dir"), "{err}");
    }
}
