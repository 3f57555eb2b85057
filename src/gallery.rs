//! Contact sheets for `stylecam gallery`: a grid of photos (rows) × styles (columns) under a
//! header row that names each column, so styles can be chosen by looking.
//!
//! No ONNX Runtime and no command line here: [`read_photo`] loads a row's photo at
//! [`scaled_size`], [`select_styles`] picks the columns from the models folder, [`Layout`]
//! places the cells and [`compose`] draws the sheet from images already in memory.
//!
//! Every column has the width of the widest cell; every row the height of its tallest cell.
//! Cells smaller than their slot are centred on the dark background, [`GAP`] pixels apart.

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};

use crate::batch::Resize;
use crate::pixels::text::{self, GLYPH};
use crate::styles::{self, Style};
use crate::{Error, Result};

/// Default length of a photo's longer side in the sheet (`--cell`).
pub const DEFAULT_CELL: u32 = 320;
/// Pixels between cells and around the sheet's edge.
pub const GAP: u32 = 8;
/// Pixels above and below a label in the header row.
pub const LABEL_PAD: u32 = 6;
/// Label of the first column (the photo itself).
pub const ORIGINAL_LABEL: &str = "original";
/// Background of the sheet: a neutral dark grey.
pub const BACKGROUND: [u8; 3] = [32, 32, 32];
/// Colour of the header labels.
pub const LABEL_COLOUR: [u8; 3] = [235, 235, 235];

/// Columns at least this wide get labels at scale 2 (16 px glyphs), narrower ones at scale 1.
const SCALE_2_MIN_WIDTH: u32 = 128;

/// The size a `w`×`h` photo is drawn at: scaled (up or down) so that its longer side is
/// `cell`, keeping its aspect ratio; each side at least 1 pixel.
pub fn scaled_size(w: u32, h: u32, cell: u32) -> (u32, u32) {
    let long = w.max(h).max(1) as f64;
    let side = |v: u32| ((v as f64 * cell as f64 / long).round() as u32).max(1);
    (side(w), side(h))
}

/// Reads a photo and scales it to [`scaled_size`] for a `cell`; an unreadable photo is an
/// error naming it.
pub fn read_photo(path: &Path, cell: u32) -> Result<RgbImage> {
    let img = crate::source::image_file::read_rgb(path).map_err(|e| match e {
        Error::Input { path, reason } => Error::Input {
            path,
            reason: format!("{reason}\nFix: leave it out of the photos, or replace the file"),
        },
        other => other,
    })?;
    let (w, h) = scaled_size(img.width(), img.height(), cell);
    Ok(Resize::Exact(w, h).apply(img))
}

/// Checks that there are photos and that writing the sheet to `out` overwrites none of them.
pub fn check_output(photos: &[PathBuf], out: &Path) -> Result<()> {
    if photos.is_empty() {
        return Err(Error::InvalidArgument(
            "no photos given.\nFix: name image files or folders of images before --out".into(),
        ));
    }
    let out = out.canonicalize();
    if let Some(p) = photos
        .iter()
        .find(|p| matches!((&out, p.canonicalize()), (Ok(o), Ok(p)) if *o == p))
    {
        return Err(Error::InvalidArgument(format!(
            "the output is the photo {}.\nFix: choose another --out so the photo is not overwritten",
            p.display()
        )));
    }
    Ok(())
}

/// The glyph scale of the labels over columns `column_width` pixels wide.
pub fn label_scale(column_width: u32) -> usize {
    if column_width >= SCALE_2_MIN_WIDTH {
        2
    } else {
        1
    }
}

/// Height of the header row over columns `column_width` pixels wide.
pub fn header_height(column_width: u32) -> u32 {
    GLYPH as u32 * label_scale(column_width) as u32 + 2 * LABEL_PAD
}

/// `label` as drawn in at most `max_width` pixels at `scale`: whole when it fits, else cut
/// and ended with `..` (the bitmap font has no `…`); empty when not even one glyph fits.
pub fn fit_label(label: &str, max_width: u32, scale: usize) -> String {
    let fits = max_width as usize / (GLYPH * scale.max(1));
    let len = label.chars().count();
    if len <= fits {
        return label.to_string();
    }
    if fits < 3 {
        return label.chars().take(fits).collect();
    }
    let mut cut: String = label.chars().take(fits - 2).collect();
    cut.push_str("..");
    cut
}

