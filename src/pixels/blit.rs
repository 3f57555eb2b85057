//! A frame scaled into a 0RGB window buffer with its aspect ratio kept (letterboxed).

use image::RgbImage;

/// Where the frame sits inside the window, in window pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewport {
    pub x: usize,
    pub y: usize,
    pub width: usize,
    pub height: usize,
}

impl Viewport {
    /// The largest rectangle with the frame's aspect ratio that fits the window, centred.
    pub fn fit(frame: (u32, u32), window: (usize, usize)) -> Viewport {
        let (fw, fh) = (frame.0.max(1) as usize, frame.1.max(1) as usize);
        let (ww, wh) = window;
        // Compare aspect ratios without rounding: fw/fh vs ww/wh.
        let (width, height) = if ww * fh <= wh * fw {
            (ww, (ww * fh + fw / 2) / fw)
        } else {
            ((wh * fw + fh / 2) / fh, wh)
        };
        let (width, height) = (width.clamp(1, ww.max(1)), height.clamp(1, wh.max(1)));
        Viewport {
            x: (ww - width.min(ww)) / 2,
            y: (wh - height.min(wh)) / 2,
            width,
            height,
        }
    }
}

/// Scales `frame` into the 0RGB `dst` (`dst_w` wide) at `vp` with nearest-neighbour sampling
/// (pixel centres), painting the letterbox bars black. At 1:1 this is a plain copy.
pub fn blit_scaled(
    frame: &RgbImage,
    dst: &mut [u32],
    dst_w: usize,
    dst_h: usize,
    vp: Viewport,
    xmap: &mut Vec<usize>,
) {
    let (fw, fh) = (frame.width() as usize, frame.height() as usize);
    let src = frame.as_raw();
    xmap.clear();
    xmap.extend((0..vp.width).map(|x| ((2 * x + 1) * fw / (2 * vp.width)).min(fw - 1) * 3));
    for y in 0..dst_h {
        let row = &mut dst[y * dst_w..(y + 1) * dst_w];
        if y < vp.y || y >= vp.y + vp.height {
            row.fill(0);
            continue;
        }
        let sy = ((2 * (y - vp.y) + 1) * fh / (2 * vp.height)).min(fh - 1);
        let src_row = &src[sy * fw * 3..(sy + 1) * fw * 3];
        row[..vp.x].fill(0);
        row[vp.x + vp.width..].fill(0);
        for (d, &sx) in row[vp.x..vp.x + vp.width].iter_mut().zip(xmap.iter()) {
            *d =
                (src_row[sx] as u32) << 16 | (src_row[sx + 1] as u32) << 8 | src_row[sx + 2] as u32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewport_keeps_aspect_and_centres() {
        assert_eq!(
            Viewport::fit((640, 480), (640, 480)),
            Viewport {
                x: 0,
                y: 0,
                width: 640,
                height: 480
            }
        );
        // Wide window: pillarbox.
        assert_eq!(
            Viewport::fit((640, 480), (1000, 480)),
            Viewport {
                x: 180,
                y: 0,
                width: 640,
                height: 480
            }
        );
        // Tall window: letterbox.
        assert_eq!(
            Viewport::fit((640, 480), (320, 400)),
            Viewport {
                x: 0,
                y: 80,
                width: 320,
                height: 240
            }
        );
    }

    #[test]
    fn blit_is_exact_at_one_to_one_and_letterboxes_black() {
        let frame = RgbImage::from_fn(4, 2, |x, y| image::Rgb([x as u8 * 10, y as u8 * 100, 7]));
        let mut dst = vec![0xdeadbeef; 4 * 4];
        let vp = Viewport::fit((4, 2), (4, 4));
        blit_scaled(&frame, &mut dst, 4, 4, vp, &mut Vec::new());
        assert_eq!(
            vp,
            Viewport {
                x: 0,
                y: 1,
                width: 4,
                height: 2
            }
        );
        assert!(dst[..4].iter().all(|&p| p == 0), "top bar black");
        assert!(dst[12..].iter().all(|&p| p == 0), "bottom bar black");
        assert_eq!(dst[4 + 3], 30 << 16 | 7);
        assert_eq!(dst[8 + 1], 10 << 16 | 100 << 8 | 7);
        // 2× upscale: every source pixel becomes a 2×2 block.
        let mut big = vec![0; 8 * 4];
        blit_scaled(
            &frame,
            &mut big,
            8,
            4,
            Viewport::fit((4, 2), (8, 4)),
            &mut Vec::new(),
        );
        assert_eq!(big[0], big[1]);
        assert_eq!(big[0], big[8]);
        assert_eq!(big[6], 30 << 16 | 7);
    }
}
