//! Vector quantization for EdgeVec: compact codes for f32 rows, distances on codes, exact
//! rescoring.
//!
//! Three codecs implement the narrow [`Quantizer`] trait (train on a sample, encode, decode,
//! prepare a query, distance from a prepared query to a code, distance between two codes,
//! parameters to and from explicit little-endian bytes):
//!
//! | codec | code | metrics | distance kernel |
//! |---|---|---|---|
//! | [`ScalarU8`] | `dim` × u8, per-dimension offset | L2, cosine | `l2_squared_u8` (uniform step) or f32 on decoded chunks (per-dimension step) |
//! | [`ScalarI8`] | `dim` × i8, one symmetric step | L2, cosine, dot | `l2_squared_i8` (L2, cosine), `dot_i8` (dot) |
//! | [`Binary`] | `⌈dim/8⌉` bytes of sign bits | L2, cosine, dot (ordering proxy) | `hamming` |
//!
//! Distances follow the EdgeVec conventions (smaller is closer): [`Metric::L2`] is the squared
//! Euclidean distance, [`Metric::Cosine`] is `1 − cos` on vectors normalized on the way in,
//! [`Metric::Dot`] is `−⟨a, b⟩`. Code distances approximate them; [`rescore`] re-ranks the best
//! candidates with [`exact_distance`] on the f32 rows, so that a search returns exact distances.
//! [`Codes`] holds a contiguous array of codes and writes it as a checksummed byte section.
//!
//! The design, error bounds and byte layouts are in `docs/QUANTIZATION.md`.
//!
//! ```
//! use edgevec_quant::{Metric, Quantizer, ScalarU8, U8Config};
//!
//! let sample: Vec<f32> = (0..64).map(|i| (i % 8) as f32 * 0.5).collect(); // 8 rows, dim 8
//! let q = ScalarU8::train(Metric::L2, 8, &sample, &U8Config::default())?;
//! let a = q.encode(&sample[..8])?;
//! let b = q.encode(&sample[8..16])?;
//! let query = q.prepare(&sample[..8])?;
//! assert_eq!(q.distance(&query, &a), 0.0);
//! assert_eq!(q.distance(&query, &b), q.code_distance(&a, &b));
//! let restored = ScalarU8::params_from_bytes(&q.params_to_bytes())?;
//! assert_eq!(restored.encode(&sample[8..16])?, b);
//! # Ok::<(), edgevec_quant::QuantError>(())
//! ```
//!
//! Architecture invariant: this crate depends only on `edgevec-simd`; it knows nothing about
//! graphs or files (it produces and checks byte sections; where they are stored is the facade's
//! business).
#![forbid(unsafe_code)]

mod binary;
mod bytes;
mod codes;
mod i8;
mod rescore;
mod rotation;
mod u8;

use std::borrow::Cow;
use std::fmt;

pub use binary::{Binary, BinaryConfig, BinaryQuery};
pub use codes::Codes;
pub use i8::{I8Config, I8Query, ScalarI8};
pub use rescore::{exact_distance, oversampled, rescore, thousandths};
pub use u8::{ScalarU8, U8Config, U8Query, U8Scaling};

/// The distance kernels this crate computes code distances with.
pub use edgevec_simd as simd;

/// Largest supported number of dimensions: keeps the exact integer kernels below the length at
/// which their 32-bit sums could wrap (66,051 elements for `l2_squared_u8`).
pub const MAX_DIM: usize = 65_536;

/// The distance a quantizer approximates (EdgeVec's one metric enum, from `edgevec-simd`).
pub use edgevec_simd::Metric;

/// Which codec wrote a parameter or code section (its `kind` tag in the bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CodecKind {
    /// [`ScalarU8`], tag 1.
    ScalarU8,
    /// [`ScalarI8`], tag 2.
    ScalarI8,
    /// [`Binary`], tag 3.
    Binary,
}

impl CodecKind {
    /// The tag written in parameter and code sections.
    pub const fn tag(self) -> u16 {
        match self {
            CodecKind::ScalarU8 => 1,
            CodecKind::ScalarI8 => 2,
            CodecKind::Binary => 3,
        }
    }