/// Where everything goes on a sheet: the header row, then one row per photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Number of columns (the original plus one per style).
    pub columns: usize,
    /// Width of every column (the widest cell).
    pub column_width: u32,
    /// Height of each photo row (its tallest cell), top to bottom.
    pub row_heights: Vec<u32>,
    /// Height of the header row.
    pub header_height: u32,
}

impl Layout {
    /// The layout of `columns` columns over rows whose cells are at most `cell_sizes[r]`
    /// (width, height) in row `r`.
    pub fn new(columns: usize, cell_sizes: &[(u32, u32)]) -> Layout {
        let column_width = cell_sizes.iter().map(|s| s.0).max().unwrap_or(0);
        Layout {
            columns,
            column_width,
            row_heights: cell_sizes.iter().map(|s| s.1).collect(),
            header_height: header_height(column_width),
        }
    }

    /// Width and height of the whole sheet.
    pub fn size(&self) -> (u32, u32) {
        let n = self.columns as u32;
        let width = n * self.column_width + (n + 1) * GAP;
        let rows: u32 = self.row_heights.iter().map(|h| h + GAP).sum();
        (width, GAP + self.header_height + rows + GAP)
    }

    /// Left edge of column `col`.
    pub fn column_x(&self, col: usize) -> u32 {
        GAP + col as u32 * (self.column_width + GAP)
    }

    /// Top edge of the header row.
    pub fn header_y(&self) -> u32 {
        GAP
    }

    /// Top edge of photo row `row`.
    pub fn row_y(&self, row: usize) -> u32 {
        let above: u32 = self.row_heights[..row].iter().map(|h| h + GAP).sum();
        GAP + self.header_height + GAP + above
    }

    /// Top-left corner at which a `w`×`h` image is drawn in cell (`row`, `col`): centred in
    /// the cell's slot.
    pub fn image_origin(&self, row: usize, col: usize, w: u32, h: u32) -> (u32, u32) {
        let dx = self.column_width.saturating_sub(w) / 2;
        let dy = self.row_heights[row].saturating_sub(h) / 2;
        (self.column_x(col) + dx, self.row_y(row) + dy)
    }
}

/// Draws a sheet: `labels` over the columns (one per column) and `rows[r][c]` in cell (r, c).
/// Every row must have one image per label.
pub fn compose(labels: &[String], rows: &[Vec<RgbImage>]) -> Result<RgbImage> {
    if labels.is_empty() || rows.is_empty() {
        return Err(Error::InvalidArgument(
            "a contact sheet needs at least one photo and one column".into(),
        ));
    }
    if let Some(r) = rows.iter().position(|row| row.len() != labels.len()) {
        return Err(Error::InvalidArgument(format!(
            "contact sheet row {r} has {} images for {} column labels",
            rows[r].len(),
            labels.len()
        )));
    }
    let cell_sizes: Vec<(u32, u32)> = rows
        .iter()
        .map(|row| {
            row.iter().fold((0, 0), |(w, h), img| {
                (w.max(img.width()), h.max(img.height()))
            })
        })
        .collect();
    let layout = Layout::new(labels.len(), &cell_sizes);
    let (width, height) = layout.size();
    let mut sheet = RgbImage::from_pixel(width, height, Rgb(BACKGROUND));
    draw_header(&mut sheet, &layout, labels);
    for (r, row) in rows.iter().enumerate() {
        for (c, img) in row.iter().enumerate() {
            let (x, y) = layout.image_origin(r, c, img.width(), img.height());
            image::imageops::replace(&mut sheet, img, i64::from(x), i64::from(y));
        }
    }
    Ok(sheet)
}

/// The column labels, each centred over its column and cut to the column's width.
fn draw_header(sheet: &mut RgbImage, layout: &Layout, labels: &[String]) {
    let scale = label_scale(layout.column_width);
    let y = layout.header_y() + LABEL_PAD;
    for (c, label) in labels.iter().enumerate() {
        let shown = fit_label(label, layout.column_width, scale);
        let w = text::text_width(&shown, scale) as u32;
        let x = layout.column_x(c) + layout.column_width.saturating_sub(w) / 2;
        text::draw_rgb(
            sheet,
            &shown,
            i64::from(x),
            i64::from(y),
            scale,
            LABEL_COLOUR,
        );
    }
}

