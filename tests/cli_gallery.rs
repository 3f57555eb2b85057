//! `stylecam gallery` through the real binary: a contact sheet of generated photos × fixture
//! styles (random weights, written with the library's ONNX writer), checked cell by cell.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::imageops::FilterType;
use image::{Rgb, RgbImage};
use stylecam::gallery::{self, Layout, GAP};
use stylecam::net::onnx::{random_weights, write_model, ModelMetadata};
use stylecam::net::ImfwArch;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stylecam"));
    c.env_remove("STYLECAM_MODELS").env("RUST_LOG", "warn");
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn write_style(dir: &Path, name: &str, seed: u64) -> PathBuf {
    let arch = ImfwArch::new(8, 1);
    let bytes = write_model(
        &arch,
        &random_weights(&arch, seed),
        &ModelMetadata::new(name),
    )
    .unwrap();
    let p = dir.join(format!("{name}.onnx"));
    std::fs::write(&p, bytes).unwrap();
    p
}

/// A photo-like test image: gradients plus a checker of hard edges.
fn test_image(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let edge = if (x / 5 + y / 4) % 2 == 0 { 50 } else { 0 };
        Rgb([
            ((x * 255) / w) as u8,
            ((y * 255) / h) as u8,
            (((x + y) * 3) % 200) as u8 + edge,
        ])
    })
}

/// A folder of two styles, `alpha` and `beta` (in that order), and two photos in another.
struct Fixture {
    _dir: tempfile::TempDir,
    models: PathBuf,
    photos: Vec<PathBuf>,
    out: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir(&models).unwrap();
    write_style(&models, "alpha", 1);
    write_style(&models, "beta", 2);
    // A landscape and a portrait photo, neither side a multiple of 4.
    let photos = vec![dir.path().join("wide.png"), dir.path().join("tall.png")];
    test_image(60, 40).save(&photos[0]).unwrap();
    test_image(30, 50).save(&photos[1]).unwrap();
    let out = dir.path().join("sheet.png");
    Fixture {
        _dir: dir,
        models,
        photos,
        out,
    }
}

fn gallery(f: &Fixture, extra: &[&str]) -> Output {
    bin()
        .args(["--device", "cpu", "--models"])
        .arg(&f.models)
        .arg("gallery")
        .args(&f.photos)
        .args(["--cell", "48", "--out"])
        .arg(&f.out)
        .args(extra)
        .output()
        .expect("failed to start the stylecam binary")
}

fn crop(img: &RgbImage, x: u32, y: u32, w: u32, h: u32) -> RgbImage {
    image::imageops::crop_imm(img, x, y, w, h).to_image()
}

fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

#[test]
fn sheet_has_a_header_and_one_row_per_photo_one_column_per_style() {
    let f = fixture();
    let o = gallery(&f, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let sheet = image::open(&f.out).unwrap().to_rgb8();

    // 60×40 → 48×32, 30×50 → 29×48; columns 48 wide: original, alpha, beta.
    let sizes = [(48, 32), (29, 48)];
    let header = gallery::header_height(48);
    assert_eq!(
        sheet.dimensions(),
        (3 * 48 + 4 * GAP, GAP + header + GAP + 32 + GAP + 48 + GAP),
        "header + 2 rows × 3 columns"
    );

    let layout = Layout::new(3, &sizes);
    for (r, (path, &(w, h))) in f.photos.iter().zip(&sizes).enumerate() {
        let photo = image::open(path).unwrap().to_rgb8();
        let scaled = image::imageops::resize(&photo, w, h, FilterType::Triangle);
        let cell = |c: usize| {
            let (x, y) = layout.image_origin(r, c, w, h);
            crop(&sheet, x, y, w, h)
        };
        let original = cell(0);
        let diff = mean_abs_diff(&original, &scaled);
        assert!(diff < 2.0, "row {r}: original column differs by {diff:.2}");
        for c in 1..3 {
            let diff = mean_abs_diff(&cell(c), &original);
            assert!(
                diff > 5.0,
                "row {r} column {c}: stylized ≈ original ({diff:.2})"
            );
        }
        assert!(
            mean_abs_diff(&cell(1), &cell(2)) > 1.0,
            "row {r}: styles alike"
        );
    }

    // Each column's header holds label pixels, and nothing is drawn past the columns.
    for c in 0..3 {
        let x0 = layout.column_x(c);
        let lit = (x0..x0 + 48)
            .flat_map(|x| (GAP..GAP + header).map(move |y| (x, y)))
            .filter(|&(x, y)| sheet.get_pixel(x, y).0 == gallery::LABEL_COLOUR)
            .count();
        assert!(lit > 10, "column {c} has no label");
    }
    let gutter_lit = (0..sheet.height())
        .flat_map(|y| (0..GAP).map(move |x| (x, y)))
        .any(|(x, y)| sheet.get_pixel(x, y).0 != gallery::BACKGROUND);
    assert!(!gutter_lit, "the left margin is background only");
}

#[test]
fn styles_flag_picks_columns_and_unknown_names_list_the_known_ones() {
    let f = fixture();
    let o = gallery(&f, &["--styles", "beta"]);
    assert!(o.status.success(), "{}", text(&o));
    let sheet = image::open(&f.out).unwrap().to_rgb8();
    assert_eq!(sheet.width(), 2 * 48 + 3 * GAP, "original + beta");
    std::fs::remove_file(&f.out).unwrap();

    let o = gallery(&f, &["--styles", "alpha,nosuch"]);
    let t = text(&o);
    assert!(!o.status.success(), "expected failure:\n{t}");
    assert!(!t.contains("panicked"), "{t}");
    for needle in ["nosuch", "alpha", "beta"] {
        assert!(t.contains(needle), "message lacks '{needle}':\n{t}");
    }
    assert!(!f.out.exists(), "no sheet is written on failure");
}

#[test]
fn empty_models_folder_and_unreadable_photo_are_clear_errors() {
    let f = fixture();
    let empty = f.models.with_file_name("empty");
    std::fs::create_dir(&empty).unwrap();
    let o = bin()
        .args(["--device", "cpu", "--models"])
        .arg(&empty)
        .arg("gallery")
        .args(&f.photos)
        .arg("--out")
        .arg(&f.out)
        .output()
        .unwrap();
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(
        t.contains("no styles installed") && t.contains("--models"),
        "{t}"
    );

    std::fs::write(&f.photos[1], b"not an image").unwrap();
    let o = gallery(&f, &[]);
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(t.contains("tall.png") && t.contains("leave it out"), "{t}");
    assert!(!f.out.exists(), "no sheet is written on failure");
}
