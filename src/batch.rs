//! Offline stylization of files: which inputs, which outputs, and the per-file loop behind
//! `stylecam stylize`.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::RgbImage;

use crate::source::image_file::{has_image_extension, read_rgb};
use crate::{Error, Result};

/// Largest value accepted for `--size` sides and `--max-side`.
pub const MAX_SIZE: u32 = 16_384;

/// How inputs are resized before stylization (the output has the stylized size).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Resize {
    /// Keep the input's own resolution.
    #[default]
    Native,
    /// Exactly this width × height.
    Exact(u32, u32),
    /// Scale down (never up) so that the longer side is at most this many pixels.
    MaxSide(u32),
}

impl Resize {
    /// The size an input of `w`×`h` is stylized at.
    pub fn target(&self, w: u32, h: u32) -> (u32, u32) {
        match *self {
            Resize::Native => (w, h),
            Resize::Exact(tw, th) => (tw, th),
            Resize::MaxSide(m) => {
                let long = w.max(h);
                if long <= m {
                    (w, h)
                } else {
                    let s = m as f64 / long as f64;
                    (
                        ((w as f64 * s).round() as u32).max(1),
                        ((h as f64 * s).round() as u32).max(1),
                    )
                }
            }
        }
    }

    /// Apply to an image (no copy when the size does not change).
    pub fn apply(&self, image: RgbImage) -> RgbImage {
        let (w, h) = image.dimensions();
        let (tw, th) = self.target(w, h);
        if (tw, th) == (w, h) {
            image
        } else {
            image::imageops::resize(&image, tw, th, FilterType::Triangle)
        }
    }
}

/// Where outputs go.
#[derive(Debug, Clone)]
pub enum OutputSpec {
    /// One input, one named output file.
    File(PathBuf),
    /// Any number of inputs; each output is `DIR/<relative path>` with the extension `format`
    /// (or the input's own extension when `format` is `None`).
    Dir {
        dir: PathBuf,
        format: Option<String>,
    },
}

/// One input file and the file its stylization is written to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub input: PathBuf,
    pub output: PathBuf,
}

/// Expand folders (recursively, sorted) and pair every input with its output path.
///
/// Folders contribute every file with an image extension; a file named explicitly is taken
/// whatever its extension (its content decides). Refuses to write over an input.
pub fn plan(inputs: &[PathBuf], output: &OutputSpec) -> Result<Vec<Job>> {
    let mut files: Vec<(PathBuf, PathBuf)> = Vec::new(); // (file, path relative to its root)
    for input in inputs {
        if input.is_dir() {
            for f in images_in_folder(input)? {
                let rel = f.strip_prefix(input).unwrap_or(&f).to_path_buf();
                files.push((f, rel));
            }
        } else {
            let name = input
                .file_name()
                .map(PathBuf::from)
                .unwrap_or_else(|| input.clone());
            files.push((input.clone(), name));
        }
    }
    let jobs: Vec<Job> = match output {
        OutputSpec::File(out) => {
            if files.len() != 1 {
                return Err(Error::InvalidArgument(format!(
                    "-o names one output file but there are {} inputs; use --out-dir DIR instead",
                    files.len()
                )));
            }
            vec![Job {
                input: files.remove(0).0,
                output: out.clone(),
            }]
        }
        OutputSpec::Dir { dir, format } => files
            .into_iter()
            .map(|(input, rel)| {
                let mut out = dir.join(rel);
                let ext = format.clone().or_else(|| {
                    input
                        .extension()
                        .map(|e| e.to_string_lossy().to_lowercase())
                        .filter(|e| {
                            crate::sink::image_file::format_for(Path::new(&format!("x.{e}")))
                                .is_ok()
                        })
                });
                out.set_extension(ext.as_deref().unwrap_or("png"));
                Job { input, output: out }
            })
            .collect(),
    };
    for job in &jobs {
        if crate::fsio::same_file(&job.input, &job.output) {
            return Err(Error::InvalidArgument(format!(
                "the output {} is the input itself; choose another output so the original is not overwritten",
                job.output.display()
            )));
        }
    }
    Ok(jobs)
}

