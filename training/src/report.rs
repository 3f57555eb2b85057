//! What a user watches: the CSV of losses, a PNG loss curve and PNG grids of fixed content images
//! next to their stylisation.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use image::RgbImage;
use plotters::prelude::*;

use crate::checkpoint::write_atomic;
use crate::loss::{LossValues, LossWeights};
use crate::{Error, Result};

/// Header of `losses.csv`.
pub const CSV_HEADER: &str =
    "step,content,style,tv,total,weighted_content,weighted_style,weighted_tv,images_per_s,data_wait_ms,elapsed_s,teacher,stability,weighted_teacher,weighted_stability";

/// One row of `losses.csv`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossRow {
    pub step: u64,
    pub losses: LossValues,
    pub images_per_s: f64,
    pub data_wait_ms: f64,
    pub elapsed_s: f64,
}

impl LossRow {
    fn to_line(self, w: &LossWeights) -> String {
        let l = self.losses;
        format!(
            "{},{:e},{:e},{:e},{:e},{:e},{:e},{:e},{:.3},{:.3},{:.3},{:e},{:e},{:e},{:e}\n",
            self.step,
            l.content,
            l.style,
            l.tv,
            l.total,
            w.content * l.content,
            w.style * l.style,
            w.tv * l.tv,
            self.images_per_s,
            self.data_wait_ms,
            self.elapsed_s,
            l.teacher,
            l.stability,
            w.teacher * l.teacher,
            w.stability * l.stability
        )
    }

    fn parse(line: &str) -> Option<Self> {
        let f: Vec<&str> = line.trim().split(',').collect();
        // 11 fields: files written before the distillation terms existed.
        if f.len() != 11 && f.len() != 15 {
            return None;
        }
        let n = |i: usize| f[i].parse::<f64>().ok();
        let extra = |i: usize| if f.len() == 15 { n(i) } else { Some(0.0) };
        Some(Self {
            step: f[0].parse().ok()?,
            losses: LossValues {
                content: n(1)?,
                style: n(2)?,
                tv: n(3)?,
                teacher: extra(11)?,
                stability: extra(12)?,
                total: n(4)?,
            },
            images_per_s: n(8)?,
            data_wait_ms: n(9)?,
            elapsed_s: n(10)?,
        })
    }
}

/// Reads `losses.csv` (rows that do not parse are ignored).
pub fn read_csv(path: &Path) -> Result<Vec<LossRow>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    Ok(text.lines().skip(1).filter_map(LossRow::parse).collect())
}

/// Appends one line per step to `losses.csv`.
pub struct CsvLog {
    path: PathBuf,
    file: std::fs::File,
    weights: LossWeights,
}

impl CsvLog {
    /// Starts a new file, or — when resuming — keeps the rows up to `keep_through` (later rows
    /// came from steps that the checkpoint does not contain and will be recomputed).
    pub fn open(
        path: &Path,
        weights: LossWeights,
        keep_through: Option<u64>,
    ) -> Result<(Self, Vec<LossRow>)> {
        let rows = match keep_through {
            Some(step) if path.exists() => read_csv(path)?
                .into_iter()
                .filter(|r| r.step <= step)
                .collect(),
            _ => Vec::new(),
        };
        let mut text = String::from(CSV_HEADER);
        text.push('\n');
        for r in &rows {
            text.push_str(&r.to_line(&weights));
        }
        write_atomic(path, text.as_bytes())?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        Ok((
            Self {
                path: path.to_path_buf(),
                file,
                weights,
            },
            rows,
        ))
    }

    pub fn append(&mut self, row: LossRow) -> Result<()> {
        self.file
            .write_all(row.to_line(&self.weights).as_bytes())
            .map_err(|e| Error::io(&self.path, e))
    }
}