    /// The kind of a tag, if it names one.
    pub fn from_tag(tag: u16) -> Option<CodecKind> {
        [CodecKind::ScalarU8, CodecKind::ScalarI8, CodecKind::Binary]
            .into_iter()
            .find(|k| k.tag() == tag)
    }

    /// The codec's type name.
    pub const fn name(self) -> &'static str {
        match self {
            CodecKind::ScalarU8 => "ScalarU8",
            CodecKind::ScalarI8 => "ScalarI8",
            CodecKind::Binary => "Binary",
        }
    }
}

impl fmt::Display for CodecKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for u8 {}
    impl Sealed for i8 {}
}

/// The element type of a code: `u8` or `i8` (one byte each; sealed).
pub trait CodeElem:
    sealed::Sealed + Copy + Default + PartialEq + Send + Sync + fmt::Debug + 'static
{
    /// The element's byte (two's complement for `i8`).
    fn to_byte(self) -> u8;
    /// The element of a byte.
    fn from_byte(byte: u8) -> Self;
}

impl CodeElem for u8 {
    #[inline]
    fn to_byte(self) -> u8 {
        self
    }
    #[inline]
    fn from_byte(byte: u8) -> Self {
        byte
    }
}

impl CodeElem for i8 {
    #[inline]
    fn to_byte(self) -> u8 {
        self.to_le_bytes()[0]
    }
    #[inline]
    fn from_byte(byte: u8) -> Self {
        i8::from_le_bytes([byte])
    }
}

