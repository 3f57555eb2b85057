//! The command line's names for the library's choices. The library's enums carry no clap
//! derive (it knows nothing of the command line); each has its twin here, with the help text
//! `--help` shows, and a conversion.

use clap::ValueEnum;
use stylecam::engine::arbitrary::ContentSize;
use stylecam::engine::{CpuGraph, DeviceChoice};
use stylecam::styles::Preset;

/// `--device`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeviceArg {
    /// CUDA when it starts, else CPU.
    Auto,
    /// CPU only.
    Cpu,
    /// CUDA, or fail.
    Cuda,
    /// TensorRT (with CUDA for the rest), or fail.
    #[value(name = "tensorrt")]
    TensorRt,
}

impl From<DeviceArg> for DeviceChoice {
    fn from(d: DeviceArg) -> Self {
        match d {
            DeviceArg::Auto => DeviceChoice::Auto,
            DeviceArg::Cpu => DeviceChoice::Cpu,
            DeviceArg::Cuda => DeviceChoice::Cuda,
            DeviceArg::TensorRt => DeviceChoice::TensorRt,
        }
    }
}

/// `--cpu-graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CpuGraphArg {
    /// The fastest lowering measured for the model's architecture (tail always, head for width ≤ 8, Winograd residual blocks for width ≥ 16 on CPUs with AVX2 + FMA or AVX-512, fused norms, the last layer as stylecam's own operator on CPUs with AVX-512).
    Auto,
    /// The graph as stored in the file (one node per layer).
    Reference,
    /// Sub-pixel tail only.
    Tail,
    /// Space-to-depth head and sub-pixel tail.
    #[value(name = "head-tail")]
    HeadTail,
    /// The auto form with the residual blocks as Winograd F(4×4, 3×3) convolutions, whatever
    /// the width or CPU.
    Winograd,
}

impl From<CpuGraphArg> for CpuGraph {
    fn from(g: CpuGraphArg) -> Self {
        match g {
            CpuGraphArg::Auto => CpuGraph::Auto,
            CpuGraphArg::Reference => CpuGraph::Reference,
            CpuGraphArg::Tail => CpuGraph::Tail,
            CpuGraphArg::HeadTail => CpuGraph::HeadTail,
            CpuGraphArg::Winograd => CpuGraph::Winograd,
        }
    }
}

/// `--preset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PresetArg {
    /// The most expensive variant (best quality).
    Full,
    /// The cheapest variant (highest frame rate).
    Fast,
    /// `fast` when the model runs on the CPU, `full` on CUDA/TensorRT.
    Auto,
}

impl From<PresetArg> for Preset {
    fn from(p: PresetArg) -> Self {
        match p {
            PresetArg::Full => Preset::Full,
            PresetArg::Fast => Preset::Fast,
            PresetArg::Auto => Preset::Auto,
        }
    }
}

/// `--content-size`: `auto`, `native` or a longer side of 16..=8192 pixels. The library's
/// `ContentSize` carries data, so it is parsed here rather than given a `ValueEnum` twin.
pub fn parse_content_size(s: &str) -> Result<ContentSize, String> {
    match s {
        "auto" => Ok(ContentSize::Auto),
        "native" => Ok(ContentSize::Native),
        n => match n.parse::<u32>() {
            Ok(v) if (16..=8192).contains(&v) => Ok(ContentSize::LongerSide(v)),
            _ => Err(format!(
                "`{s}` is not a content size: give auto, native or a longer side of 16..=8192 pixels"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_parse_as_typed_on_the_command_line() {
        for (s, d) in [
            ("auto", DeviceChoice::Auto),
            ("cpu", DeviceChoice::Cpu),
            ("cuda", DeviceChoice::Cuda),
            ("tensorrt", DeviceChoice::TensorRt),
        ] {
            let parsed: DeviceChoice = DeviceArg::from_str(s, true).unwrap().into();
            assert_eq!(parsed, d);
            assert_eq!(d.to_string(), s, "the library names it as it is typed");
        }
        assert!(DeviceArg::from_str("gpu", true).is_err());
        let g: CpuGraph = CpuGraphArg::from_str("head-tail", true).unwrap().into();
        assert_eq!(g, CpuGraph::HeadTail);
        let p: Preset = PresetArg::from_str("fast", true).unwrap().into();
        assert_eq!((p, p.to_string().as_str()), (Preset::Fast, "fast"));
    }
}
