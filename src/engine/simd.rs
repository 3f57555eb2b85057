//! Which SIMD level stylecam's own CPU kernels ([`super::winograd`], [`super::out_conv`]) run:
//! detected once per process, capped by [`KERNELS_ENV`] for measurements.

/// Kernels compiled for the baseline target, for AVX2 + FMA, or for AVX-512.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Simd {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

/// Environment variable that caps the kernels for measurements: `portable`, `avx2` or
/// `avx512` (never above what the CPU has).
pub const KERNELS_ENV: &str = "STYLECAM_WINOGRAD_KERNELS";

impl Simd {
    /// The best level this CPU runs, capped by [`KERNELS_ENV`].
    pub(crate) fn detect() -> Simd {
        static DETECTED: std::sync::OnceLock<Simd> = std::sync::OnceLock::new();
        *DETECTED.get_or_init(|| {
            let cpu = Self::cpu();
            let cap = match std::env::var(KERNELS_ENV).as_deref() {
                Ok("portable") => Simd::Portable,
                #[cfg(target_arch = "x86_64")]
                Ok("avx2") => Simd::Avx2,
                _ => cpu,
            };
            cpu.min(cap)
        })
    }

    fn cpu() -> Simd {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx512f") && has!("avx512vl") && has!("fma") {
                return Simd::Avx512;
            }
            if has!("avx2") && has!("fma") {
                return Simd::Avx2;
            }
        }
        Simd::Portable
    }

    /// Every level up to [`Simd::detect`]'s (tests run each against a reference).
    #[cfg(test)]
    pub(crate) fn available() -> Vec<Simd> {
        [
            Simd::Portable,
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2,
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512,
        ]
        .into_iter()
        .filter(|&l| l <= Simd::detect())
        .collect()
    }
}
