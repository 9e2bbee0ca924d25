//! AVX2 + FMA: 8 f32 lanes, 32-byte integer steps.
//!
//! Integer kernels widen bytes to 16 bits (zero- or sign-extension) and use `vpmaddwd`, which
//! multiplies 16-bit pairs and adds adjacent products into 32-bit lanes without saturation, so
//! every result is exact. (`vpmaddubsw` would be faster for i8 but saturates at 2·128·128.)

use core::arch::x86_64::*;

use crate::Backend;
use crate::generic::{ByteLanes, F32Lanes, backend_entry_points};

/// Eight f32 lanes.
#[derive(Clone, Copy)]
pub(super) struct F32x8(__m256);

// SAFETY: every method is only reached from functions compiled with `avx2,fma` (the entry
// points below), which is what the intrinsics need.
unsafe impl F32Lanes for F32x8 {
    const LANES: usize = 8;

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: AVX is enabled in the caller (trait contract).
        unsafe { Self(_mm256_setzero_ps()) }
    }

    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees 8 readable floats at `p`; loadu has no alignment needs.
        unsafe { Self(_mm256_loadu_ps(p)) }
    }

    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> Self {
        let mut buf = [0.0f32; 8];
        // SAFETY: the caller guarantees `n < 8` readable floats at `p`; `buf` holds 8, and the
        // two do not overlap. The vector load reads `buf` only.
        unsafe {
            core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n.min(8));
            Self(_mm256_loadu_ps(buf.as_ptr()))
        }
    }

    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        // SAFETY: AVX is enabled in the caller.
        unsafe { Self(_mm256_add_ps(self.0, o.0)) }
    }

    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        // SAFETY: AVX is enabled in the caller.
        unsafe { Self(_mm256_sub_ps(self.0, o.0)) }
    }

    #[inline(always)]
    unsafe fn mul_add(self, b: Self, acc: Self) -> Self {
        // SAFETY: FMA is enabled in the caller.
        unsafe { Self(_mm256_fmadd_ps(self.0, b.0, acc.0)) }
    }

    #[inline(always)]
    unsafe fn hsum(self) -> f32 {
        // SAFETY: AVX is enabled in the caller.
        unsafe {
            let s = _mm_add_ps(
                _mm256_castps256_ps128(self.0),
                _mm256_extractf128_ps::<1>(self.0),
            );
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
            _mm_cvtss_f32(s)
        }
    }
}

/// Eight 32-bit accumulator lanes fed 32 bytes per step.
#[derive(Clone, Copy)]
pub(super) struct Bytes32(__m256i);

#[inline(always)]
unsafe fn load256(p: *const u8) -> __m256i {
    // SAFETY: the caller guarantees 32 readable bytes; loadu has no alignment needs.
    unsafe { _mm256_loadu_si256(p.cast()) }
}

/// Sign-extends 16 bytes at `p` to 16-bit lanes.
#[inline(always)]
unsafe fn widen_i8(p: *const u8) -> __m256i {
    // SAFETY: the caller guarantees 16 readable bytes and AVX2.
    unsafe { _mm256_cvtepi8_epi16(_mm_loadu_si128(p.cast())) }
}

