//! Running the `stylecam` binary in tests: its output as text, and what a clean failure is.

use std::process::Output;

use image::{Rgb, RgbImage};

/// stdout and stderr together.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A failed run: non-zero exit, no panic, and the message contains every `needles` entry
/// (case-insensitive).
pub fn assert_clean_failure(o: &Output, needles: &[&str]) {
    let t = text(o);
    assert!(!o.status.success(), "expected failure, got success:\n{t}");
    assert!(!t.contains("panicked"), "the binary panicked:\n{t}");
    assert!(!t.contains("RUST_BACKTRACE"), "the binary panicked:\n{t}");
    for n in needles {
        assert!(
            t.to_lowercase().contains(&n.to_lowercase()),
            "message lacks '{n}':\n{t}"
        );
    }
}

/// A photo-like test image: gradients plus a few hard edges.
pub fn test_image(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let edge = if (x / 7 + y / 5) % 2 == 0 { 60 } else { 0 };
        Rgb([
            ((x * 255) / w.max(1)) as u8,
            ((y * 255) / h.max(1)) as u8,
            (((x + y) * 3) % 196) as u8 + edge,
        ])
    })
}
