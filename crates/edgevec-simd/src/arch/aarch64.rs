//! aarch64 Advanced SIMD (NEON): 4 f32 lanes, 16-byte integer steps.
//!
//! NEON is part of the aarch64 baseline, so the backend is chosen at compile time and the
//! `#[target_feature(enable = "neon")]` on the entry points changes nothing in practice.
//!
//! Integer kernels are exact: products are formed by widening multiplies (`umull`/`smull`, 8 → 16
//! bits, which cannot overflow: 255·255 fits u16, −128·−128 = 16384 fits i16, and |a−b| ≤ 255 fits
//! u8) and then added pairwise into 32-bit lanes (`uadalp`/`sadalp`, 16 → 32 bits). Each step adds
//! at most 4 products to a lane, so a lane only ever wraps the way the scalar oracle's 32-bit sum
//! does.

use core::arch::aarch64::*;

use crate::Backend;
use crate::generic::{ByteLanes, F32Lanes, backend_entry_points};

/// Four f32 lanes.
#[derive(Clone, Copy)]
pub(super) struct F32x4(float32x4_t);

// SAFETY: every method is only reached from functions compiled with `neon` (the entry points
// below; NEON is also the aarch64 baseline), which is what the intrinsics need.
unsafe impl F32Lanes for F32x4 {
    const LANES: usize = 4;

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: NEON is enabled in the caller (trait contract).
        unsafe { Self(vdupq_n_f32(0.0)) }
    }

    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees 4 readable floats at `p`; `ld1` has no alignment needs
        // beyond that of f32, which a `*const f32` into a slice has.
        unsafe { Self(vld1q_f32(p)) }
    }

    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> Self {
        let mut buf = [0.0f32; 4];
        // SAFETY: the caller guarantees `n < 4` readable floats at `p`; `buf` holds 4, and the
        // two do not overlap. The vector load reads `buf` only.
        unsafe {
            core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n.min(4));
            Self(vld1q_f32(buf.as_ptr()))
        }
    }

    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        // SAFETY: NEON is enabled in the caller.
        unsafe { Self(vaddq_f32(self.0, o.0)) }
    }

    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        // SAFETY: NEON is enabled in the caller.
        unsafe { Self(vsubq_f32(self.0, o.0)) }
    }

    #[inline(always)]
    unsafe fn mul_add(self, b: Self, acc: Self) -> Self {
        // SAFETY: NEON is enabled in the caller. `vfmaq_f32(acc, x, y)` is the fused `acc + x·y`.
        unsafe { Self(vfmaq_f32(acc.0, self.0, b.0)) }
    }

    #[inline(always)]
    unsafe fn hsum(self) -> f32 {
        // SAFETY: NEON is enabled in the caller.
        unsafe { vaddvq_f32(self.0) }
    }
}

/// Four 32-bit accumulator lanes fed 16 bytes per step.
#[derive(Clone, Copy)]
pub(super) struct Bytes16(uint32x4_t);

#[inline(always)]
unsafe fn load_u8(p: *const u8) -> uint8x16_t {
    // SAFETY: the caller guarantees 16 readable bytes; byte loads have no alignment needs.
    unsafe { vld1q_u8(p) }
}

#[inline(always)]
unsafe fn load_i8(p: *const u8) -> int8x16_t {
    // SAFETY: the caller guarantees 16 readable bytes; byte loads have no alignment needs.
    unsafe { vld1q_s8(p.cast::<i8>()) }
}

/// `acc + Σ x_i²` over 16 unsigned bytes: squares widened to u16 (255² fits), then added pairwise
/// into the 32-bit lanes.
#[inline(always)]
unsafe fn add_squares_u8(acc: uint32x4_t, x: uint8x16_t) -> uint32x4_t {
    // SAFETY: NEON is enabled in the caller.
    unsafe {
        let lo = vmull_u8(vget_low_u8(x), vget_low_u8(x));
        let hi = vmull_high_u8(x, x);
        vpadalq_u16(vpadalq_u16(acc, lo), hi)
    }
}