/// Registers a system sans-serif font with plotters once; `false` when none is found (plots are
/// then drawn without text).
fn font_available() -> bool {
    static FONT: OnceLock<bool> = OnceLock::new();
    *FONT.get_or_init(|| {
        const CANDIDATES: &[&str] = &[
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/TTF/DejaVuSans.ttf",
            "/usr/share/fonts/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
            "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
            "/usr/share/fonts/truetype/noto/NotoSansMono-Regular.ttf",
            "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
            "/Library/Fonts/Arial.ttf",
            "/System/Library/Fonts/Supplemental/Arial.ttf",
        ];
        for path in CANDIDATES {
            if let Ok(bytes) = std::fs::read(path) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        false
    })
}

#[allow(clippy::type_complexity)]
/// Draws log10 of the weighted loss terms and the total against the step, as a PNG.
pub fn plot_losses(path: &Path, rows: &[LossRow], weights: &LossWeights) -> Result<()> {
    const W: u32 = 900;
    const H: u32 = 500;
    let fail = |e: String| Error::Output {
        path: path.to_path_buf(),
        reason: e,
    };
    let series: [(&str, RGBColor, Box<dyn Fn(&LossValues) -> f64>); 6] = [
        ("total", BLACK, Box::new(|l| l.total)),
        (
            "content",
            BLUE,
            Box::new(move |l| l.content * weights.content),
        ),
        ("style", RED, Box::new(move |l| l.style * weights.style)),
        ("TV", GREEN, Box::new(move |l| l.tv * weights.tv)),
        (
            "teacher",
            MAGENTA,
            Box::new(move |l| l.teacher * weights.teacher),
        ),
        (
            "stability",
            CYAN,
            Box::new(move |l| l.stability * weights.stability),
        ),
    ];
    let points: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|(_, _, f)| {
            rows.iter()
                .filter_map(|r| {
                    let v = f(&r.losses);
                    (v > 0.0 && v.is_finite()).then(|| (r.step as f64, v.log10()))
                })
                .collect()
        })
        .collect();
    let all = points.iter().flatten();
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 - x0 < 1.0 {
        x1 = x0 + 1.0;
    }
    let pad = ((y1 - y0) * 0.05).max(0.05);
    let (y0, y1) = (y0 - pad, y1 + pad);

    let mut buf = vec![255u8; (W * H * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        let text = font_available();
        let mut builder = ChartBuilder::on(&root);
        builder.margin(15);
        if text {
            builder
                .caption("weighted losses (log10)", ("sans-serif", 20))
                .x_label_area_size(35)
                .y_label_area_size(50);
        }
        let mut chart = builder
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| fail(e.to_string()))?;
        if text {
            chart
                .configure_mesh()
                .x_desc("step")
                .y_desc("log10(weighted loss)")
                .draw()
                .map_err(|e| fail(e.to_string()))?;
        }
        for ((name, color, _), pts) in series.iter().zip(&points) {
            let s = chart
                .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                .map_err(|e| fail(e.to_string()))?;
            if text {
                let c = *color;
                s.label(*name).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                });
            }
        }
        if text {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(|e| fail(e.to_string()))?;
        }
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    let img = RgbImage::from_raw(W, H, buf).expect("buffer size matches");
    save_png(&img, path)
}

/// Rows of images (e.g. the fixed content images, their stylisation, the teacher's), one cell
/// each, on white with 4 px gaps.
pub fn sample_grid(rows: &[&[RgbImage]]) -> RgbImage {
    let all = || rows.iter().flat_map(|r| r.iter());
    let cell_w = all().map(|i| i.width()).max().unwrap_or(1);
    let cell_h = all().map(|i| i.height()).max().unwrap_or(1);
    let gap = 4;
    let n = rows.iter().map(|r| r.len()).max().unwrap_or(0).max(1) as u32;
    let r = rows.len().max(1) as u32;
    let mut grid = RgbImage::from_pixel(
        n * cell_w + (n + 1) * gap,
        r * cell_h + (r + 1) * gap,
        image::Rgb([255, 255, 255]),
    );
    for (j, row) in rows.iter().enumerate() {
        let y = gap + j as u32 * (cell_h + gap);
        for (i, img) in row.iter().enumerate() {
            let x = gap + i as u32 * (cell_w + gap);
            image::imageops::replace(&mut grid, img, x as i64, y as i64);
        }
    }
    grid
}

/// Encodes a PNG and writes it atomically.
pub fn save_png(img: &RgbImage, path: &Path) -> Result<()> {
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .map_err(|e| Error::Output {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    write_atomic(path, &bytes)
}