/// The styles of the sheet's columns from the models folder `dir`: every style, in
/// `stylecam styles` order, when `names` is empty; else the ones named, in that order
/// (resolved like `stylize --style`, so an unknown name is an error listing the known ones).
pub fn select_styles(names: &[String], dir: &Path) -> Result<Vec<Style>> {
    if !names.is_empty() {
        return names.iter().map(|n| styles::find_style(n, dir)).collect();
    }
    let found = styles::discover_styles(dir)?;
    if found.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "no styles installed: {} has no .onnx models.\nFix: pass --models DIR (or set {}) \
             to a folder of style models, or train one with stylecam-train",
            dir.display(),
            styles::MODELS_ENV
        )));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photos_are_scaled_to_the_cell_by_their_longer_side() {
        assert_eq!(scaled_size(640, 480, 320), (320, 240));
        assert_eq!(scaled_size(30, 50, 48), (29, 48));
        assert_eq!(
            scaled_size(10, 5, 40),
            (40, 20),
            "small photos are scaled up"
        );
        assert_eq!(scaled_size(1000, 1, 10), (10, 1), "sides stay ≥ 1 pixel");
    }

    #[test]
    fn output_must_not_be_a_photo() {
        let d = tempfile::tempdir().unwrap();
        let photo = d.path().join("p.png");
        std::fs::write(&photo, b"x").unwrap();
        let err =
            check_output(std::slice::from_ref(&photo), &d.path().join("./p.png")).unwrap_err();
        assert!(err.to_string().contains("choose another --out"), "{err}");
        assert!(check_output(&[photo], &d.path().join("sheet.png")).is_ok());
        assert!(check_output(&[], Path::new("x.png")).is_err());
    }

    #[test]
    fn layout_arithmetic() {
        // Two rows: a landscape 48×32 photo and a portrait 29×48 one; original + 2 styles.
        let l = Layout::new(3, &[(48, 32), (29, 48)]);
        assert_eq!(l.column_width, 48);
        assert_eq!(l.header_height, 8 + 2 * LABEL_PAD, "scale 1 under 128 px");
        let header = l.header_height;
        assert_eq!(
            l.size(),
            (3 * 48 + 4 * GAP, GAP + header + GAP + 32 + GAP + 48 + GAP)
        );
        assert_eq!(l.column_x(0), GAP);
        assert_eq!(l.column_x(2), GAP + 2 * (48 + GAP));
        assert_eq!(l.row_y(0), 2 * GAP + header);
        assert_eq!(l.row_y(1), 2 * GAP + header + 32 + GAP);
        // The portrait photo is centred horizontally in its 48-wide slot.
        assert_eq!(
            l.image_origin(1, 1, 29, 48),
            (l.column_x(1) + 9, l.row_y(1))
        );
        assert_eq!(header_height(320), 16 + 2 * LABEL_PAD, "scale 2 at 320 px");
    }

    #[test]
    fn labels_are_cut_to_the_column() {
        assert_eq!(fit_label("udnie", 320, 2), "udnie");
        // 48 px at scale 1 = 6 glyphs.
        assert_eq!(fit_label("starry_night", 48, 1), "star..");
        assert_eq!(fit_label("abcdef", 48, 1), "abcdef");
        assert_eq!(fit_label("abcdef", 16, 1), "ab");
        assert_eq!(fit_label("composition_vii", 100, 2), "comp..");
        for (label, width, scale) in [("composition_vii", 100, 2), ("x", 3, 1)] {
            let shown = fit_label(label, width, scale);
            assert!(text::text_width(&shown, scale) <= width as usize);
        }
    }

    #[test]
    fn compose_places_cells_and_labels() {
        let a = RgbImage::from_pixel(20, 10, Rgb([200, 0, 0]));
        let b = RgbImage::from_pixel(10, 20, Rgb([0, 200, 0]));
        let labels = vec!["original".to_string(), "s".to_string()];
        let sheet = compose(&labels, &[vec![a.clone(), a], vec![b.clone(), b]]).unwrap();
        let l = Layout::new(2, &[(20, 10), (10, 20)]);
        assert_eq!(sheet.dimensions(), l.size());
        let (x, y) = l.image_origin(1, 1, 10, 20);
        assert_eq!(sheet.get_pixel(x, y).0, [0, 200, 0]);
        assert_eq!(sheet.get_pixel(l.column_x(1), y).0, BACKGROUND, "padding");
        let header_lit = (0..sheet.width())
            .flat_map(|x| (0..l.header_height).map(move |y| (x, y + GAP)))
            .any(|(x, y)| sheet.get_pixel(x, y).0 == LABEL_COLOUR);
        assert!(header_lit, "the header has label pixels");
        let err = compose(&labels, &[vec![RgbImage::new(2, 2)]]).unwrap_err();
        assert!(err.to_string().contains("1 images for 2 column labels"));
    }
}