// SAFETY: every method is only reached from functions compiled with `avx2,fma`; each step reads
// exactly 32 bytes from each pointer, as the trait requires the caller to provide.
unsafe impl ByteLanes for Bytes32 {
    const BYTES: usize = 32;

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: AVX is enabled in the caller.
        unsafe { Self(_mm256_setzero_si256()) }
    }

    #[inline(always)]
    unsafe fn dot_u8(self, a: *const u8, b: *const u8) -> Self {
        // SAFETY: 32 readable bytes at `a` and `b`, AVX2 enabled (trait contract).
        unsafe {
            let (va, vb, z) = (load256(a), load256(b), _mm256_setzero_si256());
            let lo = _mm256_madd_epi16(_mm256_unpacklo_epi8(va, z), _mm256_unpacklo_epi8(vb, z));
            let hi = _mm256_madd_epi16(_mm256_unpackhi_epi8(va, z), _mm256_unpackhi_epi8(vb, z));
            Self(_mm256_add_epi32(self.0, _mm256_add_epi32(lo, hi)))
        }
    }

    #[inline(always)]
    unsafe fn l2_u8(self, a: *const u8, b: *const u8) -> Self {
        // SAFETY: 32 readable bytes at `a` and `b`, AVX2 enabled (trait contract).
        unsafe {
            let (va, vb, z) = (load256(a), load256(b), _mm256_setzero_si256());
            let dl = _mm256_sub_epi16(_mm256_unpacklo_epi8(va, z), _mm256_unpacklo_epi8(vb, z));
            let dh = _mm256_sub_epi16(_mm256_unpackhi_epi8(va, z), _mm256_unpackhi_epi8(vb, z));
            let s = _mm256_add_epi32(_mm256_madd_epi16(dl, dl), _mm256_madd_epi16(dh, dh));
            Self(_mm256_add_epi32(self.0, s))
        }
    }

    #[inline(always)]
    unsafe fn dot_i8(self, a: *const u8, b: *const u8) -> Self {
        // SAFETY: 32 readable bytes at `a` and `b` (two 16-byte halves), AVX2 enabled.
        unsafe {
            let lo = _mm256_madd_epi16(widen_i8(a), widen_i8(b));
            let hi = _mm256_madd_epi16(widen_i8(a.add(16)), widen_i8(b.add(16)));
            Self(_mm256_add_epi32(self.0, _mm256_add_epi32(lo, hi)))
        }
    }

    #[inline(always)]
    unsafe fn l2_i8(self, a: *const u8, b: *const u8) -> Self {
        // SAFETY: 32 readable bytes at `a` and `b` (two 16-byte halves), AVX2 enabled.
        unsafe {
            let dl = _mm256_sub_epi16(widen_i8(a), widen_i8(b));
            let dh = _mm256_sub_epi16(widen_i8(a.add(16)), widen_i8(b.add(16)));
            let s = _mm256_add_epi32(_mm256_madd_epi16(dl, dl), _mm256_madd_epi16(dh, dh));
            Self(_mm256_add_epi32(self.0, s))
        }
    }

    #[inline(always)]
    unsafe fn hamming(self, a: *const u8, b: *const u8) -> Self {
        // SAFETY: 32 readable bytes at `a` and `b`, AVX2 enabled (trait contract).
        unsafe {
            let x = _mm256_xor_si256(load256(a), load256(b));
            // Popcount of each nibble by table lookup, then bytes summed by `vpsadbw` into the
            // low 16 bits of each 64-bit lane (the upper 32-bit halves stay zero).
            let lut = _mm256_setr_epi8(
                0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3,
                2, 3, 3, 4,
            );
            let m = _mm256_set1_epi8(0x0f);
            let lo = _mm256_and_si256(x, m);
            let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(x), m);
            let cnt = _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
            let sums = _mm256_sad_epu8(cnt, _mm256_setzero_si256());
            Self(_mm256_add_epi32(self.0, sums))
        }
    }

    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        // SAFETY: AVX2 enabled in the caller.
        unsafe { Self(_mm256_add_epi32(self.0, o.0)) }
    }

    #[inline(always)]
    unsafe fn hsum(self) -> u32 {
        // SAFETY: AVX2 enabled in the caller.
        unsafe {
            let s = _mm_add_epi32(
                _mm256_castsi256_si128(self.0),
                _mm256_extracti128_si256::<1>(self.0),
            );
            let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
            let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
            _mm_cvtsi128_si32(s) as u32
        }
    }
}

backend_entry_points! {
    backend: Backend::Avx2Fma,
    features: "avx2,fma,popcnt",
    f32: F32x8,
    bytes: Bytes32,
}