/// Everything that can go wrong in this crate. Messages say what was wrong and what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum QuantError {
    /// A vector, query or output buffer has the wrong number of dimensions.
    #[error(
        "dimension mismatch: the quantizer was trained on {expected}-dimensional vectors, got {found}"
    )]
    DimensionMismatch {
        /// Dimensions of the quantizer.
        expected: usize,
        /// Dimensions received.
        found: usize,
    },
    /// A code or code buffer has the wrong length.
    #[error("code length mismatch: codes of this quantizer are {expected} elements, got {found}")]
    CodeLength {
        /// Elements per code.
        expected: usize,
        /// Elements received.
        found: usize,
    },
    /// A vector or query holds NaN or an infinity.
    #[error(
        "component {component} is {value}; vectors must contain only finite numbers (replace or drop NaN/infinite values first)"
    )]
    NonFinite {
        /// Position of the first offending component.
        component: usize,
        /// The offending value.
        value: f32,
    },
    /// A training sample row holds NaN or an infinity.
    #[error(
        "training sample row {row}, component {component} is {value}; the sample must contain only finite numbers"
    )]
    NonFiniteSample {
        /// Row of the sample.
        row: usize,
        /// Component within the row.
        component: usize,
        /// The offending value.
        value: f32,
    },
    /// A zero vector under the cosine metric (it has no direction).
    #[error("zero vector: the cosine metric needs a vector with a non-zero norm")]
    ZeroVector,
    /// A zero row in a training sample under the cosine metric.
    #[error(
        "training sample row {row} is a zero vector, which has no direction under the cosine metric; remove it"
    )]
    ZeroSampleRow {
        /// Row of the sample.
        row: usize,
    },
    /// The training sample holds no rows.
    #[error("empty training sample: train on at least one row (a few thousand rows are typical)")]
    EmptySample,
    /// The training sample is not a whole number of rows.
    #[error(
        "training sample has {len} values, which is not a whole number of {dim}-dimensional rows"
    )]
    SampleShape {
        /// Number of values in the sample.
        len: usize,
        /// Declared dimensions.
        dim: usize,
    },
    /// A training parameter is out of range.
    #[error("invalid parameter {name} = {value}: {reason}")]
    InvalidParameter {
        /// Parameter name.
        name: &'static str,
        /// The rejected value, formatted.
        value: String,
        /// What is allowed.
        reason: &'static str,
    },
    /// The codec cannot approximate this metric.
    #[error("{codec} does not support the {metric} metric: {hint}")]
    UnsupportedMetric {
        /// The codec.
        codec: CodecKind,
        /// The refused metric.
        metric: Metric,
        /// What to use instead.
        hint: &'static str,
    },
    /// A byte section is shorter or longer than its header says.
    #[error(
        "{what}: {found} bytes, expected {expected}; the data is truncated or was not written by this version"
    )]
    Length {
        /// Which section.
        what: &'static str,
        /// Bytes the header implies.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// A byte section does not start with its magic number.
    #[error(
        "{what}: bad magic {found:02x?}, expected {expected:02x?}; these bytes are not a {what} section"
    )]
    BadMagic {
        /// Which section.
        what: &'static str,
        /// The magic expected.
        expected: [u8; 4],
        /// The first four bytes found.
        found: [u8; 4],
    },
    /// A byte section has a format version this build does not read.
    #[error(
        "{what}: format version {found} is not supported (this build reads version {supported})"
    )]
    UnsupportedVersion {
        /// Which section.
        what: &'static str,
        /// Version found.
        found: u16,
        /// Version this build reads.
        supported: u16,
    },
    /// A byte section was written by another codec.
    #[error("{what}: written by codec tag {found}, but read as {expected}")]
    WrongKind {
        /// Which section.
        what: &'static str,
        /// The codec reading.
        expected: CodecKind,
        /// The tag found.
        found: u16,
    },
    /// A byte section's CRC32 does not match its contents.
    #[error(
        "{what}: checksum mismatch (stored {stored:#010x}, computed {computed:#010x}); the data is corrupted"
    )]
    Checksum {
        /// Which section.
        what: &'static str,
        /// CRC stored in the section.
        stored: u32,
        /// CRC of the bytes read.
        computed: u32,
    },
    /// A byte section's values are inconsistent (checksum correct, contents invalid).
    #[error("{what}: invalid contents: {reason}")]
    Corrupt {
        /// Which section.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// A vector codec: trained on a sample, it turns f32 rows into fixed-width codes and computes
/// approximate distances on them.
///
/// The hot methods ([`Quantizer::distance`], [`Quantizer::code_distance`]) take codes of exactly
/// [`Quantizer::code_len`] elements and panic otherwise (with both lengths in the message), like
/// the `edgevec-simd` kernels they call; every other method returns a [`QuantError`]. Distances
/// are never NaN for codes of the right length.
pub trait Quantizer: Sized + Send + Sync + fmt::Debug {
    /// Element type of a code.
    type Elem: CodeElem;
    /// A query prepared for repeated distance computations.
    type Query: Send + Sync + fmt::Debug + Clone;
    /// Training options.
    type Config: Default + fmt::Debug + Clone;
    /// The codec's tag in byte sections.
    const KIND: CodecKind;

    /// Trains on `sample`, row-major rows of `dim` values.
    ///
    /// Errors: [`QuantError::EmptySample`], [`QuantError::SampleShape`],
    /// [`QuantError::NonFiniteSample`], [`QuantError::ZeroSampleRow`] (cosine),
    /// [`QuantError::UnsupportedMetric`], [`QuantError::InvalidParameter`] (`dim` outside
    /// `1..=MAX_DIM`, a bad option).
    fn train(
        metric: Metric,
        dim: usize,
        sample: &[f32],
        config: &Self::Config,
    ) -> Result<Self, QuantError>;

    /// Number of dimensions of the vectors.
    fn dim(&self) -> usize;
    /// The metric the distances approximate.
    fn metric(&self) -> Metric;
    /// Elements (= bytes) per code.
    fn code_len(&self) -> usize;

    /// Bytes per code (every element type is one byte).
    fn bytes_per_code(&self) -> usize {
        self.code_len()
    }

    /// Encodes `vector` into `code` (which must hold [`Quantizer::code_len`] elements).
    fn encode_into(&self, vector: &[f32], code: &mut [Self::Elem]) -> Result<(), QuantError>;

    /// Encodes `vector` into a new code.
    fn encode(&self, vector: &[f32]) -> Result<Vec<Self::Elem>, QuantError> {
        let mut code = vec![Self::Elem::default(); self.code_len()];
        self.encode_into(vector, &mut code)?;
        Ok(code)
    }

    /// Decodes `code` into `out` (`dim` values): the reconstruction the error bounds are about
    /// (normalized under cosine).
    fn decode_into(&self, code: &[Self::Elem], out: &mut [f32]) -> Result<(), QuantError>;

    /// Decodes `code` into a new vector.
    fn decode(&self, code: &[Self::Elem]) -> Result<Vec<f32>, QuantError> {
        let mut out = vec![0.0; self.dim()];
        self.decode_into(code, &mut out)?;
        Ok(out)
    }

    /// Prepares a query vector for [`Quantizer::distance`].
    fn prepare(&self, query: &[f32]) -> Result<Self::Query, QuantError>;

    /// Prepares a stored code as a query, so that `distance(&prepare_code(a), b)` equals
    /// `code_distance(a, b)` (for a graph's `node_query`).
    fn prepare_code(&self, code: &[Self::Elem]) -> Result<Self::Query, QuantError>;

    /// Approximate distance from a prepared query to a code.
    ///
    /// # Panics
    /// When `code.len() != self.code_len()`.
    fn distance(&self, query: &Self::Query, code: &[Self::Elem]) -> f32;

    /// Approximate distance between two codes.
    ///
    /// # Panics
    /// When either code's length is not `self.code_len()`.
    fn code_distance(&self, a: &[Self::Elem], b: &[Self::Elem]) -> f32;

    /// The trained parameters as a checksummed little-endian section (layout in
    /// `docs/QUANTIZATION.md`).
    fn params_to_bytes(&self) -> Vec<u8>;

    /// Reads parameters written by [`Quantizer::params_to_bytes`], validating everything; any
    /// truncation or corruption is an error, never a panic.
    fn params_from_bytes(bytes: &[u8]) -> Result<Self, QuantError>;

    /// Bytes of memory the parameters hold.
    fn memory_bytes(&self) -> usize;
}

// ---------------------------------------------------------------------------------------------
// Shared input handling.

pub(crate) fn check_dim(dim: usize) -> Result<(), QuantError> {
    if dim == 0 || dim > MAX_DIM {
        return Err(QuantError::InvalidParameter {
            name: "dim",
            value: dim.to_string(),
            reason: "must be in 1..=65536",
        });
    }
    Ok(())
}

pub(crate) fn check_clip(clip: f32) -> Result<(), QuantError> {
    if !(0.0..0.5).contains(&clip) {
        return Err(QuantError::InvalidParameter {
            name: "clip",
            value: clip.to_string(),
            reason: "the clipping fraction must be in [0, 0.5); 0 means min/max",
        });
    }
    Ok(())
}

/// Checks a vector's length and values.
pub(crate) fn check_vector(dim: usize, v: &[f32]) -> Result<(), QuantError> {
    if v.len() != dim {
        return Err(QuantError::DimensionMismatch {
            expected: dim,
            found: v.len(),
        });
    }
    if let Some((component, value)) = simd::first_non_finite(v) {
        return Err(QuantError::NonFinite { component, value });
    }
    Ok(())
}

pub(crate) fn check_code_len(expected: usize, found: usize) -> Result<(), QuantError> {
    if expected != found {
        return Err(QuantError::CodeLength { expected, found });
    }
    Ok(())
}

/// The unit vector of a finite vector, robust to overflow (scaled by its largest magnitude
/// first); `None` for a zero vector.
pub(crate) fn unit(v: &[f32]) -> Option<Vec<f32>> {
    let max = v.iter().fold(0.0_f32, |m, x| m.max(x.abs()));
    if max == 0.0 {
        return None;
    }
    let scaled: Vec<f32> = v.iter().map(|x| x / max).collect();
    let norm = f64::from(simd::norm_squared(&scaled)).sqrt();
    let inv = (1.0 / norm) as f32;
    Some(scaled.into_iter().map(|x| x * inv).collect())
}

/// A checked vector as the codec sees it: as is, or normalized under cosine.
pub(crate) fn input<'a>(
    metric: Metric,
    dim: usize,
    v: &'a [f32],
) -> Result<Cow<'a, [f32]>, QuantError> {
    check_vector(dim, v)?;
    if metric == Metric::Cosine {
        unit(v).map(Cow::Owned).ok_or(QuantError::ZeroVector)
    } else {
        Ok(Cow::Borrowed(v))
    }
}

