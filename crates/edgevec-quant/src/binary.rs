//! `Binary`: one sign bit per dimension, compared by Hamming distance.

use edgevec_simd::Kernels;

use crate::bytes::{self, PARAMS, Writer};
use crate::rotation::{ROUNDS, Rotation};
use crate::{CodecKind, Metric, QuantError, Quantizer};

/// Parameter flag: thresholds are the sample means.
const FLAG_CENTER: u8 = 1;
/// Parameter flag: a rotation precedes the sign bits (its parts follow the magnitudes).
const FLAG_ROTATE: u8 = 2;

/// Training options of [`Binary`].
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryConfig {
    /// Threshold each dimension at its sample mean (the default) instead of 0: keeps every bit
    /// informative when the data is not centred on the origin.
    pub center: bool,
    /// Apply a fixed random orthogonal transform before taking signs (the default): spreads
    /// the variance of data whose spread sits in a few axes over every bit, so that Hamming
    /// distances rank neighbours far better (docs/QUANTIZATION.md measures it). Distances and
    /// dot products are unchanged by the transform; encoding costs `O(dim · log dim)` more.
    pub rotate: bool,
}

impl Default for BinaryConfig {
    fn default() -> Self {
        Self {
            center: true,
            rotate: true,
        }
    }
}

/// Sign-bit codes: bit `j` is `y_j > t_j`, packed least significant bit first into
/// `⌈dim / 8⌉` bytes (padding bits are 0), where `y = R·x` for a fixed random orthogonal `R`
/// ([`BinaryConfig::rotate`], the default) or `y = x`.
///
/// The distance is the Hamming distance (`edgevec_simd::hamming`) as an f32 count, for every
/// metric: for centred, normalized data its expectation is `dim · θ / π` (θ the angle), so it
/// orders candidates; it is not an estimate of the metric's value. **Always rescore** (see
/// [`rescore`](crate::rescore)). Decoding gives `t_j ± m_j`, `m_j` the mean absolute deviation
/// of dimension `j` in the sample, then `Rᵀ` back: a crude reconstruction that keeps every sign
/// (up to rounding when rotated).
#[derive(Debug, Clone)]
pub struct Binary {
    metric: Metric,
    center: bool,
    rotation: Option<Rotation>,
    threshold: Vec<f32>,
    magnitude: Vec<f32>,
    kernels: &'static Kernels,
}

/// A query prepared by [`Binary`]: its bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryQuery(Vec<u8>);

impl Binary {
    fn build(
        metric: Metric,
        center: bool,
        rotation: Option<Rotation>,
        threshold: Vec<f32>,
        magnitude: Vec<f32>,
    ) -> Binary {
        Binary {
            metric,
            center,
            rotation,
            threshold,
            magnitude,
            kernels: Kernels::active(),
        }
    }

    /// Whether thresholds are the sample means (else 0).
    pub fn center(&self) -> bool {
        self.center
    }

    /// Whether a rotation precedes the sign bits.
    pub fn rotated(&self) -> bool {
        self.rotation.is_some()
    }

    /// Per-component thresholds (of the rotated vector when [`rotated`](Self::rotated)).
    pub fn thresholds(&self) -> &[f32] {
        &self.threshold
    }

    /// Per-component decoded magnitudes (mean absolute deviation from the threshold, in the
    /// rotated space when [`rotated`](Self::rotated)).
    pub fn magnitudes(&self) -> &[f32] {
        &self.magnitude
    }

    #[inline]
    #[track_caller]
    fn check_len(&self, len: usize) {
        if len != self.code_len() {
            crate::wrong_code_length(self.code_len(), len);
        }
    }
}

impl Quantizer for Binary {
    type Elem = u8;
    type Query = BinaryQuery;
    type Config = BinaryConfig;
    const KIND: CodecKind = CodecKind::Binary;

    fn train(
        metric: Metric,
        dim: usize,
        sample: &[f32],
        config: &BinaryConfig,
    ) -> Result<Self, QuantError> {
        let (rows, n) = crate::sample_rows(metric, dim, sample)?;
        let rotation = config.rotate.then(|| Rotation::new(dim));
        // Visits each sample row as the codes see it (rotated in f64, or as it is), one row at a
        // time: a sample of 65,536 × 768 held rotated would be 400 MB.
        let mut y = Vec::with_capacity(dim);
        let mut for_each_seen = |f: &mut dyn FnMut(&[f64])| {
            for row in rows.chunks_exact(dim) {
                match &rotation {
                    Some(r) => r.apply(row, &mut y),
                    None => {
                        y.clear();
                        y.extend(row.iter().map(|&x| f64::from(x)));
                    }
                }
                f(&y);
            }
        };
        let mut sum = vec![0.0_f64; dim];
        if config.center {
            for_each_seen(&mut |row| {
                for (s, &x) in sum.iter_mut().zip(row) {
                    *s += x;
                }
            });
        }
        let threshold: Vec<f32> = sum.iter().map(|s| crate::sat(s / n as f64)).collect();
        let mut dev = vec![0.0_f64; dim];
        for_each_seen(&mut |row| {
            for ((d, &x), &t) in dev.iter_mut().zip(row).zip(&threshold) {
                *d += (x - f64::from(t)).abs();
            }
        });
        let magnitude = dev.iter().map(|d| crate::sat(d / n as f64)).collect();
        Ok(Self::build(
            metric,
            config.center,
            rotation,
            threshold,
            magnitude,
        ))
    }

