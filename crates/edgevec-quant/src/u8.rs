//! `ScalarU8`: per-dimension affine u8 codes.

use edgevec_simd::Kernels;

use crate::bytes::{self, PARAMS, Writer};
use crate::{CodecKind, Metric, QuantError, Quantizer};

/// Values decoded per chunk on the per-dimension distance path (a stack buffer).
const CHUNK: usize = 256;

/// How [`ScalarU8`] chooses its steps, and therefore how it computes distances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum U8Scaling {
    /// One step for every dimension (the widest range / 255) with per-dimension offsets: the
    /// symmetric integer kernel `l2_squared_u8` times `step²` is exactly the L2 distance of the
    /// decoded vectors. The query is quantized too. The default (one kernel call per distance).
    #[default]
    Uniform,
    /// A step per dimension (its range / 255): every dimension uses all 256 levels. Distances
    /// keep the query in f32 and decode codes in chunks for the f32 kernel (asymmetric).
    PerDimension,
}

/// Training options of [`ScalarU8`].
#[derive(Debug, Clone, PartialEq)]
pub struct U8Config {
    /// Step layout and distance path.
    pub scaling: U8Scaling,
    /// Clipping fraction `p` in `[0, 0.5)`: the range of a dimension is its `p` and `1 − p`
    /// quantiles in the sample (values outside saturate). 0 (the default) means min and max.
    pub clip: f32,
}

impl Default for U8Config {
    fn default() -> Self {
        Self {
            scaling: U8Scaling::Uniform,
            clip: 0.0,
        }
    }
}

/// Per-dimension affine quantization to u8: `x̂_j = lo_j + step_j · c_j`.
///
/// Supports [`Metric::L2`] and [`Metric::Cosine`] (rows normalized on the way in; the distance is
/// `½‖x̂_a − x̂_b‖²`, equal to `1 − cos` for unit vectors). [`Metric::Dot`] is refused: use
/// [`ScalarI8`](crate::ScalarI8).
///
/// Error bound: for every component inside the trained range, `|x̂_j − x_j| ≤ step_j / 2` (plus
/// f32 rounding); components outside saturate to the range.
#[derive(Debug, Clone)]
pub struct ScalarU8 {
    metric: Metric,
    scaling: U8Scaling,
    clip: f32,
    lo: Vec<f32>,
    step: Vec<f32>,
    /// `step²` (uniform scaling), times ½ under cosine.
    factor: f64,
    /// Some `255·step` overflows f32 (a range wider than `f32::MAX`): decode in f64.
    wide: bool,
    kernels: &'static Kernels,
}

/// A query prepared by [`ScalarU8`]: its code (uniform scaling) or its f32 values.
#[derive(Debug, Clone, PartialEq)]
pub struct U8Query(Repr);

#[derive(Debug, Clone, PartialEq)]
enum Repr {
    Code(Vec<u8>),
    Values(Vec<f32>),
}

fn unsupported_dot() -> QuantError {
    QuantError::UnsupportedMetric {
        codec: CodecKind::ScalarU8,
        metric: Metric::Dot,
        hint: "inner products of offset codes need per-code corrections; use ScalarI8 (or Binary with rescoring) for dot",
    }
}

/// The largest f32 step `≤ range / 255` (`range` is the difference of two finite f32, so the
/// step is finite). Decoding computes `lo + step·code` in f64, where it never exceeds `hi`, so
/// the step needs no further shrinking, even for a range wider than `f32::MAX` (where
/// `255·step` alone is not representable in f32).
fn step_for(range: f64) -> f32 {
    let exact = range / 255.0;
    let mut s = exact as f32;
    if f64::from(s) > exact {
        s = s.next_down();
    }
    s.max(0.0)
}

impl ScalarU8 {
    fn build(
        metric: Metric,
        scaling: U8Scaling,
        clip: f32,
        lo: Vec<f32>,
        step: Vec<f32>,
    ) -> ScalarU8 {
        let s = f64::from(step[0]);
        let half = if metric == Metric::Cosine { 0.5 } else { 1.0 };
        let wide = lo
            .iter()
            .zip(&step)
            .any(|(&l, &s)| !(l + s * 255.0).is_finite());
        ScalarU8 {
            metric,
            scaling,
            clip,
            lo,
            step,
            factor: s * s * half,
            wide,
            kernels: Kernels::active(),
        }
    }

    /// The step layout chosen at training.
    pub fn scaling(&self) -> U8Scaling {
        self.scaling
    }

    /// The clipping fraction used at training.
    pub fn clip(&self) -> f32 {
        self.clip
    }

    /// Per-dimension offsets (the value of code 0).
    pub fn offsets(&self) -> &[f32] {
        &self.lo
    }