/// A checked training sample as the codec sees it (rows normalized under cosine); returns the
/// values and the number of rows.
pub(crate) fn sample_rows<'a>(
    metric: Metric,
    dim: usize,
    sample: &'a [f32],
) -> Result<(Cow<'a, [f32]>, usize), QuantError> {
    check_dim(dim)?;
    if sample.is_empty() {
        return Err(QuantError::EmptySample);
    }
    if !sample.len().is_multiple_of(dim) {
        return Err(QuantError::SampleShape {
            len: sample.len(),
            dim,
        });
    }
    let rows = sample.len() / dim;
    for (row, r) in sample.chunks_exact(dim).enumerate() {
        if let Some((component, value)) = simd::first_non_finite(r) {
            return Err(QuantError::NonFiniteSample {
                row,
                component,
                value,
            });
        }
    }
    if metric != Metric::Cosine {
        return Ok((Cow::Borrowed(sample), rows));
    }
    let mut out = Vec::with_capacity(sample.len());
    for (row, r) in sample.chunks_exact(dim).enumerate() {
        out.extend(unit(r).ok_or(QuantError::ZeroSampleRow { row })?);
    }
    Ok((Cow::Owned(out), rows))
}

/// The `q`-quantile (`0 ≤ q ≤ 1`, nearest rank) of `values`, which it reorders. `values` is
/// not empty and holds no NaN.
pub(crate) fn quantile(values: &mut [f32], q: f64) -> f32 {
    let last = values.len() - 1;
    let rank = ((q * last as f64).round() as usize).min(last);
    *values.select_nth_unstable_by(rank, f32::total_cmp).1
}

