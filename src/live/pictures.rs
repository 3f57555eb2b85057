//! Pictures as styles in the live view: G grabs the camera's frame as a new style, M morphs
//! between the two most recent picture styles (+/− move along the morph).
//!
//! Both add a style to the end of the catalog and of the workers' [`StyleList`] (one variant
//! each, so the two stay index for index); the workers compute the embedding when they load
//! it, off the display thread. A grabbed frame is saved as a PNG in the output folder, so it
//! can be used again with `--style-image`.

use std::path::{Path, PathBuf};

use image::RgbImage;

use super::control::{Action, Controls};
use super::engine::Catalog;
use super::pipeline::Shared;
use super::style_list::StyleList;
use crate::engine::Family;
use crate::styles::{Blend, Style, StyleEntry};
use crate::{Error, Result};

/// How far +/− move along a morph.
pub const MORPH_STEP: f32 = 0.1;

/// The live view's morph: a style of the catalog blending two pictures' styles.
#[derive(Debug, Clone)]
struct Morph {
    /// Its index in the catalog (and its file index: one variant per picture style).
    style: usize,
    entry: StyleEntry,
}

/// The picture styles the user made while the view runs.
#[derive(Debug, Default)]
pub struct PictureStyles {
    /// Catalog indices of picture styles in the order they were last shown (newest last).
    recent: Vec<usize>,
    morph: Option<Morph>,
}

impl PictureStyles {
    /// Notes that catalog style `style` is shown (picture styles count for M).
    pub fn shown(&mut self, catalog: &Catalog, style: usize) {
        let is_picture = catalog.styles.get(style).is_some_and(|s| {
            s.variants[0].family == Family::Arbitrary && s.variants[0].blend.is_none()
        });
        if is_picture {
            self.recent.retain(|&s| s != style);
            self.recent.push(style);
        }
    }

    /// Whether `style` is the morph (so +/− move along it).
    pub fn is_morph(&self, style: usize) -> bool {
        self.morph.as_ref().is_some_and(|m| m.style == style)
    }

    /// G: saves `frame` into `dir` and adds it as a style; returns the new style's index.
    pub fn grab(
        &mut self,
        frame: &RgbImage,
        dir: &Path,
        catalog: &mut Catalog,
        list: &StyleList,
    ) -> Result<(usize, PathBuf)> {
        let path = crate::sink::screenshot::save_png_as(frame, dir, "stylecam-grab")?;
        let style = add(catalog, list, StyleEntry::picture(&path));
        Ok((style, path))
    }

    /// M: a style halfway between the two most recent picture styles (replacing the previous
    /// morph's blend); returns its index.
    pub fn morph(&mut self, catalog: &mut Catalog, list: &StyleList) -> Result<usize> {
        let [.., a, b] = self.recent[..] else {
            return Err(Error::InvalidArgument(
                "M morphs between the two most recent picture styles: show two first (--style-image, or G)".into(),
            ));
        };
        let (first, second) = (
            &catalog.styles[a].variants[0],
            &catalog.styles[b].variants[0],
        );
        let mut entry = first.clone();
        entry.name = format!("{} ~ {}", first.name, second.name);
        entry.blend = Some(Blend {
            with: second.path.clone(),
            t: 0.5,
        });
        let style = match &self.morph {
            Some(m) => {
                catalog.styles[m.style] = Style::single(entry.clone());
                list.replace(catalog.file_index(m.style, 0), entry.clone());
                m.style
            }
            None => add(catalog, list, entry.clone()),
        };
        self.morph = Some(Morph { style, entry });
        Ok(style)
    }

    /// +/− on the morph: moves its blend by `delta` (clamped to 0…1); returns the new position.
    pub fn step(&mut self, delta: f32, catalog: &mut Catalog, list: &StyleList) -> Option<f32> {
        let m = self.morph.as_mut()?;
        let blend = m.entry.blend.as_mut()?;
        let t = ((blend.t + delta) * 100.0).round().clamp(0.0, 100.0) / 100.0;
        if t == blend.t {
            return Some(t);
        }
        blend.t = t;
        catalog.styles[m.style] = Style::single(m.entry.clone());
        list.replace(catalog.file_index(m.style, 0), m.entry.clone());
        Some(t)
    }
}

impl PictureStyles {
    /// After the shown style changed: note it, and whether +/− now move along the morph.
    pub fn follow(&mut self, catalog: &Catalog, controls: &mut Controls) {
        self.shown(catalog, controls.style);
        controls.morphing = self.is_morph(controls.style);
    }