    /// Per-dimension steps (all equal under [`U8Scaling::Uniform`]); the error bound of
    /// dimension `j` is `steps()[j] / 2`.
    pub fn steps(&self) -> &[f32] {
        &self.step
    }

    /// Decodes `code[range]` into f32 (the form the per-dimension distance path uses).
    ///
    /// `lo + s·c` lies in `[lo, lo + 255·s]`, which training (or the reader) made finite in f32.
    /// Computed in f32 it stays finite unless `s·c` alone overflows, which happens only for a
    /// dimension whose range is wider than `f32::MAX`; a codec with such a dimension (`wide`)
    /// decodes in f64, where the product is exact, at about twice the cost.
    #[inline]
    fn decode_chunk(&self, start: usize, code: &[u8], out: &mut [f32]) {
        let end = start + code.len();
        let pairs = self.lo[start..end].iter().zip(&self.step[start..end]);
        if self.wide {
            for ((o, &c), (&lo, &s)) in out.iter_mut().zip(code).zip(pairs) {
                *o = (f64::from(lo) + f64::from(s) * f64::from(c)) as f32;
            }
        } else {
            for ((o, &c), (&lo, &s)) in out.iter_mut().zip(code).zip(pairs) {
                *o = lo + s * f32::from(c);
            }
        }
    }

    #[inline]
    #[track_caller]
    fn check_len(&self, len: usize) {
        if len != self.lo.len() {
            crate::wrong_code_length(self.lo.len(), len);
        }
    }

    fn half(&self) -> f32 {
        if self.metric == Metric::Cosine {
            0.5
        } else {
            1.0
        }
    }

    /// Per-dimension path: L2 between f32 values and a decoded code.
    #[track_caller]
    fn values_to_code(&self, values: &[f32], code: &[u8]) -> f32 {
        self.check_len(code.len());
        let mut buf = [0.0_f32; CHUNK];
        let mut sum = 0.0_f32;
        for (i, (q, c)) in values.chunks(CHUNK).zip(code.chunks(CHUNK)).enumerate() {
            let out = &mut buf[..c.len()];
            self.decode_chunk(i * CHUNK, c, out);
            sum += self.kernels.l2_squared(q, out);
        }
        sum * self.half()
    }
}

impl Quantizer for ScalarU8 {
    type Elem = u8;
    type Query = U8Query;
    type Config = U8Config;
    const KIND: CodecKind = CodecKind::ScalarU8;

