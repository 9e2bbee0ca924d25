//! AVX-512 F + BW: 16 f32 lanes with masked tail loads, 64-byte integer steps. A second table
//! swaps in a `vpopcntq` Hamming kernel for CPUs with VPOPCNTDQ.

use core::arch::x86_64::*;

use crate::generic::{ByteLanes, ByteOp, F32Lanes, backend_entry_points, reduce_bytes};
use crate::{Backend, Kernels};

/// Sixteen f32 lanes.
#[derive(Clone, Copy)]
pub(super) struct F32x16(__m512);

// SAFETY: every method is only reached from functions compiled with `avx512f,avx512bw,avx2,fma`.
unsafe impl F32Lanes for F32x16 {
    const LANES: usize = 16;

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: AVX-512F enabled in the caller.
        unsafe { Self(_mm512_setzero_ps()) }
    }

    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees 16 readable floats; loadu has no alignment needs.
        unsafe { Self(_mm512_loadu_ps(p)) }
    }

    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> Self {
        let mask = ((1u32 << n.min(16)) - 1) as __mmask16;
        // SAFETY: a masked load does not access the masked-off lanes (no fault, no read), and
        // the caller guarantees the first `n` floats are readable.
        unsafe { Self(_mm512_maskz_loadu_ps(mask, p)) }
    }

    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        // SAFETY: AVX-512F enabled in the caller.
        unsafe { Self(_mm512_add_ps(self.0, o.0)) }
    }

    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        // SAFETY: AVX-512F enabled in the caller.
        unsafe { Self(_mm512_sub_ps(self.0, o.0)) }
    }

    #[inline(always)]
    unsafe fn mul_add(self, b: Self, acc: Self) -> Self {
        // SAFETY: AVX-512F enabled in the caller.
        unsafe { Self(_mm512_fmadd_ps(self.0, b.0, acc.0)) }
    }

    #[inline(always)]
    unsafe fn hsum(self) -> f32 {
        // SAFETY: AVX-512F enabled in the caller.
        unsafe { _mm512_reduce_add_ps(self.0) }
    }
}

/// Sixteen 32-bit accumulator lanes fed 64 bytes per step.
#[derive(Clone, Copy)]
pub(super) struct Bytes64(__m512i);

#[inline(always)]
unsafe fn load512(p: *const u8) -> __m512i {
    // SAFETY: the caller guarantees 64 readable bytes; loadu has no alignment needs.
    unsafe { _mm512_loadu_si512(p.cast()) }
}

/// Sign-extends 32 bytes at `p` to 16-bit lanes.
#[inline(always)]
unsafe fn widen_i8(p: *const u8) -> __m512i {
    // SAFETY: the caller guarantees 32 readable bytes and AVX-512BW.
    unsafe { _mm512_cvtepi8_epi16(_mm256_loadu_si256(p.cast())) }
}

// SAFETY: every method is only reached from functions compiled with `avx512f,avx512bw`; each
// step reads exactly 64 bytes from each pointer.
unsafe impl ByteLanes for Bytes64 {
    const BYTES: usize = 64;

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: AVX-512F enabled in the caller.
        unsafe { Self(_mm512_setzero_si512()) }
    }

    #[inline(always)]
    unsafe fn dot_u8(self, a: *const u8, b: *const u8) -> Self {
        // SAFETY: 64 readable bytes at `a` and `b`, AVX-512BW enabled.
        unsafe {
            let (va, vb, z) = (load512(a), load512(b), _mm512_setzero_si512());
            let lo = _mm512_madd_epi16(_mm512_unpacklo_epi8(va, z), _mm512_unpacklo_epi8(vb, z));
            let hi = _mm512_madd_epi16(_mm512_unpackhi_epi8(va, z), _mm512_unpackhi_epi8(vb, z));
            Self(_mm512_add_epi32(self.0, _mm512_add_epi32(lo, hi)))
        }
    }

    #[inline(always)]
    unsafe fn l2_u8(self, a: *const u8, b: *const u8) -> Self {
        // SAFETY: 64 readable bytes at `a` and `b`, AVX-512BW enabled.
        unsafe {
            let (va, vb, z) = (load512(a), load512(b), _mm512_setzero_si512());
            let dl = _mm512_sub_epi16(_mm512_unpacklo_epi8(va, z), _mm512_unpacklo_epi8(vb, z));
            let dh = _mm512_sub_epi16(_mm512_unpackhi_epi8(va, z), _mm512_unpackhi_epi8(vb, z));
            let s = _mm512_add_epi32(_mm512_madd_epi16(dl, dl), _mm512_madd_epi16(dh, dh));
            Self(_mm512_add_epi32(self.0, s))
        }
    }

    #[inline(always)]
    unsafe fn dot_i8(self, a: *const u8, b: *const u8) -> Self {
        // SAFETY: 64 readable bytes at `a` and `b` (two 32-byte halves), AVX-512BW enabled.
        unsafe {
            let lo = _mm512_madd_epi16(widen_i8(a), widen_i8(b));
            let hi = _mm512_madd_epi16(widen_i8(a.add(32)), widen_i8(b.add(32)));
            Self(_mm512_add_epi32(self.0, _mm512_add_epi32(lo, hi)))
        }
    }

    #[inline(always)]
    unsafe fn l2_i8(self, a: *const u8, b: *const u8) -> Self {
        // SAFETY: 64 readable bytes at `a` and `b` (two 32-byte halves), AVX-512BW enabled.
        unsafe {
            let dl = _mm512_sub_epi16(widen_i8(a), widen_i8(b));
            let dh = _mm512_sub_epi16(widen_i8(a.add(32)), widen_i8(b.add(32)));
            let s = _mm512_add_epi32(_mm512_madd_epi16(dl, dl), _mm512_madd_epi16(dh, dh));
            Self(_mm512_add_epi32(self.0, s))
        }
    }

    #[inline(always)]
    unsafe fn hamming(self, a: *const u8, b: *const u8) -> Self {
        // SAFETY: 64 readable bytes at `a` and `b`, AVX-512BW enabled.
        unsafe {
            let x = _mm512_xor_si512(load512(a), load512(b));
            let lut = _mm512_set4_epi32(0x0403_0302, 0x0302_0201, 0x0302_0201, 0x0201_0100);
            let m = _mm512_set1_epi8(0x0f);
            let lo = _mm512_and_si512(x, m);
            let hi = _mm512_and_si512(_mm512_srli_epi16::<4>(x), m);
            let cnt = _mm512_add_epi8(_mm512_shuffle_epi8(lut, lo), _mm512_shuffle_epi8(lut, hi));
            let sums = _mm512_sad_epu8(cnt, _mm512_setzero_si512());
            Self(_mm512_add_epi32(self.0, sums))
        }
    }

    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        // SAFETY: AVX-512F enabled in the caller.
        unsafe { Self(_mm512_add_epi32(self.0, o.0)) }
    }

    #[inline(always)]
    unsafe fn hsum(self) -> u32 {
        // SAFETY: AVX-512F enabled in the caller.
        unsafe { _mm512_reduce_add_epi32(self.0) as u32 }
    }
}

