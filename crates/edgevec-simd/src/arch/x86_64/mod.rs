//! x86_64: AVX2+FMA and AVX-512, both detected at run time.

use crate::Kernels;

mod avx2;
mod avx512;

/// AVX2 + FMA (+ POPCNT, which every such CPU has: Haswell and later, Zen and later).
pub(super) fn avx2() -> Option<&'static Kernels> {
    (is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("popcnt"))
    .then_some(&avx2::KERNELS)
}

/// AVX-512 F + BW; the Hamming kernel uses VPOPCNTDQ when the CPU has it (Ice Lake and later,
/// Zen 4 and later) and a byte shuffle popcount otherwise (Skylake-SP).
pub(super) fn avx512() -> Option<&'static Kernels> {
    if !(is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("popcnt"))
    {
        return None;
    }
    if is_x86_feature_detected!("avx512vpopcntdq") {
        Some(&avx512::KERNELS_VPOPCNTDQ)
    } else {
        Some(&avx512::KERNELS)
    }
}