/// The image files under `dir` (recursively, symlinks followed but never round a loop),
/// sorted; each entry left out is logged with the reason. An error naming `dir` when there
/// are none.
fn images_in_folder(dir: &Path) -> Result<Vec<PathBuf>> {
    let (found, skipped) = crate::fsio::walk_files(dir, has_image_extension);
    for s in &skipped {
        tracing::warn!("skipped {}: {}", s.path.display(), s.reason);
    }
    if found.is_empty() {
        let reason = match skipped.first() {
            Some(s) if s.path == dir => format!("cannot list the folder: {}", s.reason),
            _ => format!(
                "the folder contains no image files (looked for: {})",
                crate::source::image_file::IMAGE_EXTENSIONS.join(", ")
            ),
        };
        return Err(Error::Input {
            path: dir.to_path_buf(),
            reason,
        });
    }
    Ok(found)
}

/// Image files named by `inputs`: files as given, folders searched recursively (sorted). A
/// folder without images is an error naming it.
pub fn find_images(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            files.extend(images_in_folder(input)?);
        } else {
            files.push(input.clone());
        }
    }
    Ok(files)
}

/// Read, resize and return the image of one job (decode errors name the file).
pub fn load_input(job: &Job, resize: Resize) -> Result<RgbImage> {
    Ok(resize.apply(read_rgb(&job.input)?))
}

/// Make sure the folder an output goes into exists (creating `--out-dir` trees) and is
/// writable, before any time is spent on inference.
pub fn prepare_output_dir(output: &Path, create: bool) -> Result<()> {
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if dir.exists() && !dir.is_dir() {
        return Err(Error::Output {
            path: dir.clone(),
            reason: "exists and is not a folder; choose another output folder".into(),
        });
    }
    if !dir.is_dir() {
        if create {
            std::fs::create_dir_all(&dir).map_err(|e| Error::Output {
                path: dir.clone(),
                reason: format!("cannot create the output folder: {e}"),
            })?;
        } else {
            return Err(Error::Output {
                path: output.to_path_buf(),
                reason: format!(
                    "the folder {} does not exist; create it first or use --out-dir",
                    dir.display()
                ),
            });
        }
    }
    let probe = tempfile::Builder::new()
        .prefix(".stylecam-probe")
        .tempfile_in(&dir)
        .map_err(|e| Error::Output {
            path: output.to_path_buf(),
            reason: format!(
                "the folder {} is not writable ({e}); choose another output",
                dir.display()
            ),
        })?;
    drop(probe);
    crate::sink::image_file::format_for(output)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_side_only_shrinks() {
        assert_eq!(Resize::MaxSide(100).target(400, 200), (100, 50));
        assert_eq!(Resize::MaxSide(1000).target(400, 200), (400, 200));
    }

    #[test]
    fn dir_plan_keeps_relative_names_and_refuses_overwriting_inputs() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("a.jpg"), b"x").unwrap();
        std::fs::write(d.path().join("sub/b.png"), b"x").unwrap();
        std::fs::write(d.path().join("notes.txt"), b"x").unwrap();
        let out = d.path().join("out");
        let jobs = plan(
            &[d.path().to_path_buf()],
            &OutputSpec::Dir {
                dir: out.clone(),
                format: None,
            },
        )
        .unwrap();
        let outs: Vec<_> = jobs.iter().map(|j| j.output.clone()).collect();
        assert_eq!(outs, vec![out.join("a.jpg"), out.join("sub/b.png")]);

        let same = plan(
            &[d.path().join("a.jpg")],
            &OutputSpec::File(d.path().join("a.jpg")),
        );
        assert!(same.unwrap_err().to_string().contains("input itself"));
    }
}
