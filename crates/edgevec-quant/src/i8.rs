//! `ScalarI8`: symmetric i8 codes with one step.

use edgevec_simd::Kernels;

use crate::bytes::{self, PARAMS, Writer};
use crate::{CodecKind, Metric, QuantError, Quantizer};

/// Training options of [`ScalarI8`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct I8Config {
    /// Clipping fraction `p` in `[0, 0.5)`: the amplitude is the `1 − p` quantile of `|x_j|` over
    /// all components of the sample (larger magnitudes saturate at ±127). 0 (the default) means
    /// the maximum.
    pub clip: f32,
}

/// Symmetric quantization to i8 with one step for every dimension: `x̂_j = step · c_j`,
/// `c_j ∈ −127..=127`.
///
/// Suited to normalized embeddings (components centred on 0). Every metric is computed with
/// one symmetric integer kernel and is exact on the decoded vectors: dot `−step²·dot_i8`, cosine
/// `½·step²·l2_squared_i8` (rows normalized on the way in; `½‖x̂_a − x̂_b‖²` is `1 − cos` for unit
/// vectors and ranks near neighbours more accurately than the dot product of the codes), L2
/// `step²·l2_squared_i8`. The query is quantized with the same codec.
///
/// Error bound: `|x̂_j − x_j| ≤ step / 2` for `|x_j| ≤ 127·step` (plus f32 rounding); larger
/// magnitudes saturate.
#[derive(Debug, Clone)]
pub struct ScalarI8 {
    metric: Metric,
    dim: usize,
    clip: f32,
    step: f32,
    /// `step²` in f64 (no overflow, no NaN when multiplied by a kernel result).
    step2: f64,
    kernels: &'static Kernels,
}

/// A query prepared by [`ScalarI8`]: its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct I8Query(Vec<i8>);

impl ScalarI8 {
    fn build(metric: Metric, dim: usize, clip: f32, step: f32) -> ScalarI8 {
        ScalarI8 {
            metric,
            dim,
            clip,
            step,
            step2: f64::from(step) * f64::from(step),
            kernels: Kernels::active(),
        }
    }

    /// The step (one code unit); the error bound is `step / 2`.
    pub fn step(&self) -> f32 {
        self.step
    }

    /// The clipping fraction used at training.
    pub fn clip(&self) -> f32 {
        self.clip
    }

    #[inline]
    #[track_caller]
    fn check_len(&self, len: usize) {
        if len != self.dim {
            crate::wrong_code_length(self.dim, len);
        }
    }

    #[inline]
    #[track_caller]
    fn dist(&self, a: &[i8], b: &[i8]) -> f32 {
        self.check_len(a.len());
        self.check_len(b.len());
        match self.metric {
            Metric::L2 => crate::dist32(self.step2 * f64::from(self.kernels.l2_squared_i8(a, b))),
            Metric::Dot => crate::dist32(-self.step2 * f64::from(self.kernels.dot_i8(a, b))),
            // ½‖x̂_a − x̂_b‖², which is 1 − cos for unit vectors. Ranking by the L2 kernel is
            // more accurate than by dot_i8 here: the error of an L2 term scales with ‖a − b‖
            // (small for near neighbours), that of a dot term with ‖a‖ = 1 (measured: recall@10
            // of codes alone 0.57 with dot_i8 vs 0.95+ with l2 at 768-d, see QUANTIZATION.md).
            Metric::Cosine => {
                crate::dist32(0.5 * self.step2 * f64::from(self.kernels.l2_squared_i8(a, b)))
            }
        }
    }
}

impl Quantizer for ScalarI8 {
    type Elem = i8;
    type Query = I8Query;
    type Config = I8Config;
    const KIND: CodecKind = CodecKind::ScalarI8;

