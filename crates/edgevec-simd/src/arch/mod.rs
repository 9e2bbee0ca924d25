//! One module per instruction set. `kernels` hands out a backend's table only when the running
//! machine can execute it: detected at run time on x86_64, fixed at compile time elsewhere.

use crate::{Backend, Kernels};

#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
mod aarch64;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm32;
#[cfg(target_arch = "x86_64")]
mod x86_64;

/// The table for `backend` if this machine runs it (never called for `Backend::Scalar`).
pub(crate) fn kernels(backend: Backend) -> Option<&'static Kernels> {
    match backend {
        #[cfg(target_arch = "x86_64")]
        Backend::Avx2Fma => x86_64::avx2(),
        #[cfg(target_arch = "x86_64")]
        Backend::Avx512 => x86_64::avx512(),
        #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
        Backend::Neon => Some(&aarch64::KERNELS),
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Backend::Simd128 => Some(&wasm32::KERNELS),
        _ => None,
    }
}