/// An f64 saturated into the finite f32 range.
#[inline]
pub(crate) fn sat(x: f64) -> f32 {
    x.clamp(-f64::from(f32::MAX), f64::from(f32::MAX)) as f32
}

/// `v.round().clamp(0.0, 255.0) as u8` (halves away from zero; NaN gives 0) without a call:
/// `f64::round` is a library function on baseline x86_64 (no SSE4.1), 384 calls per encoded
/// 384-d query. The fraction `c - trunc(c)` of a value below 2^52 is exact, so the result is.
#[inline]
pub(crate) fn round_u8(v: f64) -> u8 {
    let c = v.clamp(0.0, 255.0);
    let t = c as u8;
    t + u8::from(c - f64::from(t) >= 0.5)
}

/// `v.round().clamp(-127.0, 127.0) as i8`, without a call (see [`round_u8`]).
#[inline]
pub(crate) fn round_i8(v: f64) -> i8 {
    let c = v.clamp(-127.0, 127.0);
    let t = c as i8;
    let f = c - f64::from(t);
    t + i8::from(f >= 0.5) - i8::from(f <= -0.5)
}

/// An f64 distance as f32, never NaN for non-NaN input (overflow saturates to infinity).
#[inline]
pub(crate) fn dist32(x: f64) -> f32 {
    x as f32
}

