//! `--device auto|cpu|cuda` → a tch device.

use std::str::FromStr;

use tch::Device;

use crate::{Error, Result};

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// CUDA when libtorch sees a GPU, else CPU.
    #[default]
    Auto,
    Cpu,
    Cuda,
}

impl FromStr for DeviceChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda),
            other => Err(Error::InvalidArgument(format!(
                "unknown --device '{other}': use auto, cpu or cuda"
            ))),
        }
    }
}

impl DeviceChoice {
    /// The device to train on; an explicit `cuda` without a usable GPU is an error.
    pub fn resolve(self) -> Result<Device> {
        match self {
            Self::Cpu => Ok(Device::Cpu),
            Self::Auto => Ok(Device::cuda_if_available()),
            Self::Cuda if tch::Cuda::is_available() => Ok(Device::Cuda(0)),
            Self::Cuda => Err(Error::InvalidArgument(
                "--device cuda: libtorch sees no CUDA device (no NVIDIA driver, or the CPU-only torch wheel is installed). Use --device cpu or auto".into(),
            )),
        }
    }
}

/// A short name for logs and metadata.
pub fn describe(device: Device) -> String {
    match device {
        Device::Cpu => format!("cpu ({} threads)", tch::get_num_threads()),
        Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}"),
    }
}
