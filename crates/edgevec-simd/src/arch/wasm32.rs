//! WebAssembly 128-bit SIMD (simd128): 4 f32 lanes, 16-byte integer steps.
//!
//! simd128 is a compile-time feature (`-C target-feature=+simd128`; a wasm engine either validates
//! the whole module or rejects it), so this module only exists when the crate is built with it, and
//! the `#[target_feature(enable = "simd128")]` on the entry points changes nothing in practice. The
//! lane intrinsics are safe functions here because the feature is enabled crate-wide; only the
//! loads (raw pointers) need `unsafe`.
//!
//! Stable simd128 has no fused multiply-add (that is in relaxed-simd), so `mul_add` is a multiply
//! then an add: two roundings, within the f32 tolerance every backend is tested against.
//!
//! Integer kernels are exact: products are formed by extending multiplies (8 → 16 bits, which
//! cannot overflow: 255·255 fits u16, −128·−128 = 16384 fits i16, and |a−b| ≤ 255 fits u8) and then
//! added pairwise into 32-bit lanes (16 → 32 bits). Each step adds at most 4 products to a lane,
//! so a lane only ever wraps the way the scalar oracle's 32-bit sum does.

use core::arch::wasm32::*;

use crate::Backend;
use crate::generic::{ByteLanes, F32Lanes, backend_entry_points};

/// Four f32 lanes.
#[derive(Clone, Copy)]
pub(super) struct F32x4(v128);

// SAFETY: every method is only reached from code compiled with `simd128` (this module only
// exists when the crate is), which is what the intrinsics need; each load reads only what the
// trait's contract makes the caller provide.
unsafe impl F32Lanes for F32x4 {
    const LANES: usize = 4;

    #[inline(always)]
    unsafe fn zero() -> Self {
        Self(f32x4_splat(0.0))
    }

    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees 4 readable floats (16 bytes) at `p`; `v128.load` is a
        // 1-aligned load, so the f32 alignment of `p` is enough.
        unsafe { Self(v128_load(p.cast::<v128>())) }
    }

    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> Self {
        let mut buf = [0.0f32; 4];
        // SAFETY: the caller guarantees `n < 4` readable floats at `p`; `buf` holds 4, and the
        // two do not overlap. The vector load reads the 16 bytes of `buf` only.
        unsafe {
            core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n.min(4));
            Self(v128_load(buf.as_ptr().cast::<v128>()))
        }
    }

    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        Self(f32x4_add(self.0, o.0))
    }

    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        Self(f32x4_sub(self.0, o.0))
    }

    #[inline(always)]
    unsafe fn mul_add(self, b: Self, acc: Self) -> Self {
        Self(f32x4_add(f32x4_mul(self.0, b.0), acc.0))
    }

    #[inline(always)]
    unsafe fn hsum(self) -> f32 {
        let v = self.0;
        let s = f32x4_add(v, i32x4_shuffle::<2, 3, 0, 1>(v, v));
        let s = f32x4_add(s, i32x4_shuffle::<1, 0, 3, 2>(s, s));
        f32x4_extract_lane::<0>(s)
    }
}

/// Four 32-bit accumulator lanes fed 16 bytes per step.
#[derive(Clone, Copy)]
pub(super) struct Bytes16(v128);

#[inline(always)]
unsafe fn load16(p: *const u8) -> v128 {
    // SAFETY: the caller guarantees 16 readable bytes at `p`; `v128.load` has no alignment needs.
    unsafe { v128_load(p.cast::<v128>()) }
}

/// Sum of the 16 unsigned 8×8 → 16-bit products `x·y` into four u32 lanes (4 products each).
#[inline(always)]
fn sum_products_u8(x: v128, y: v128) -> v128 {
    let lo = u16x8_extmul_low_u8x16(x, y);
    let hi = u16x8_extmul_high_u8x16(x, y);
    i32x4_add(
        u32x4_extadd_pairwise_u16x8(lo),
        u32x4_extadd_pairwise_u16x8(hi),
    )
}