backend_entry_points! {
    backend: Backend::Avx512,
    features: "avx512f,avx512bw,avx2,fma,popcnt",
    f32: F32x16,
    bytes: Bytes64,
}

/// Byte lanes whose Hamming step uses `vpopcntq`; the other steps are those of [`Bytes64`].
#[derive(Clone, Copy)]
struct Popcnt64(Bytes64);

/// Hamming distance with `vpopcntq` on 64-byte blocks.
#[target_feature(enable = "avx512f,avx512bw,avx512vpopcntdq,popcnt")]
unsafe fn hamming_vpopcntdq(a: &[u8], b: &[u8]) -> u32 {
    // SAFETY: this function's features are those `Popcnt64` needs.
    unsafe { reduce_bytes::<Popcnt64>(ByteOp::Hamming, a, b) }
}

// SAFETY: only reached from `hamming_vpopcntdq`, compiled with AVX-512 F, BW and VPOPCNTDQ; each
// step reads 64 bytes per pointer like `Bytes64`.
unsafe impl ByteLanes for Popcnt64 {
    const BYTES: usize = 64;

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: forwarded trait contract.
        unsafe { Self(Bytes64::zero()) }
    }
    #[inline(always)]
    unsafe fn dot_u8(self, a: *const u8, b: *const u8) -> Self {
        // SAFETY: forwarded trait contract.
        unsafe { Self(self.0.dot_u8(a, b)) }
    }
    #[inline(always)]
    unsafe fn l2_u8(self, a: *const u8, b: *const u8) -> Self {
        // SAFETY: forwarded trait contract.
        unsafe { Self(self.0.l2_u8(a, b)) }
    }
    #[inline(always)]
    unsafe fn dot_i8(self, a: *const u8, b: *const u8) -> Self {
        // SAFETY: forwarded trait contract.
        unsafe { Self(self.0.dot_i8(a, b)) }
    }
    #[inline(always)]
    unsafe fn l2_i8(self, a: *const u8, b: *const u8) -> Self {
        // SAFETY: forwarded trait contract.
        unsafe { Self(self.0.l2_i8(a, b)) }
    }
    #[inline(always)]
    unsafe fn hamming(self, a: *const u8, b: *const u8) -> Self {
        // SAFETY: 64 readable bytes at `a` and `b`; AVX-512 VPOPCNTDQ enabled in the caller.
        // Each 64-bit lane count is at most 64, so adding in 32-bit lanes keeps the upper
        // halves zero and the low halves wrap like the scalar sum.
        unsafe {
            let x = _mm512_xor_si512(load512(a), load512(b));
            Self(Bytes64(_mm512_add_epi32(
                (self.0).0,
                _mm512_popcnt_epi64(x),
            )))
        }
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        // SAFETY: forwarded trait contract.
        unsafe { Self(self.0.add(o.0)) }
    }
    #[inline(always)]
    unsafe fn hsum(self) -> u32 {
        // SAFETY: forwarded trait contract.
        unsafe { self.0.hsum() }
    }
}

/// [`KERNELS`] with the VPOPCNTDQ Hamming kernel.
pub(super) static KERNELS_VPOPCNTDQ: Kernels = Kernels {
    hamming: hamming_vpopcntdq,
    ..KERNELS
};