    fn train(
        metric: Metric,
        dim: usize,
        sample: &[f32],
        config: &I8Config,
    ) -> Result<Self, QuantError> {
        crate::check_clip(config.clip)?;
        let (rows, _) = crate::sample_rows(metric, dim, sample)?;
        let amplitude = if config.clip == 0.0 {
            rows.iter().fold(0.0_f32, |m, x| m.max(x.abs()))
        } else {
            let mut abs: Vec<f32> = rows.iter().map(|x| x.abs()).collect();
            crate::quantile(&mut abs, 1.0 - f64::from(config.clip))
        };
        // Rounded down so that 127 · step never exceeds the amplitude.
        let exact = f64::from(amplitude) / 127.0;
        let mut step = exact as f32;
        if f64::from(step) > exact {
            step = step.next_down();
        }
        Ok(Self::build(metric, dim, config.clip, step.max(0.0)))
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn metric(&self) -> Metric {
        self.metric
    }

    fn code_len(&self) -> usize {
        self.dim
    }

    fn encode_into(&self, vector: &[f32], code: &mut [i8]) -> Result<(), QuantError> {
        crate::check_code_len(self.dim, code.len())?;
        let x = crate::input(self.metric, self.dim, vector)?;
        let s = f64::from(self.step);
        for (c, &x) in code.iter_mut().zip(x.iter()) {
            *c = if s == 0.0 {
                0
            } else {
                crate::round_i8(f64::from(x) / s)
            };
        }
        Ok(())
    }

    fn decode_into(&self, code: &[i8], out: &mut [f32]) -> Result<(), QuantError> {
        crate::check_code_len(self.dim, code.len())?;
        if out.len() != self.dim {
            return Err(QuantError::DimensionMismatch {
                expected: self.dim,
                found: out.len(),
            });
        }
        for (o, &c) in out.iter_mut().zip(code) {
            // |c| may be 128 in a foreign code; saturate rather than overflow.
            *o = crate::sat(f64::from(self.step) * f64::from(c));
        }
        Ok(())
    }

    fn prepare(&self, query: &[f32]) -> Result<I8Query, QuantError> {
        Ok(I8Query(self.encode(query)?))
    }

    fn prepare_code(&self, code: &[i8]) -> Result<I8Query, QuantError> {
        crate::check_code_len(self.dim, code.len())?;
        Ok(I8Query(code.to_vec()))
    }

    #[inline]
    #[track_caller]
    fn distance(&self, query: &I8Query, code: &[i8]) -> f32 {
        self.dist(&query.0, code)
    }

    #[inline]
    #[track_caller]
    fn code_distance(&self, a: &[i8], b: &[i8]) -> f32 {
        self.dist(a, b)
    }

    fn params_to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::params(Self::KIND, self.metric, 0, self.dim, 8);
        w.f32(self.clip);
        w.f32(self.step);
        w.finish()
    }

    fn params_from_bytes(bytes: &[u8]) -> Result<Self, QuantError> {
        let (h, mut r) = bytes::open_params(bytes, Self::KIND, |_, _| 8)?;
        if h.flags != 0 {
            return Err(bytes::corrupt(
                PARAMS,
                format!("unknown ScalarI8 flags {:#04x}", h.flags),
            ));
        }
        let clip = r.f32("clip")?;
        if crate::check_clip(clip).is_err() {
            return Err(bytes::corrupt(
                PARAMS,
                format!("clip {clip} is outside [0, 0.5)"),
            ));
        }
        let step = r.f32("step")?;
        if step < 0.0 {
            return Err(bytes::corrupt(PARAMS, format!("step is negative ({step})")));
        }
        Ok(Self::build(h.metric, h.dim, clip, step))
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_metrics_exact_on_decoded() {
        let sample = [0.6, -0.8, 0.0, 1.0, -1.0, 0.0];
        for metric in Metric::ALL {
            let q = ScalarI8::train(metric, 2, &sample, &I8Config::default()).unwrap();
            let a = q.encode(&[0.6, -0.8]).unwrap();
            let b = q.encode(&[0.0, 1.0]).unwrap();
            let (da, db) = (q.decode(&a).unwrap(), q.decode(&b).unwrap());
            let want = match metric {
                Metric::L2 => edgevec_simd::l2_squared(&da, &db),
                Metric::Dot => -edgevec_simd::dot(&da, &db),
                Metric::Cosine => 0.5 * edgevec_simd::l2_squared(&da, &db),
            };
            let got = q.code_distance(&a, &b);
            assert!(
                (got - want).abs() <= 1e-5 * want.abs().max(1.0),
                "{metric}: {got} vs {want}"
            );
            assert_eq!(q.distance(&q.prepare(&[0.6, -0.8]).unwrap(), &b), got);
        }
    }

    #[test]
    fn zero_amplitude_gives_zero_codes() {
        let q = ScalarI8::train(Metric::Dot, 3, &[0.0; 6], &I8Config::default()).unwrap();
        assert_eq!(q.step(), 0.0);
        assert_eq!(q.encode(&[5.0, -1.0, 0.0]).unwrap(), vec![0, 0, 0]);
        assert_eq!(q.code_distance(&[0, 0, 0], &[0, 0, 0]), 0.0);
        assert_eq!(
            q.distance(&q.prepare(&[1.0, 1.0, 1.0]).unwrap(), &[127, -128, 1]),
            0.0
        );
    }

    #[test]
    fn saturates_and_never_emits_minus_128() {
        let q = ScalarI8::train(Metric::L2, 2, &[1.0, -1.0], &I8Config::default()).unwrap();
        assert_eq!(q.encode(&[-50.0, 50.0]).unwrap(), vec![-127, 127]);
        let huge = ScalarI8::train(Metric::Dot, 1, &[f32::MAX], &I8Config::default()).unwrap();
        let d = huge.code_distance(&[127], &[127]);
        assert_eq!(d, f32::NEG_INFINITY);
        assert!(huge.decode(&[-128]).unwrap()[0].is_finite());
    }
}