// SAFETY: every method is only reached from functions compiled with `neon`; each step reads
// exactly 16 bytes from each pointer, as the trait requires the caller to provide.
unsafe impl ByteLanes for Bytes16 {
    const BYTES: usize = 16;

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: NEON is enabled in the caller.
        unsafe { Self(vdupq_n_u32(0)) }
    }

    #[inline(always)]
    unsafe fn dot_u8(self, a: *const u8, b: *const u8) -> Self {
        // SAFETY: 16 readable bytes at `a` and `b`, NEON enabled (trait contract).
        unsafe {
            let (va, vb) = (load_u8(a), load_u8(b));
            let lo = vmull_u8(vget_low_u8(va), vget_low_u8(vb));
            let hi = vmull_high_u8(va, vb);
            Self(vpadalq_u16(vpadalq_u16(self.0, lo), hi))
        }
    }

    #[inline(always)]
    unsafe fn l2_u8(self, a: *const u8, b: *const u8) -> Self {
        // SAFETY: 16 readable bytes at `a` and `b`, NEON enabled (trait contract).
        unsafe { Self(add_squares_u8(self.0, vabdq_u8(load_u8(a), load_u8(b)))) }
    }

    #[inline(always)]
    unsafe fn dot_i8(self, a: *const u8, b: *const u8) -> Self {
        // SAFETY: 16 readable bytes at `a` and `b`, NEON enabled (trait contract).
        unsafe {
            let (va, vb) = (load_i8(a), load_i8(b));
            let lo = vmull_s8(vget_low_s8(va), vget_low_s8(vb));
            let hi = vmull_high_s8(va, vb);
            // Signed pairwise sums in signed 32-bit lanes; two's complement makes the wrapping
            // adds the same bits as the unsigned accumulator's.
            let acc = vreinterpretq_s32_u32(self.0);
            Self(vreinterpretq_u32_s32(vpadalq_s16(vpadalq_s16(acc, lo), hi)))
        }
    }

    #[inline(always)]
    unsafe fn l2_i8(self, a: *const u8, b: *const u8) -> Self {
        // SAFETY: 16 readable bytes at `a` and `b`, NEON enabled (trait contract).
        unsafe {
            // |a − b| ≤ 255: `sabd` computes it exactly, and its bits read as u8 are the value.
            let d = vreinterpretq_u8_s8(vabdq_s8(load_i8(a), load_i8(b)));
            Self(add_squares_u8(self.0, d))
        }
    }

    #[inline(always)]
    unsafe fn hamming(self, a: *const u8, b: *const u8) -> Self {
        // SAFETY: 16 readable bytes at `a` and `b`, NEON enabled (trait contract).
        unsafe {
            // Per-byte popcount (≤ 8), then pairwise widening adds: u8 → u16 (≤ 16) → u32.
            let cnt = vcntq_u8(veorq_u8(load_u8(a), load_u8(b)));
            Self(vpadalq_u16(self.0, vpaddlq_u8(cnt)))
        }
    }

    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        // SAFETY: NEON enabled in the caller.
        unsafe { Self(vaddq_u32(self.0, o.0)) }
    }

    #[inline(always)]
    unsafe fn hsum(self) -> u32 {
        // SAFETY: NEON enabled in the caller. `addv` adds the lanes modulo 2³².
        unsafe { vaddvq_u32(self.0) }
    }
}

backend_entry_points! {
    backend: Backend::Neon,
    features: "neon",
    f32: F32x4,
    bytes: Bytes16,
}

#[cfg(test)]
mod tests {
    use crate::{Backend, Kernels, scalar};

    /// On aarch64 the NEON table is always there and is the best one, so the oracle tests (which
    /// run over `Backend::available()`) and the free functions exercise these kernels.
    #[test]
    fn neon_is_available_and_the_best_backend() {
        assert!(Backend::available().contains(&Backend::Neon));
        assert_eq!(Kernels::best().backend(), Backend::Neon);
        if std::env::var("EDGEVEC_SIMD").as_deref() != Ok("scalar") {
            assert_eq!(crate::backend(), Backend::Neon);
        }
    }

    /// A quick direct check of every integer step and of a partial f32 tail (the full comparison
    /// with the oracle is in tests/oracle.rs).
    #[test]
    fn neon_kernels_match_the_oracle_on_a_small_case() {
        let k = Kernels::for_backend(Backend::Neon).expect("NEON is part of the aarch64 baseline");
        let a: Vec<u8> = (0..70u32).map(|i| (i * 37 + 11) as u8).collect();
        let b: Vec<u8> = (0..70u32).map(|i| (i * 101 + 200) as u8).collect();
        let (ia, ib) = (crate::generic::as_i8(&a), crate::generic::as_i8(&b));
        assert_eq!(k.dot_u8(&a, &b), scalar::dot_u8(&a, &b));
        assert_eq!(k.l2_squared_u8(&a, &b), scalar::l2_squared_u8(&a, &b));
        assert_eq!(k.dot_i8(ia, ib), scalar::dot_i8(ia, ib));
        assert_eq!(k.l2_squared_i8(ia, ib), scalar::l2_squared_i8(ia, ib));
        assert_eq!(k.hamming(&a, &b), scalar::hamming(&a, &b));
        let x: Vec<f32> = (0..11).map(|i| i as f32 * 0.5).collect();
        let y: Vec<f32> = (0..11).map(|i| 2.0 - i as f32).collect();
        assert_eq!(k.dot(&x, &y), scalar::dot(&x, &y));
        assert_eq!(k.l2_squared(&x, &y), scalar::l2_squared(&x, &y));
    }
}
