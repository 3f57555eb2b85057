//! What the user controls in the live view, and what each key does to it.

use crate::sink::window::Key;

/// Inference scale limits (relative to the base inference size).
pub const MIN_SCALE: f32 = 0.125;
pub const MAX_SCALE: f32 = 2.0;
const SCALE_STEP: f32 = 1.25;
const STRENGTH_STEP: f32 = 0.1;
const SPLIT_STEP: f32 = 0.05;

/// What the display shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Stylized,
    Original,
}

/// Which variant of a style runs: kept when the style changes, so a light (or full) choice
/// carries over to the next style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariantPick {
    /// The most expensive variant.
    Full,
    /// The lightest variant.
    Fast,
    /// The n-th variant from the full one (a middle one, reached with L); clamped to the style's.
    Nth(usize),
}

impl VariantPick {
    /// The variant index this pick means for a style of `count` variants.
    pub fn index(self, count: usize) -> usize {
        let last = count.max(1) - 1;
        match self {
            VariantPick::Full => 0,
            VariantPick::Fast => last,
            VariantPick::Nth(i) => i.min(last),
        }
    }

    /// The pick that means variant `i` of `count` (`count` > 1).
    fn of_index(i: usize, count: usize) -> Self {
        if i == 0 {
            VariantPick::Full
        } else if i + 1 >= count {
            VariantPick::Fast
        } else {
            VariantPick::Nth(i)
        }
    }
}

/// The live view's controls.
#[derive(Debug, Clone, PartialEq)]
pub struct Controls {
    /// Index into the style list (distinct style names).
    pub style: usize,
    pub style_count: usize,
    /// How many variants each style has (full → lightest).
    pub variant_counts: Vec<usize>,
    /// The current style's variant (0 = full).
    pub variant: usize,
    /// The variant choice carried from style to style.
    pub pick: VariantPick,
    /// Freeze the input frame (the style, strength etc. still apply to it).
    pub paused: bool,
    pub view: View,
    /// Split view on: original left of `split_at`, stylized right.
    pub split: bool,
    /// Split position as a fraction of the frame width.
    pub split_at: f32,
    /// Style strength 0…1 (0 = original, 1 = fully stylized).
    pub strength: f32,
    /// Keep the original's colours, take only the luminance from the style.
    pub preserve_colour: bool,
    /// Inference size as a factor of the base inference size.
    pub scale: f32,
    pub overlay: bool,
    pub help: bool,
    /// The style shown is the morph (M): +/− move along it instead of changing the strength.
    pub morphing: bool,
}

/// Something a key asks of the live loop beyond changing [`Controls`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    Screenshot,
    ToggleRecording,
    ToggleFullscreen,
    /// A control changed; the message says what, for the overlay.
    Changed,
    /// Another style was picked (its variant follows [`Controls::pick`]).
    StyleChanged,
    /// L picked another variant of the style.
    VariantChanged,
    /// L pressed on a style that has a single variant.
    NoOtherVariant,
    /// G: the camera's frame becomes a style.
    GrabStyle,
    /// M: morph between the two most recent picture styles.
    Morph,
    /// +/− on the morph: move towards the second picture (`up`) or the first.
    MorphStep {
        up: bool,
    },
}

/// The hotkeys, as shown by H.
pub const HELP: &[&str] = &[
    "1-9      pick a style",
    "<- ->  N B  next / previous style",
    "L        full / lighter variant of the style",
    "Space    pause (freeze the input)",
    "O        original / stylized",
    "S        split view (drag with the mouse, [ ])",
    "+ -      style strength (on a morph: move along it)",
    "G        grab the camera's frame as a style",
    "M        morph the two latest picture styles",
    "C        preserve original colours",
    "Up Down  inference resolution",
    "F        fullscreen",
    "P        screenshot (PNG in --out-dir)",
    "R        start / stop recording",
    "Tab      overlay on / off",
    "H        this help",
    "Q Esc    quit",
];

impl Controls {
    /// Controls for `style_count` styles of one variant each (see [`Controls::with_variants`]).
    pub fn new(style: usize, style_count: usize, scale: f32) -> Self {
        Controls {
            style,
            style_count,
            variant_counts: vec![1; style_count],
            variant: 0,
            pick: VariantPick::Full,
            paused: false,
            view: View::Stylized,
            split: false,
            split_at: 0.5,
            strength: 1.0,
            preserve_colour: false,
            scale: scale.clamp(MIN_SCALE, MAX_SCALE),
            overlay: true,
            help: false,
            morphing: false,
        }
    }

    /// One more style (of one variant) at the end of the list: a grabbed frame or a morph.
    pub fn add_style(&mut self) {
        self.style_count += 1;
        self.variant_counts.push(1);
    }