    fn train(
        metric: Metric,
        dim: usize,
        sample: &[f32],
        config: &U8Config,
    ) -> Result<Self, QuantError> {
        if metric == Metric::Dot {
            return Err(unsupported_dot());
        }
        crate::check_clip(config.clip)?;
        let (rows, n) = crate::sample_rows(metric, dim, sample)?;
        let p = f64::from(config.clip);
        let mut col = Vec::with_capacity(n);
        let mut lo = Vec::with_capacity(dim);
        let mut hi = Vec::with_capacity(dim);
        for j in 0..dim {
            col.clear();
            col.extend(rows.iter().skip(j).step_by(dim));
            let (l, h) = if config.clip == 0.0 {
                col.iter()
                    .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &x| {
                        (l.min(x), h.max(x))
                    })
            } else {
                (
                    crate::quantile(&mut col, p),
                    crate::quantile(&mut col, 1.0 - p),
                )
            };
            lo.push(l);
            hi.push(h);
        }
        let range = |j: usize| f64::from(hi[j]) - f64::from(lo[j]);
        let step = match config.scaling {
            U8Scaling::PerDimension => (0..dim).map(|j| step_for(range(j))).collect(),
            U8Scaling::Uniform => {
                let widest = (0..dim).map(range).fold(0.0, f64::max);
                let s = step_for(widest);
                vec![s; dim]
            }
        };
        Ok(Self::build(metric, config.scaling, config.clip, lo, step))
    }

    fn dim(&self) -> usize {
        self.lo.len()
    }

    fn metric(&self) -> Metric {
        self.metric
    }

    fn code_len(&self) -> usize {
        self.lo.len()
    }

    fn encode_into(&self, vector: &[f32], code: &mut [u8]) -> Result<(), QuantError> {
        crate::check_code_len(self.code_len(), code.len())?;
        let x = crate::input(self.metric, self.dim(), vector)?;
        // Branch-free so that the compiler vectorizes it (the divisions are most of a query's
        // preparation): a zero step divides to ±∞ or NaN, computed and then discarded.
        for (c, ((&x, &lo), &s)) in code.iter_mut().zip(x.iter().zip(&self.lo).zip(&self.step)) {
            let r = crate::round_u8((f64::from(x) - f64::from(lo)) / f64::from(s));
            *c = if s == 0.0 { 0 } else { r };
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
        match self.scaling {
            // Steps were chosen (or checked) so that every decoded value is finite in f32.
            U8Scaling::PerDimension => self.decode_chunk(0, code, out),
            U8Scaling::Uniform => {
                for (o, ((&c, &lo), &s)) in out
                    .iter_mut()
                    .zip(code.iter().zip(&self.lo).zip(&self.step))
                {
                    *o = crate::sat(f64::from(lo) + f64::from(s) * f64::from(c));
                }
            }
        }
        Ok(())
    }

    fn prepare(&self, query: &[f32]) -> Result<U8Query, QuantError> {
        Ok(U8Query(match self.scaling {
            U8Scaling::Uniform => Repr::Code(self.encode(query)?),
            U8Scaling::PerDimension => {
                Repr::Values(crate::input(self.metric, self.dim(), query)?.into_owned())
            }
        }))
    }

    fn prepare_code(&self, code: &[u8]) -> Result<U8Query, QuantError> {
        crate::check_code_len(self.code_len(), code.len())?;
        Ok(U8Query(match self.scaling {
            U8Scaling::Uniform => Repr::Code(code.to_vec()),
            U8Scaling::PerDimension => {
                let mut v = vec![0.0; self.dim()];
                self.decode_chunk(0, code, &mut v);
                Repr::Values(v)
            }
        }))
    }

    #[inline]
    #[track_caller]
    fn distance(&self, query: &U8Query, code: &[u8]) -> f32 {
        match &query.0 {
            Repr::Code(q) => {
                self.check_len(code.len());
                crate::dist32(self.factor * f64::from(self.kernels.l2_squared_u8(q, code)))
            }
            Repr::Values(v) => self.values_to_code(v, code),
        }
    }

    #[inline]
    #[track_caller]
    fn code_distance(&self, a: &[u8], b: &[u8]) -> f32 {
        self.check_len(a.len());
        self.check_len(b.len());
        match self.scaling {
            U8Scaling::Uniform => {
                crate::dist32(self.factor * f64::from(self.kernels.l2_squared_u8(a, b)))
            }
            U8Scaling::PerDimension => {
                let mut bufa = [0.0_f32; CHUNK];
                let mut bufb = [0.0_f32; CHUNK];
                let mut sum = 0.0_f32;
                for (i, (ca, cb)) in a.chunks(CHUNK).zip(b.chunks(CHUNK)).enumerate() {
                    let (oa, ob) = (&mut bufa[..ca.len()], &mut bufb[..cb.len()]);
                    self.decode_chunk(i * CHUNK, ca, oa);
                    self.decode_chunk(i * CHUNK, cb, ob);
                    sum += self.kernels.l2_squared(oa, ob);
                }
                sum * self.half()
            }
        }
    }

    fn params_to_bytes(&self) -> Vec<u8> {
        let flags = u8::from(self.scaling == U8Scaling::PerDimension);
        let dim = self.dim();
        let mut w = Writer::params(Self::KIND, self.metric, flags, dim, 4 + 8 * dim);
        w.f32(self.clip);
        w.f32s(&self.lo);
        w.f32s(&self.step);
        w.finish()
    }

    fn params_from_bytes(bytes: &[u8]) -> Result<Self, QuantError> {
        let (h, mut r) = bytes::open_params(bytes, Self::KIND, |_, dim| 4 + 8 * dim)?;
        if h.metric == Metric::Dot {
            return Err(bytes::corrupt(PARAMS, unsupported_dot().to_string()));
        }
        let scaling = match h.flags {
            0 => U8Scaling::Uniform,
            1 => U8Scaling::PerDimension,
            f => {
                return Err(bytes::corrupt(
                    PARAMS,
                    format!("unknown ScalarU8 flags {f:#04x}"),
                ));
            }
        };
        let clip = r.f32("clip")?;
        if crate::check_clip(clip).is_err() {
            return Err(bytes::corrupt(
                PARAMS,
                format!("clip {clip} is outside [0, 0.5)"),
            ));
        }
        let lo = r.f32s(h.dim, "an offset")?;
        let step = r.f32s(h.dim, "a step")?;
        for (j, (&l, &s)) in lo.iter().zip(&step).enumerate() {
            if s < 0.0 {
                return Err(bytes::corrupt(
                    PARAMS,
                    format!("step {j} is negative ({s})"),
                ));
            }
            let top = f64::from(l) + 255.0 * f64::from(s);
            if scaling == U8Scaling::PerDimension && !(top as f32).is_finite() {
                return Err(bytes::corrupt(
                    PARAMS,
                    format!("dimension {j}: offset {l} + 255 x step {s} overflows f32"),
                ));
            }
            if scaling == U8Scaling::Uniform && s != step[0] {
                return Err(bytes::corrupt(
                    PARAMS,
                    format!(
                        "uniform scaling but step {j} ({s}) differs from step 0 ({})",
                        step[0]
                    ),
                ));
            }
        }
        Ok(Self::build(h.metric, scaling, clip, lo, step))
    }

    fn memory_bytes(&self) -> usize {
        (self.lo.capacity() + self.step.capacity()) * 4 + std::mem::size_of::<Self>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(scaling: U8Scaling) -> U8Config {
        U8Config { scaling, clip: 0.0 }
    }

    #[test]
    fn dot_is_refused() {
        let e = ScalarU8::train(Metric::Dot, 2, &[1.0, 2.0], &U8Config::default()).unwrap_err();
        assert!(matches!(
            e,
            QuantError::UnsupportedMetric {
                metric: Metric::Dot,
                ..
            }
        ));
        assert!(e.to_string().contains("ScalarI8"));
    }

    #[test]
    fn uniform_distance_is_exact_on_decoded_vectors() {
        let sample = [0.0, 10.0, 1.0, 12.0, 2.0, 20.0, 3.0, 11.0];
        let q = ScalarU8::train(Metric::L2, 2, &sample, &cfg(U8Scaling::Uniform)).unwrap();
        // One step, the widest range / 255 rounded down.
        let s = q.steps()[0];
        assert_eq!(q.steps(), &[s; 2]);
        assert!(s <= 10.0 / 255.0 && s > 10.0 / 255.0 * (1.0 - 1e-6));
        let a = q.encode(&[0.5, 13.0]).unwrap();
        let b = q.encode(&[2.5, 19.0]).unwrap();
        let (da, db) = (q.decode(&a).unwrap(), q.decode(&b).unwrap());
        let exact = edgevec_simd::l2_squared(&da, &db);
        let d = q.code_distance(&a, &b);
        assert!((d - exact).abs() <= 1e-5 * exact, "{d} vs {exact}");
        assert_eq!(q.distance(&q.prepare_code(&a).unwrap(), &b), d);
    }

    #[test]
    fn per_dimension_uses_full_range() {
        let sample = [0.0, 10.0, 1.0, 20.0];
        let q = ScalarU8::train(Metric::L2, 2, &sample, &cfg(U8Scaling::PerDimension)).unwrap();
        assert_eq!(q.encode(&[1.0, 20.0]).unwrap(), vec![255, 255]);
        assert_eq!(q.encode(&[-5.0, 0.0]).unwrap(), vec![0, 0]);
        let a = q.encode(&[0.5, 15.0]).unwrap();
        assert_eq!(q.distance(&q.prepare_code(&a).unwrap(), &a), 0.0);
    }

    #[test]
    fn clipping_saturates_outliers() {
        let mut sample: Vec<f32> = (0..100).map(|i| i as f32 / 100.0).collect();
        sample[99] = 1000.0;
        let q = ScalarU8::train(
            Metric::L2,
            1,
            &sample,
            &U8Config {
                scaling: U8Scaling::PerDimension,
                clip: 0.02,
            },
        )
        .unwrap();
        assert!(q.steps()[0] < 0.01, "{}", q.steps()[0]);
        assert_eq!(q.encode(&[1000.0]).unwrap(), vec![255]);
    }

    #[test]
    fn huge_ranges_stay_finite() {
        let sample = [-f32::MAX, f32::MAX, f32::MAX, -f32::MAX];
        for scaling in [U8Scaling::Uniform, U8Scaling::PerDimension] {
            let q = ScalarU8::train(Metric::L2, 2, &sample, &cfg(scaling)).unwrap();
            for code in [[0u8, 255], [255, 0], [128, 7]] {
                assert!(q.decode(&code).unwrap().iter().all(|x| x.is_finite()));
                let d = q.code_distance(&code, &[0, 0]);
                assert!(!d.is_nan());
            }
            let back = ScalarU8::params_from_bytes(&q.params_to_bytes()).unwrap();
            assert_eq!(back.steps(), q.steps());
        }
    }

    #[test]
    #[should_panic(expected = "code length mismatch")]
    fn wrong_code_length_panics_in_distance() {
        let q = ScalarU8::train(Metric::L2, 2, &[0.0, 1.0], &cfg(U8Scaling::PerDimension)).unwrap();
        let query = q.prepare(&[0.0, 1.0]).unwrap();
        let _ = q.distance(&query, &[1, 2, 3]);
    }
}