    /// The strength of a picture style is Magenta's embedding blend (the picture's style with
    /// the frame's own), not a pixel fade: when the shown picture style's strength differs from
    /// the controls', its entry is revised (the workers reload it from the session pool).
    pub fn apply_strength(&mut self, catalog: &mut Catalog, controls: &Controls, list: &StyleList) {
        let file = catalog.file_index(controls.style, 0);
        let Some(style) = catalog.styles.get_mut(controls.style) else {
            return;
        };
        let entry = &mut style.variants[0];
        let want = (controls.strength < 1.0).then_some(controls.strength);
        if entry.family != Family::Arbitrary || entry.strength == want {
            return;
        }
        entry.strength = want;
        if let Some(m) = self.morph.as_mut().filter(|m| m.style == controls.style) {
            m.entry.strength = want;
        }
        list.replace(file, entry.clone());
    }

    /// Applies G, M, or +/− on the morph; returns what to say on the overlay.
    pub fn on_action(
        &mut self,
        action: Action,
        controls: &mut Controls,
        catalog: &mut Catalog,
        shared: &Shared,
        out_dir: &Path,
    ) -> String {
        let added = match action {
            Action::GrabStyle => {
                let frame = shared.latest_frame();
                let Some(frame) = frame else {
                    return "G: no camera frame yet".into();
                };
                match self.grab(&frame.image, out_dir, catalog, &shared.styles) {
                    Ok((style, path)) => Ok((style, format!("grabbed: {}", path.display()))),
                    Err(e) => Err(format!("G: {e}")),
                }
            }
            Action::Morph => self
                .morph(catalog, &shared.styles)
                .map(|style| (style, format!("morph: {}", catalog.styles[style].name)))
                .map_err(|e| e.to_string()),
            Action::MorphStep { up } => {
                let delta = if up { MORPH_STEP } else { -MORPH_STEP };
                return match self.step(delta, catalog, &shared.styles) {
                    Some(t) => format!("morph {:.0} %", t * 100.0),
                    None => "no morph".into(),
                };
            }
            _ => return String::new(),
        };
        match added {
            Ok((style, message)) => {
                while controls.style_count < catalog.styles.len() {
                    controls.add_style();
                }
                controls.select_style(style);
                self.follow(catalog, controls);
                message
            }
            Err(message) => message,
        }
    }
}

/// Appends `entry` as a style of one variant to the catalog and the list; returns its index.
fn add(catalog: &mut Catalog, list: &StyleList, entry: StyleEntry) -> usize {
    catalog.styles.push(Style::single(entry.clone()));
    let file = list.push(entry);
    debug_assert_eq!(file + 1, catalog.files().len(), "catalog and list in step");
    catalog.styles.len() - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(pictures: &[&str]) -> (Catalog, StyleList) {
        let styles: Vec<Style> = pictures
            .iter()
            .map(|p| Style::single(StyleEntry::picture(Path::new(p))))
            .collect();
        let c = Catalog {
            styles,
            start: 0,
            start_variant: None,
        };
        let list = StyleList::new(c.files());
        (c, list)
    }

    #[test]
    fn grab_adds_a_saved_picture_style_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let (mut c, list) = catalog(&["a.png"]);
        let mut p = PictureStyles::default();
        let frame = RgbImage::from_pixel(8, 6, image::Rgb([10, 20, 30]));
        let (i, path) = p.grab(&frame, dir.path(), &mut c, &list).unwrap();
        assert_eq!((i, c.styles.len(), list.len()), (1, 2, 2));
        assert_eq!(image::open(&path).unwrap().into_rgb8(), frame);
        assert_eq!(list.get(1).unwrap().0.path, path);
    }

    #[test]
    fn morph_blends_the_two_latest_pictures_and_steps_revise_it() {
        let (mut c, list) = catalog(&["a.png", "b.png", "c.png"]);
        let mut p = PictureStyles::default();
        p.shown(&c, 0);
        assert!(
            p.morph(&mut c, &list).is_err(),
            "one picture shown is not enough"
        );
        p.shown(&c, 2);
        let m = p.morph(&mut c, &list).unwrap();
        assert_eq!(m, 3);
        assert!(p.is_morph(3));
        let (entry, rev) = list.get(3).unwrap();
        assert_eq!(entry.name, "a ~ c");
        assert_eq!(entry.blend.as_ref().unwrap().t, 0.5);
        assert_eq!(p.step(MORPH_STEP, &mut c, &list), Some(0.6));
        let (entry, rev2) = list.get(3).unwrap();
        assert_eq!((entry.blend.unwrap().t, rev2), (0.6, rev + 1));
        for _ in 0..10 {
            p.step(MORPH_STEP, &mut c, &list);
        }
        assert_eq!(list.get(3).unwrap().0.blend.unwrap().t, 1.0, "clamped");
        // The morph itself is not a picture for the next morph; a new pair re-targets it.
        p.shown(&c, 3);
        p.shown(&c, 1);
        assert_eq!(p.morph(&mut c, &list).unwrap(), 3, "the same morph style");
        assert_eq!(list.get(3).unwrap().0.name, "c ~ b");
        assert_eq!(c.styles.len(), 4);
    }
}