    /// Sets how many variants each style has, and the pick that chooses among them.
    pub fn with_variants(mut self, variant_counts: Vec<usize>, pick: VariantPick) -> Self {
        self.variant_counts = variant_counts;
        self.set_pick(pick);
        self
    }

    /// Chooses the variant of every style from now on (the current one included).
    pub fn set_pick(&mut self, pick: VariantPick) {
        self.pick = pick;
        self.variant = pick.index(self.variant_count());
    }

    /// Variants of the current style.
    pub fn variant_count(&self) -> usize {
        self.variant_counts
            .get(self.style)
            .copied()
            .unwrap_or(1)
            .max(1)
    }

    pub fn select_style(&mut self, style: usize) -> Option<Action> {
        self.style = style;
        self.variant = self.pick.index(self.variant_count());
        Some(Action::StyleChanged)
    }

    /// L: the next lighter variant, after the lightest the full one again.
    fn next_variant(&mut self) -> Option<Action> {
        let n = self.variant_count();
        if n <= 1 {
            return Some(Action::NoOtherVariant);
        }
        self.variant = (self.variant + 1) % n;
        self.pick = VariantPick::of_index(self.variant, n);
        Some(Action::VariantChanged)
    }

    /// Applies one key press. Returns what the loop must do, if anything.
    pub fn on_key(&mut self, key: Key) -> Option<Action> {
        let n = self.style_count.max(1);
        match key {
            Key::L => return self.next_variant(),
            Key::Q | Key::Escape => return Some(Action::Quit),
            Key::P => return Some(Action::Screenshot),
            Key::R => return Some(Action::ToggleRecording),
            Key::F => return Some(Action::ToggleFullscreen),
            Key::Key1
            | Key::Key2
            | Key::Key3
            | Key::Key4
            | Key::Key5
            | Key::Key6
            | Key::Key7
            | Key::Key8
            | Key::Key9 => {
                let i = key as usize - Key::Key1 as usize;
                if i >= self.style_count {
                    return None;
                }
                return self.select_style(i);
            }
            Key::NumPad1
            | Key::NumPad2
            | Key::NumPad3
            | Key::NumPad4
            | Key::NumPad5
            | Key::NumPad6
            | Key::NumPad7
            | Key::NumPad8
            | Key::NumPad9 => {
                let i = key as usize - Key::NumPad1 as usize;
                if i >= self.style_count {
                    return None;
                }
                return self.select_style(i);
            }
            Key::Right | Key::N | Key::PageDown => return self.select_style((self.style + 1) % n),
            Key::Left | Key::B | Key::PageUp => return self.select_style((self.style + n - 1) % n),
            Key::Space => self.paused = !self.paused,
            Key::O => {
                self.view = match self.view {
                    View::Stylized => View::Original,
                    View::Original => View::Stylized,
                }
            }
            Key::S => self.split = !self.split,
            Key::LeftBracket => self.split_at = (self.split_at - SPLIT_STEP).clamp(0.0, 1.0),
            Key::RightBracket => self.split_at = (self.split_at + SPLIT_STEP).clamp(0.0, 1.0),
            Key::Equal | Key::NumPadPlus if self.morphing => {
                return Some(Action::MorphStep { up: true })
            }
            Key::Minus | Key::NumPadMinus if self.morphing => {
                return Some(Action::MorphStep { up: false })
            }
            Key::Equal | Key::NumPadPlus => self.strength = step(self.strength, STRENGTH_STEP),
            Key::Minus | Key::NumPadMinus => self.strength = step(self.strength, -STRENGTH_STEP),
            Key::G => return Some(Action::GrabStyle),
            Key::M => return Some(Action::Morph),
            Key::C => self.preserve_colour = !self.preserve_colour,
            Key::Up => self.scale = (self.scale * SCALE_STEP).clamp(MIN_SCALE, MAX_SCALE),
            Key::Down => self.scale = (self.scale / SCALE_STEP).clamp(MIN_SCALE, MAX_SCALE),
            Key::Tab => self.overlay = !self.overlay,
            Key::H => self.help = !self.help,
            _ => return None,
        }
        Some(Action::Changed)
    }
}

/// Adds `delta` to a 0…1 value, snapping to whole percent so ten steps land exactly on 0 and 1.
fn step(value: f32, delta: f32) -> f32 {
    ((value + delta) * 100.0).round().clamp(0.0, 100.0) / 100.0
}

