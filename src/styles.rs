//! The style registry: every `*.onnx` in a models folder, grouped into styles, in a stable order.
//!
//! Names come from the ONNX metadata key `name` (written by `stylecam-train`), falling back to
//! the file stem. Reading the metadata decodes only the protobuf header, so listing is instant
//! even for a folder of large models.
//!
//! A style may come in several *variants*: the same style trained at different network sizes
//! (e.g. `imfwnet-w32-b5` and the light `imfwnet-w8-b1`). Files are grouped by name — never by
//! file name — and a style's variants are ordered by cost ([`ImfwArch::flops`] of a 640×480
//! frame), from the full (most expensive) to the lightest. A [`Preset`] picks one of them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::engine::Family;
use crate::net::ImfwArch;
use crate::{Error, Result};

/// Environment variable naming the models folder.
pub const MODELS_ENV: &str = "STYLECAM_MODELS";

/// The frame size variants are ranked (and `stylecam styles` reports GFLOP) at: 640×480.
pub const COST_FRAME: (usize, usize) = (640, 480);

/// One style model found in a models folder (one `.onnx` file).
#[derive(Debug, Clone)]
pub struct StyleEntry {
    /// Display name (metadata `name`, else file stem).
    pub name: String,
    /// The `.onnx` file.
    pub path: PathBuf,
    /// Architecture label from the metadata (e.g. `imfwnet-w32-b5`), if recorded.
    pub architecture: Option<String>,
    /// All metadata entries.
    pub metadata: BTreeMap<String, String>,
    /// The network family that runs it: an ImfwNet file, or a picture for the arbitrary
    /// networks.
    pub family: Family,
    /// Arbitrary family only: blend the picture's style with another's (the live view's morph).
    pub blend: Option<Blend>,
    /// Arbitrary family only: the style strength for this entry (the live view's +/−), else
    /// the loader's [`crate::engine::arbitrary::ArbitraryOptions::strength`].
    pub strength: Option<f32>,
}

/// `(1 − t)·this picture's style + t·with's`, blended as embeddings.
#[derive(Debug, Clone, PartialEq)]
pub struct Blend {
    pub with: PathBuf,
    pub t: f32,
}

/// The architecture label picture styles show.
pub const PICTURE_ARCH: &str = "magenta-arbitrary";

impl StyleEntry {
    /// A picture (any image file) as a style of the arbitrary family, named after the file.
    pub fn picture(path: &Path) -> StyleEntry {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        StyleEntry {
            name,
            path: path.to_path_buf(),
            architecture: Some(PICTURE_ARCH.into()),
            metadata: BTreeMap::new(),
            family: Family::Arbitrary,
            blend: None,
            strength: None,
        }
    }

    /// The network shape, when the architecture label is one of stylecam's (`imfwnet-wW-bB`).
    pub fn arch(&self) -> Option<ImfwArch> {
        self.architecture.as_deref().and_then(ImfwArch::from_label)
    }

    /// Convolution FLOPs for one [`COST_FRAME`] frame; `None` for an unknown architecture.
    pub fn flops(&self) -> Option<u64> {
        match self.family {
            Family::Imfw => self.arch().map(|a| a.flops(COST_FRAME.1, COST_FRAME.0)),
            Family::Arbitrary => Some(crate::net::arbitrary::transform_flops(
                COST_FRAME.1,
                COST_FRAME.0,
            )),
        }
    }

    /// True when the model carries the calibration `--int8` needs (`stylecam calibrate`).
    pub fn int8_calibrated(&self) -> bool {
        self.metadata.contains_key(crate::net::int8::METADATA_KEY)
    }

    /// The short architecture label shown in the live view: `w8-b1`, else the metadata label,
    /// else `?`.
    pub fn short_arch(&self) -> String {
        match (self.arch(), &self.architecture) {
            (Some(a), _) => format!("w{}-b{}", a.width, a.blocks),
            (None, Some(label)) => label.clone(),
            (None, None) => "?".into(),
        }
    }

    /// Sort key from full to light: unknown architectures rank as full (they may be anything,
    /// and "full" is the safe assumption about their cost).
    fn rank(&self) -> u64 {
        self.flops().unwrap_or(u64::MAX)
    }
}