    fn dim(&self) -> usize {
        self.threshold.len()
    }

    fn metric(&self) -> Metric {
        self.metric
    }

    fn code_len(&self) -> usize {
        self.dim().div_ceil(8)
    }

    fn encode_into(&self, vector: &[f32], code: &mut [u8]) -> Result<(), QuantError> {
        crate::check_code_len(self.code_len(), code.len())?;
        let x = crate::input(self.metric, self.dim(), vector)?;
        code.fill(0);
        let mut set = |j: usize| code[j / 8] |= 1 << (j % 8);
        match &self.rotation {
            Some(r) => {
                let mut y = Vec::with_capacity(self.dim());
                r.apply(&x, &mut y);
                for (j, (&y, &t)) in y.iter().zip(&self.threshold).enumerate() {
                    if y > f64::from(t) {
                        set(j);
                    }
                }
            }
            None => {
                for (j, (&x, &t)) in x.iter().zip(&self.threshold).enumerate() {
                    if x > t {
                        set(j);
                    }
                }
            }
        }
        Ok(())
    }

    fn decode_into(&self, code: &[u8], out: &mut [f32]) -> Result<(), QuantError> {
        crate::check_code_len(self.code_len(), code.len())?;
        if out.len() != self.dim() {
            return Err(QuantError::DimensionMismatch {
                expected: self.dim(),
                found: out.len(),
            });
        }
        if let Some(r) = &self.rotation {
            // Each component on its side of the threshold in the rotated space, then back.
            let mut y: Vec<f64> = self
                .threshold
                .iter()
                .zip(&self.magnitude)
                .enumerate()
                .map(|(j, (&t, &m))| {
                    let (t, m) = (f64::from(t), f64::from(m));
                    let above = code[j / 8] >> (j % 8) & 1 == 1;
                    // A zero spread still decodes strictly above the threshold when set.
                    let m = if m > 0.0 { m } else { t.abs().max(1.0) * 1e-6 };
                    if above { t + m } else { t - m }
                })
                .collect();
            r.invert(&mut y);
            for (o, y) in out.iter_mut().zip(y) {
                *o = crate::sat(y);
            }
            return Ok(());
        }
        for (j, (o, (&t, &m))) in out
            .iter_mut()
            .zip(self.threshold.iter().zip(&self.magnitude))
            .enumerate()
        {
            let set = code[j / 8] >> (j % 8) & 1 == 1;
            let (t, m) = (f64::from(t), f64::from(m));
            // A bit set means "above the threshold": decode strictly above it, else at or below.
            *o = if set {
                let v = crate::sat(t + m);
                if f64::from(v) > t {
                    v
                } else {
                    (t as f32).next_up().min(f32::MAX)
                }
            } else {
                crate::sat(t - m)
            };
        }
        Ok(())
    }

    fn prepare(&self, query: &[f32]) -> Result<BinaryQuery, QuantError> {
        Ok(BinaryQuery(self.encode(query)?))
    }

    fn prepare_code(&self, code: &[u8]) -> Result<BinaryQuery, QuantError> {
        crate::check_code_len(self.code_len(), code.len())?;
        Ok(BinaryQuery(code.to_vec()))
    }

    #[inline]
    #[track_caller]
    fn distance(&self, query: &BinaryQuery, code: &[u8]) -> f32 {
        self.code_distance(&query.0, code)
    }

    #[inline]
    #[track_caller]
    fn code_distance(&self, a: &[u8], b: &[u8]) -> f32 {
        self.check_len(a.len());
        self.check_len(b.len());
        self.kernels.hamming(a, b) as f32
    }

    fn params_to_bytes(&self) -> Vec<u8> {
        let dim = self.dim();
        let mut flags = 0;
        if self.center {
            flags |= FLAG_CENTER;
        }
        if self.rotation.is_some() {
            flags |= FLAG_ROTATE;
        }
        let mut w = Writer::params(Self::KIND, self.metric, flags, dim, body_len(flags, dim));
        w.f32s(&self.threshold);
        w.f32s(&self.magnitude);
        if let Some(r) = &self.rotation {
            let (perm, neg) = r.parts();
            for (p, n) in perm.chunks_exact(dim).zip(neg.chunks_exact(dim)) {
                for &i in p {
                    w.u32(i);
                }
                w.bytes(n.iter().map(|&f| u8::from(f)));
            }
        }
        w.finish()
    }