/// The panic of a distance asked of a code with the wrong length (a caller's bug: codes from
/// [`Codes`] always have the quantizer's length). Out of line and cold, so that the check it
/// ends stays one compare in the distance loops.
#[cold]
#[inline(never)]
#[track_caller]
pub(crate) fn wrong_code_length(expected: usize, found: usize) -> ! {
    panic!("{}", QuantError::CodeLength { expected, found })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_matches_the_library_round() {
        let mut probes = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            0.49999999999999994,
            -0.49999999999999994,
            0.5000000000000001,
            1.5,
            2.5,
            126.5,
            -126.5,
            127.49999999999999,
            -127.5,
            254.5,
            254.49999999999997,
            255.5,
            255.0,
            256.0,
            -1.0,
            1e300,
            -1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
        ];
        // Every half and its two neighbours over both ranges, and a dense sweep.
        for i in -600..=600 {
            let h = f64::from(i) / 2.0;
            probes.extend([h, h.next_up(), h.next_down()]);
        }
        let mut x = 0x9E37_79B9_7F4A_7C15_u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            probes.push((x >> 11) as f64 / (1u64 << 53) as f64 * 600.0 - 300.0);
        }
        for v in probes {
            assert_eq!(round_u8(v), v.round().clamp(0.0, 255.0) as u8, "{v:e}");
            assert_eq!(round_i8(v), v.round().clamp(-127.0, 127.0) as i8, "{v:e}");
        }
    }

    #[test]
    fn tags_round_trip() {
        for m in Metric::ALL {
            assert_eq!(Metric::from_tag(m.tag()), Some(m));
        }
        assert_eq!(Metric::from_tag(3), None);
        for k in [CodecKind::ScalarU8, CodecKind::ScalarI8, CodecKind::Binary] {
            assert_eq!(CodecKind::from_tag(k.tag()), Some(k));
        }
        assert_eq!(CodecKind::from_tag(0), None);
        assert_eq!(Metric::Cosine.to_string(), "cosine");
        assert_eq!(CodecKind::Binary.to_string(), "Binary");
    }

    #[test]
    fn i8_bytes_are_twos_complement() {
        for b in 0..=255u8 {
            assert_eq!(i8::from_byte(b).to_byte(), b);
        }
        assert_eq!((-1i8).to_byte(), 0xff);
        assert_eq!(i8::from_byte(0x80), -128);
    }

    #[test]
    fn unit_is_robust_to_huge_values() {
        let u = unit(&[f32::MAX, f32::MAX]).unwrap();
        assert!((u[0] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        assert!(unit(&[0.0, 0.0]).is_none());
        let tiny = unit(&[1e-40, 0.0]).unwrap();
        assert_eq!(tiny, vec![1.0, 0.0]);
    }

    #[test]
    fn quantiles() {
        let mut v = vec![5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(quantile(&mut v, 0.0), 1.0);
        assert_eq!(quantile(&mut v, 1.0), 5.0);
        assert_eq!(quantile(&mut v, 0.5), 3.0);
        assert_eq!(quantile(&mut [7.0], 0.25), 7.0);
    }

    #[test]
    fn input_checks() {
        assert!(matches!(
            input(Metric::L2, 3, &[1.0, 2.0]),
            Err(QuantError::DimensionMismatch {
                expected: 3,
                found: 2
            })
        ));
        assert!(matches!(
            input(Metric::L2, 2, &[1.0, f32::NAN]),
            Err(QuantError::NonFinite { component: 1, .. })
        ));
        assert_eq!(
            input(Metric::Cosine, 2, &[0.0, 0.0]),
            Err(QuantError::ZeroVector)
        );
        assert_eq!(
            sample_rows(Metric::L2, 2, &[]).unwrap_err(),
            QuantError::EmptySample
        );
        assert!(matches!(
            sample_rows(Metric::L2, 2, &[1.0, 2.0, 3.0]),
            Err(QuantError::SampleShape { len: 3, dim: 2 })
        ));
        assert!(matches!(
            sample_rows(Metric::L2, 2, &[1.0, 2.0, 3.0, f32::INFINITY]),
            Err(QuantError::NonFiniteSample {
                row: 1,
                component: 1,
                ..
            })
        ));
        assert_eq!(
            sample_rows(Metric::Cosine, 1, &[1.0, 0.0]).unwrap_err(),
            QuantError::ZeroSampleRow { row: 1 }
        );
        assert!(sample_rows(Metric::L2, 0, &[1.0]).is_err());
        assert!(check_clip(0.5).is_err());
        assert!(check_clip(f32::NAN).is_err());
        assert!(check_clip(0.01).is_ok());
    }
}