/// The inference size for a `frame`-sized input: the base size (`--size`, else the frame's) times
/// `scale`, each side rounded to a multiple of 4 (the network's stride) and at least 16.
pub fn inference_size(frame: (u32, u32), base: Option<(u32, u32)>, scale: f32) -> (u32, u32) {
    let (bw, bh) = base.unwrap_or(frame);
    let side = |v: u32| (((v as f32 * scale) / 4.0).round() as u32 * 4).max(16);
    (side(bw), side(bh))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn style_keys_pick_and_cycle() {
        let mut c = Controls::new(0, 3, 1.0);
        assert_eq!(c.on_key(Key::Key3), Some(Action::StyleChanged));
        assert_eq!(c.style, 2);
        assert_eq!(c.on_key(Key::Key9), None, "no 9th style");
        assert_eq!(c.style, 2);
        c.on_key(Key::Right);
        assert_eq!(c.style, 0, "wraps");
        c.on_key(Key::Left);
        assert_eq!(c.style, 2);
        c.on_key(Key::N);
        assert_eq!(c.style, 0);
    }

    #[test]
    fn l_cycles_variants_and_style_changes_keep_the_pick() {
        // Style 0: full, mid, fast; style 1: one variant; style 2: full, fast.
        let mut c = Controls::new(0, 3, 1.0).with_variants(vec![3, 1, 2], VariantPick::Fast);
        assert_eq!(c.variant, 2, "fast is the lightest");
        assert_eq!(c.on_key(Key::L), Some(Action::VariantChanged));
        assert_eq!(
            (c.variant, c.pick),
            (0, VariantPick::Full),
            "after the lightest: full"
        );
        c.on_key(Key::L);
        assert_eq!((c.variant, c.pick), (1, VariantPick::Nth(1)));
        c.on_key(Key::L);
        assert_eq!((c.variant, c.pick), (2, VariantPick::Fast));

        c.on_key(Key::N);
        assert_eq!((c.style, c.variant), (1, 0), "the only variant");
        assert_eq!(c.on_key(Key::L), Some(Action::NoOtherVariant));
        assert_eq!(c.pick, VariantPick::Fast, "a single variant keeps the pick");
        c.on_key(Key::Key3);
        assert_eq!((c.style, c.variant), (2, 1), "still fast on the next style");
        c.on_key(Key::L);
        assert_eq!((c.variant, c.pick), (0, VariantPick::Full));
        c.on_key(Key::B);
        c.on_key(Key::B);
        assert_eq!((c.style, c.variant), (0, 0), "full carries over");

        // A middle pick is clamped on a style with fewer variants.
        c.on_key(Key::L);
        c.on_key(Key::Key3);
        assert_eq!((c.style, c.variant), (2, 1));
        c.set_pick(VariantPick::Full);
        assert_eq!(c.variant, 0);
    }

    #[test]
    fn strength_steps_land_on_both_ends() {
        let mut c = Controls::new(0, 1, 1.0);
        for _ in 0..10 {
            c.on_key(Key::Minus);
        }
        assert_eq!(c.strength, 0.0);
        c.on_key(Key::Minus);
        assert_eq!(c.strength, 0.0);
        for _ in 0..5 {
            c.on_key(Key::Equal);
        }
        assert_eq!(c.strength, 0.5);
        for _ in 0..7 {
            c.on_key(Key::NumPadPlus);
        }
        assert_eq!(c.strength, 1.0);
    }

    #[test]
    fn toggles_and_actions() {
        let mut c = Controls::new(0, 2, 1.0);
        assert_eq!(c.on_key(Key::Q), Some(Action::Quit));
        assert_eq!(c.on_key(Key::Escape), Some(Action::Quit));
        assert_eq!(c.on_key(Key::P), Some(Action::Screenshot));
        c.on_key(Key::O);
        assert_eq!(c.view, View::Original);
        c.on_key(Key::S);
        c.on_key(Key::RightBracket);
        assert!(c.split && (c.split_at - 0.55).abs() < 1e-6);
        c.on_key(Key::Space);
        assert!(c.paused);
        c.on_key(Key::Up);
        assert!((c.scale - 1.25).abs() < 1e-6);
        for _ in 0..20 {
            c.on_key(Key::Down);
        }
        assert_eq!(c.scale, MIN_SCALE);
        assert_eq!(c.on_key(Key::Z), None);
    }

    #[test]
    fn inference_size_is_a_multiple_of_four() {
        assert_eq!(inference_size((640, 480), None, 1.0), (640, 480));
        assert_eq!(inference_size((640, 480), None, 0.5), (320, 240));
        assert_eq!(inference_size((641, 479), None, 1.0), (640, 480));
        assert_eq!(
            inference_size((640, 480), Some((320, 200)), 1.25),
            (400, 252)
        );
        assert_eq!(inference_size((64, 48), None, 0.125), (16, 16));
    }
}