    fn params_from_bytes(bytes: &[u8]) -> Result<Self, QuantError> {
        let (h, mut r) = bytes::open_params(bytes, Self::KIND, body_len)?;
        if h.flags & !(FLAG_CENTER | FLAG_ROTATE) != 0 {
            return Err(bytes::corrupt(
                PARAMS,
                format!("unknown Binary flags {:#04x}", h.flags),
            ));
        }
        let center = h.flags & FLAG_CENTER != 0;
        let threshold = r.f32s(h.dim, "a threshold")?;
        let magnitude = r.f32s(h.dim, "a magnitude")?;
        if let Some(j) = magnitude.iter().position(|m| *m < 0.0) {
            return Err(bytes::corrupt(
                PARAMS,
                format!("magnitude {j} is negative ({})", magnitude[j]),
            ));
        }
        if !center && let Some(j) = threshold.iter().position(|t| *t != 0.0) {
            return Err(bytes::corrupt(
                PARAMS,
                format!("uncentred codec but threshold {j} is {}", threshold[j]),
            ));
        }
        let rotation = if h.flags & FLAG_ROTATE != 0 {
            let mut perm = Vec::with_capacity(ROUNDS * h.dim);
            let mut neg = Vec::with_capacity(ROUNDS * h.dim);
            for _ in 0..ROUNDS {
                for _ in 0..h.dim {
                    perm.push(r.u32()?);
                }
                for s in r.take(h.dim)? {
                    neg.push(match s {
                        0 => false,
                        1 => true,
                        s => {
                            return Err(bytes::corrupt(
                                PARAMS,
                                format!("rotation sign byte is {s}, expected 0 or 1"),
                            ));
                        }
                    });
                }
            }
            Some(Rotation::from_parts(h.dim, perm, neg).map_err(|e| bytes::corrupt(PARAMS, e))?)
        } else {
            None
        };
        Ok(Self::build(
            h.metric, center, rotation, threshold, magnitude,
        ))
    }

    fn memory_bytes(&self) -> usize {
        (self.threshold.capacity() + self.magnitude.capacity()) * 4
            + self.rotation.as_ref().map_or(0, Rotation::memory_bytes)
            + std::mem::size_of::<Self>()
    }
}

/// Bytes of the parameter body after the header: thresholds and magnitudes (f32 each), then,
/// when rotated, per round `dim` u32 source indices and `dim` sign bytes.
fn body_len(flags: u8, dim: usize) -> usize {
    let rotation = if flags & FLAG_ROTATE != 0 {
        ROUNDS * 5 * dim
    } else {
        0
    };
    8 * dim + rotation
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_lsb_first_with_zero_padding() {
        let q = Binary::train(
            Metric::L2,
            10,
            &[0.0; 10],
            &BinaryConfig {
                center: false,
                rotate: false,
            },
        )
        .unwrap();
        assert_eq!(q.code_len(), 2);
        let mut v = [-1.0_f32; 10];
        v[0] = 1.0;
        v[9] = 1.0;
        assert_eq!(q.encode(&v).unwrap(), vec![0b0000_0001, 0b0000_0010]);
    }

    #[test]
    fn hamming_is_the_distance() {
        let q = Binary::train(
            Metric::Cosine,
            4,
            &[1.0, -1.0, 1.0, -1.0],
            &BinaryConfig {
                center: false,
                rotate: false,
            },
        )
        .unwrap();
        let a = q.encode(&[1.0, 1.0, 1.0, 1.0]).unwrap();
        let b = q.encode(&[-1.0, 1.0, -1.0, 1.0]).unwrap();
        assert_eq!(q.code_distance(&a, &b), 2.0);
        assert_eq!(
            q.distance(&q.prepare(&[1.0, 1.0, 1.0, 1.0]).unwrap(), &b),
            2.0
        );
    }

    #[test]
    fn centring_uses_the_mean() {
        let sample = [10.0, 0.0, 12.0, 0.0];
        let config = BinaryConfig {
            rotate: false,
            ..BinaryConfig::default()
        };
        let q = Binary::train(Metric::L2, 2, &sample, &config).unwrap();
        assert_eq!(q.thresholds(), &[11.0, 0.0]);
        assert_eq!(q.magnitudes(), &[1.0, 0.0]);
        assert_eq!(q.encode(&[11.5, 0.0]).unwrap(), vec![0b01]);
        // A constant dimension decodes to its constant (bit clear) or just above it (bit set).
        let d = q.decode(&[0b11]).unwrap();
        assert_eq!(d[0], 12.0);
        assert!(d[1] > 0.0);
        assert_eq!(q.decode(&[0b00]).unwrap(), vec![10.0, 0.0]);
    }
}