// SAFETY: every method is only reached from code compiled with `simd128`; each step reads
// exactly 16 bytes from each pointer, as the trait requires the caller to provide.
unsafe impl ByteLanes for Bytes16 {
    const BYTES: usize = 16;

    #[inline(always)]
    unsafe fn zero() -> Self {
        Self(i32x4_splat(0))
    }

    #[inline(always)]
    unsafe fn dot_u8(self, a: *const u8, b: *const u8) -> Self {
        // SAFETY: 16 readable bytes at `a` and `b` (trait contract).
        let (va, vb) = unsafe { (load16(a), load16(b)) };
        Self(i32x4_add(self.0, sum_products_u8(va, vb)))
    }

    #[inline(always)]
    unsafe fn l2_u8(self, a: *const u8, b: *const u8) -> Self {
        // SAFETY: 16 readable bytes at `a` and `b` (trait contract).
        let (va, vb) = unsafe { (load16(a), load16(b)) };
        // |a − b| as u8: one of the two saturating differences is zero.
        let d = v128_or(u8x16_sub_sat(va, vb), u8x16_sub_sat(vb, va));
        Self(i32x4_add(self.0, sum_products_u8(d, d)))
    }

    #[inline(always)]
    unsafe fn dot_i8(self, a: *const u8, b: *const u8) -> Self {
        // SAFETY: 16 readable bytes at `a` and `b` (trait contract).
        let (va, vb) = unsafe { (load16(a), load16(b)) };
        // Products lie in [−16256, 16384], which fits i16.
        let lo = i16x8_extmul_low_i8x16(va, vb);
        let hi = i16x8_extmul_high_i8x16(va, vb);
        let s = i32x4_add(
            i32x4_extadd_pairwise_i16x8(lo),
            i32x4_extadd_pairwise_i16x8(hi),
        );
        Self(i32x4_add(self.0, s))
    }

    #[inline(always)]
    unsafe fn l2_i8(self, a: *const u8, b: *const u8) -> Self {
        // SAFETY: 16 readable bytes at `a` and `b` (trait contract).
        let (va, vb) = unsafe { (load16(a), load16(b)) };
        // Differences lie in [−255, 255] (fits i16); `i32x4.dot_i16x8_s` adds pairs of their
        // squares (at most 2·65025) into 32-bit lanes.
        let dl = i16x8_sub(i16x8_extend_low_i8x16(va), i16x8_extend_low_i8x16(vb));
        let dh = i16x8_sub(i16x8_extend_high_i8x16(va), i16x8_extend_high_i8x16(vb));
        let s = i32x4_add(i32x4_dot_i16x8(dl, dl), i32x4_dot_i16x8(dh, dh));
        Self(i32x4_add(self.0, s))
    }

    #[inline(always)]
    unsafe fn hamming(self, a: *const u8, b: *const u8) -> Self {
        // SAFETY: 16 readable bytes at `a` and `b` (trait contract).
        let (va, vb) = unsafe { (load16(a), load16(b)) };
        let cnt = u8x16_popcnt(v128_xor(va, vb));
        let s = u32x4_extadd_pairwise_u16x8(u16x8_extadd_pairwise_u8x16(cnt));
        Self(i32x4_add(self.0, s))
    }

    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        Self(i32x4_add(self.0, o.0))
    }

    #[inline(always)]
    unsafe fn hsum(self) -> u32 {
        let v = self.0;
        let s = i32x4_add(v, i32x4_shuffle::<2, 3, 0, 1>(v, v));
        let s = i32x4_add(s, i32x4_shuffle::<1, 0, 3, 2>(s, s));
        u32x4_extract_lane::<0>(s)
    }
}

backend_entry_points! {
    backend: Backend::Simd128,
    features: "simd128",
    f32: F32x4,
    bytes: Bytes16,
}
