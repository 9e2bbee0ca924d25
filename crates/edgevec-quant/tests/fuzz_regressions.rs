//! Inputs found by the fuzz targets (`fuzz/`, docs/FUZZING.md), minimized, kept as tests.

use edgevec_quant::{Metric, Quantizer, ScalarU8, U8Config, U8Scaling};

/// `quant_roundtrip` (and a direct check of its bound) found that `ScalarU8` broke its error
/// bound on a dimension whose range is wider than `f32::MAX`: training shrank the step until
/// `255·step` fit in f32 (walking down one ulp at a time, millions of steps per dimension), so
/// the top of the range decoded 2.6·10³⁸ away from its value. The step is now `range / 255`
/// rounded down, and such a codec decodes in f64.
#[test]
fn u8_keeps_its_bound_on_ranges_wider_than_f32_max() {
    // Dimension 0 spans 6·10³⁸; dimension 1 is ordinary.
    let sample = [-3e38f32, 0.5, 3e38, 1.5, 1e38, 1.0];
    for scaling in [U8Scaling::Uniform, U8Scaling::PerDimension] {
        let q = ScalarU8::train(Metric::L2, 2, &sample, &U8Config { scaling, clip: 0.0 }).unwrap();
        let exact = (3e38f64 + 3e38f64) / 255.0;
        let s0 = q.steps()[0];
        assert!(
            f64::from(s0) <= exact && f64::from(s0.next_up()) > exact,
            "{scaling:?}"
        );
        for row in sample.chunks_exact(2) {
            let code = q.encode(row).unwrap();
            let d = q.decode(&code).unwrap();
            for j in 0..2 {
                let (lo, st) = (q.offsets()[j], q.steps()[j]);
                let tol = 4.0 * f32::EPSILON * (lo.abs() + 255.0 * st + row[j].abs()) + 1e-6;
                assert!(
                    (d[j] - row[j]).abs() <= st / 2.0 + tol,
                    "{scaling:?} dim {j}: {} decoded as {}",
                    row[j],
                    d[j]
                );
            }
            let query = q.prepare(row).unwrap();
            assert!(!q.distance(&query, &code).is_nan());
            assert!(!q.code_distance(&code, &code).is_nan());
        }
        let back = ScalarU8::params_from_bytes(&q.params_to_bytes()).unwrap();
        assert_eq!(back.steps(), q.steps());
        assert_eq!(
            back.decode(&[255, 0]).unwrap(),
            q.decode(&[255, 0]).unwrap()
        );
    }
}