/// Which variant of a style to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Preset {
    /// The most expensive variant (best quality).
    #[default]
    Full,
    /// The cheapest variant (highest frame rate).
    Fast,
    /// `fast` when the model runs on the CPU, `full` on CUDA/TensorRT.
    Auto,
}

impl std::fmt::Display for Preset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Preset::Full => "full",
            Preset::Fast => "fast",
            Preset::Auto => "auto",
        })
    }
}

impl Preset {
    /// `Auto` made concrete for a session that runs (or not) on the CPU; `Full` and `Fast` as
    /// they are.
    pub fn on_cpu(self, runs_on_cpu: bool) -> Preset {
        match self {
            Preset::Auto if runs_on_cpu => Preset::Fast,
            Preset::Auto => Preset::Full,
            p => p,
        }
    }

    /// `Auto` made concrete from the `--device` choice alone, when that settles it: `cpu` runs
    /// on the CPU, `cuda`/`tensorrt` do not (they fail rather than fall back). `None` for
    /// `--device auto` with `--preset auto`: only a loaded session tells which provider runs.
    pub fn for_device(self, device: crate::engine::DeviceChoice) -> Option<Preset> {
        use crate::engine::DeviceChoice;
        match (self, device) {
            (Preset::Auto, DeviceChoice::Auto) => None,
            (p, DeviceChoice::Cpu) => Some(p.on_cpu(true)),
            (p, _) => Some(p.on_cpu(false)),
        }
    }

    /// The one `--preset auto` rule (`stylize`, `gallery`, `bench` and `live` all follow it):
    /// the preset to load first, and whether the provider of that first session still has to
    /// settle it ([`Preset::settled_by`]). Concrete when `--device` settles it; auto on
    /// `--device auto` starts with the light variant.
    pub fn start(self, device: crate::engine::DeviceChoice) -> (Preset, bool) {
        match self.for_device(device) {
            Some(p) => (p, false),
            None => (Preset::Fast, true),
        }
    }

    /// `Auto` settled by the provider a session runs on (`fast` on the CPU, `full` elsewhere).
    pub fn settled_by(self, provider: crate::engine::Provider) -> Preset {
        self.on_cpu(provider == crate::engine::Provider::Cpu)
    }
}

/// One style: a name and its variants (one file each), from full to lightest.
#[derive(Debug, Clone)]
pub struct Style {
    pub name: String,
    /// Never empty; `variants[0]` is the full one, the last the lightest.
    pub variants: Vec<StyleEntry>,
}

impl Style {
    /// A style of exactly one file.
    pub fn single(entry: StyleEntry) -> Style {
        Style {
            name: entry.name.clone(),
            variants: vec![entry],
        }
    }

    /// The index of the variant `preset` picks (`Auto` must be made concrete first, see
    /// [`Preset::on_cpu`]; left as is it counts as `Full`).
    pub fn variant_index(&self, preset: Preset) -> usize {
        match preset {
            Preset::Fast => self.variants.len().saturating_sub(1),
            Preset::Full | Preset::Auto => 0,
        }
    }

    /// The variant `preset` picks (see [`Style::variant_index`]).
    pub fn variant(&self, preset: Preset) -> &StyleEntry {
        &self.variants[self.variant_index(preset)]
    }

    /// What variant `i` is called: `full`, `fast`, `mid` (in between), or `full=fast` when the
    /// style has only one.
    pub fn preset_label(&self, i: usize) -> &'static str {
        let n = self.variants.len();
        if n <= 1 {
            "full=fast"
        } else if i == 0 {
            "full"
        } else if i + 1 == n {
            "fast"
        } else {
            "mid"
        }
    }

    /// `w8-b1 (fast)`: variant `i`'s architecture and preset, as the live view shows it
    /// (`w32-b5 (only variant)` for a style of one).
    pub fn variant_label(&self, i: usize) -> String {
        let preset = match self.variants.len() {
            1 => "only variant",
            _ => self.preset_label(i),
        };
        format!("{} ({preset})", self.variants[i].short_arch())
    }

    fn matches_name(&self, wanted_lower: &str) -> bool {
        self.name.to_lowercase() == wanted_lower
    }
}

/// Groups model files into styles by name (exact match), in the order each name first appears;
/// each style's variants sorted from full to lightest (equal costs keep their order).
pub fn group(entries: Vec<StyleEntry>) -> Vec<Style> {
    let mut styles: Vec<Style> = Vec::new();
    for e in entries {
        match styles.iter_mut().find(|s| s.name == e.name) {
            Some(s) => s.variants.push(e),
            None => styles.push(Style::single(e)),
        }
    }
    for s in &mut styles {
        s.variants.sort_by_key(|v| std::cmp::Reverse(v.rank()));
    }
    styles
}

/// Where the models folder is: `explicit`, else `$STYLECAM_MODELS`, else the first `models/`
/// found next to the executable or in one of its parent folders (so `target/release/stylecam`
/// finds the repository's `models/`), else `./models`.
pub fn models_dir(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os(MODELS_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1) {
            let candidate = dir.join("models");
            if candidate.is_dir() && has_onnx(&candidate) {
                return candidate;
            }
        }
    }
    PathBuf::from("models")
}

fn has_onnx(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().any(|e| is_onnx(&e.path())))
        .unwrap_or(false)
}

fn is_onnx(path: &Path) -> bool {
    path.is_file()
        && path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
}

/// Read a model's metadata without starting ONNX Runtime.
pub fn describe(path: &Path) -> Result<StyleEntry> {
    let bytes = crate::fsio::read_model(path)?;
    let info = crate::net::onnx::read_model_info(&bytes).map_err(|e| Error::InvalidModel {
        path: path.to_path_buf(),
        problem: format!("not a readable ONNX model ({e})"),
    })?;
    let metadata = info.metadata;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(StyleEntry {
        name: metadata
            .get("name")
            .filter(|n| !n.trim().is_empty())
            .cloned()
            .unwrap_or(stem),
        path: path.to_path_buf(),
        architecture: metadata.get("architecture").cloned(),
        metadata,
        family: Family::Imfw,
        blend: None,
        strength: None,
    })
}

/// Every `*.onnx` file in `dir`, sorted by file name. Unreadable models are skipped with a
/// warning (they would fail again when selected, with the full reason).
pub fn discover(dir: &Path) -> Result<Vec<StyleEntry>> {
    crate::fsio::check_dir(dir, "the models folder").map_err(|why| Error::Input {
        path: dir.to_path_buf(),
        reason: format!("{why}; pass --models DIR or set {MODELS_ENV}"),
    })?;
    let rd = std::fs::read_dir(dir).map_err(|e| Error::Input {
        path: dir.to_path_buf(),
        reason: format!(
            "cannot list the models folder ({e}); pass --models DIR or set {MODELS_ENV}"
        ),
    })?;
    let mut paths: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| is_onnx(p))
        .collect();
    paths.sort();
    let mut styles = Vec::with_capacity(paths.len());
    for p in paths {
        match describe(&p) {
            Ok(s) => styles.push(s),
            Err(e) => tracing::warn!("skipping {}: {e}", p.display()),
        }
    }
    Ok(styles)
}

/// The styles in `dir`: [`discover`] grouped by name (see [`group`]).
pub fn discover_styles(dir: &Path) -> Result<Vec<Style>> {
    Ok(group(discover(dir)?))
}

/// Whether a `--style` argument names a file rather than a style.
fn looks_like_path(style: &str) -> bool {
    style.contains(std::path::MAIN_SEPARATOR)
        || Path::new(style)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
}

/// Resolve a `--style` argument to a style with its variants: a path to an `.onnx` file is that
/// file alone (a style of one variant, whatever the folder holds); a name matches a style in
/// `dir` (case-insensitive) with all its variants; failing that, a file stem in `dir` matches
/// that one file.
pub fn find_style(style: &str, dir: &Path) -> Result<Style> {
    if looks_like_path(style) {
        let as_path = Path::new(style);
        if !as_path.exists() {
            return Err(Error::InvalidModel {
                path: as_path.to_path_buf(),
                problem: "no such file".into(),
            });
        }
        return describe(as_path).map(Style::single);
    }
    // A missing models folder, or a file given as one, is named as such (not "no .onnx files").
    let (styles, none_because) = match discover_styles(dir) {
        Ok(s) => (s, format!("no .onnx files in {}", dir.display())),
        Err(e) => (Vec::new(), e.to_string()),
    };
    let wanted = style.to_lowercase();
    if let Some(found) = styles.iter().find(|s| s.matches_name(&wanted)) {
        return Ok(found.clone());
    }
    let by_stem = styles.iter().flat_map(|s| &s.variants).find(|v| {
        v.path
            .file_stem()
            .is_some_and(|f| f.to_string_lossy().to_lowercase() == wanted)
    });
    if let Some(entry) = by_stem {
        return Ok(Style::single(entry.clone()));
    }
    let known = if styles.is_empty() {
        format!("none ({none_because})")
    } else {
        styles
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(Error::UnknownStyle {
        name: style.to_string(),
        known,
    })
}

/// Resolve a `--style` argument to one file: [`find_style`], then the variant `preset` picks
/// (`Auto` must be concrete, see [`Preset::on_cpu`]).
pub fn resolve(style: &str, dir: &Path, preset: Preset) -> Result<StyleEntry> {
    find_style(style, dir).map(|s| s.variant(preset).clone())
}

/// Logs (info) that `style` has a single variant, so the preset the user asked for changes
/// nothing. Call it only when a preset was asked for explicitly.
pub fn note_single_variant(style: &Style, preset: Preset) {
    if style.variants.len() == 1 {
        let v = &style.variants[0];
        tracing::info!(
            "style '{}' has one variant here ({}, {}); --preset {preset} runs it",
            style.name,
            v.architecture.as_deref().unwrap_or("unknown architecture"),
            v.path.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::onnx::{random_weights, write_model, ModelMetadata};

    fn write(dir: &Path, file: &str, name: &str, arch: ImfwArch) {
        let bytes =
            write_model(&arch, &random_weights(&arch, 1), &ModelMetadata::new(name)).unwrap();
        std::fs::write(dir.join(file), bytes).unwrap();
    }

    fn entry(name: &str, file: &str, arch: Option<&str>) -> StyleEntry {
        StyleEntry {
            name: name.into(),
            path: PathBuf::from(file),
            architecture: arch.map(str::to_string),
            metadata: BTreeMap::new(),
            family: Family::Imfw,
            blend: None,
            strength: None,
        }
    }

    fn files(s: &Style) -> Vec<String> {
        s.variants
            .iter()
            .map(|v| v.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn files_are_grouped_by_metadata_name_not_file_name() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "mosaic.onnx", "mosaic", ImfwArch::new(8, 1));
        write(d.path(), "zz-light.onnx", "mosaic", ImfwArch::new(4, 1));
        write(d.path(), "mosaic-fast.onnx", "udnie", ImfwArch::new(4, 1));
        let styles = discover_styles(d.path()).unwrap();
        let names: Vec<&str> = styles.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["udnie", "mosaic"], "first appearance in file order");
        assert_eq!(files(&styles[0]), ["mosaic-fast.onnx"]);
        assert_eq!(files(&styles[1]), ["mosaic.onnx", "zz-light.onnx"]);
    }

    #[test]
    fn variants_run_from_full_to_lightest_and_unknown_counts_as_full() {
        let styles = group(vec![
            entry("s", "a.onnx", Some("imfwnet-w8-b1")),
            entry("s", "b.onnx", Some("imfwnet-w32-b5")),
            entry("s", "c.onnx", Some("imfwnet-w16-b3")),
            entry("s", "d.onnx", Some("imfwnet-w4-b1")),
        ]);
        assert_eq!(styles.len(), 1);
        assert_eq!(files(&styles[0]), ["b.onnx", "c.onnx", "a.onnx", "d.onnx"]);
        let s = &styles[0];
        assert_eq!(s.preset_label(0), "full");
        assert_eq!(s.preset_label(1), "mid");
        assert_eq!(s.preset_label(3), "fast");
        assert_eq!(s.variant_label(2), "w8-b1 (mid)");

        let styles = group(vec![
            entry("s", "a.onnx", Some("imfwnet-w8-b1")),
            entry("s", "b.onnx", Some("somebody-elses-net")),
            entry("s", "c.onnx", None),
            entry("s", "d.onnx", Some("imfwnet-w32-b5")),
        ]);
        assert_eq!(
            files(&styles[0]),
            ["b.onnx", "c.onnx", "d.onnx", "a.onnx"],
            "unknown architectures rank as full, in file order"
        );
    }

    #[test]
    fn presets_pick_the_full_or_the_lightest_variant() {
        let s = &group(vec![
            entry("s", "light.onnx", Some("imfwnet-w8-b1")),
            entry("s", "full.onnx", Some("imfwnet-w32-b5")),
        ])[0];
        assert_eq!(s.variant(Preset::Full).path, Path::new("full.onnx"));
        assert_eq!(s.variant(Preset::Fast).path, Path::new("light.onnx"));
        assert_eq!(
            s.variant(Preset::Auto.on_cpu(true)).path,
            Path::new("light.onnx")
        );
        assert_eq!(
            s.variant(Preset::Auto.on_cpu(false)).path,
            Path::new("full.onnx")
        );

        use crate::engine::{DeviceChoice, Provider};
        // The one auto rule: light first on --device auto, then the provider settles it.
        assert_eq!(Preset::Auto.start(DeviceChoice::Auto), (Preset::Fast, true));
        assert_eq!(
            Preset::Auto.start(DeviceChoice::Cuda),
            (Preset::Full, false)
        );
        assert_eq!(
            Preset::Full.start(DeviceChoice::Auto),
            (Preset::Full, false)
        );
        assert_eq!(Preset::Auto.settled_by(Provider::Cpu), Preset::Fast);
        assert_eq!(Preset::Auto.settled_by(Provider::Cuda), Preset::Full);
        assert_eq!(
            Preset::Auto.for_device(DeviceChoice::Cpu),
            Some(Preset::Fast)
        );
        assert_eq!(
            Preset::Auto.for_device(DeviceChoice::Cuda),
            Some(Preset::Full)
        );
        assert_eq!(Preset::Auto.for_device(DeviceChoice::Auto), None);
        assert_eq!(
            Preset::Fast.for_device(DeviceChoice::Auto),
            Some(Preset::Fast)
        );
        assert_eq!(
            Preset::Full.for_device(DeviceChoice::Cpu),
            Some(Preset::Full)
        );
    }

    #[test]
    fn a_single_variant_style_answers_every_preset() {
        let s = Style::single(entry("only", "only.onnx", Some("imfwnet-w32-b5")));
        for p in [Preset::Full, Preset::Fast, Preset::Auto] {
            assert_eq!(s.variant(p).path, Path::new("only.onnx"));
        }
        assert_eq!(s.preset_label(0), "full=fast");
        assert_eq!(s.variant_label(0), "w32-b5 (only variant)");
    }

    #[test]
    fn resolving_by_name_path_and_stem() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "starry.onnx", "Starry Night", ImfwArch::new(8, 1));
        write(
            d.path(),
            "starry-fast.onnx",
            "Starry Night",
            ImfwArch::new(4, 1),
        );
        write(d.path(), "udnie.onnx", "Udnie", ImfwArch::new(4, 1));

        let full = resolve("starry night", d.path(), Preset::Full).unwrap();
        assert_eq!(full.path, d.path().join("starry.onnx"));
        let fast = resolve("STARRY NIGHT", d.path(), Preset::Fast).unwrap();
        assert_eq!(fast.path, d.path().join("starry-fast.onnx"));
        // One variant: every preset gives it.
        let u = resolve("udnie", d.path(), Preset::Fast).unwrap();
        assert_eq!(u.path, d.path().join("udnie.onnx"));
        // A path is exactly that file, whatever the preset.
        let path = d.path().join("starry.onnx");
        let p = resolve(path.to_str().unwrap(), d.path(), Preset::Fast).unwrap();
        assert_eq!(p.path, path);
        assert_eq!(
            find_style(path.to_str().unwrap(), d.path())
                .unwrap()
                .variants
                .len(),
            1
        );
        // A file stem is that one file.
        let s = find_style("starry-fast", d.path()).unwrap();
        assert_eq!(files(&s), ["starry-fast.onnx"]);
    }

    #[test]
    fn an_unknown_style_lists_each_name_once() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a.onnx", "Mosaic", ImfwArch::new(8, 1));
        write(d.path(), "a-fast.onnx", "Mosaic", ImfwArch::new(4, 1));
        write(d.path(), "b.onnx", "Udnie", ImfwArch::new(4, 1));
        match find_style("vangogh", d.path()) {
            Err(Error::UnknownStyle { name, known }) => {
                assert_eq!(name, "vangogh");
                assert_eq!(known, "Mosaic, Udnie");
            }
            other => panic!("expected UnknownStyle, got {other:?}"),
        }
        let empty = tempfile::tempdir().unwrap();
        let err = find_style("x", empty.path()).unwrap_err().to_string();
        assert!(err.contains("no .onnx files"), "{err}");
    }
}
