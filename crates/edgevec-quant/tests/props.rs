//! Property tests of the three codecs: error bounds, distance consistency, degenerate training,
//! input validation and parameter bytes.

use edgevec_quant::{
    Binary, BinaryConfig, I8Config, Metric, QuantError, Quantizer, ScalarI8, ScalarU8, U8Config,
    U8Scaling,
};
use proptest::prelude::*;

/// A sample: `dim` in 1..=40, 1..=12 rows of values in [-100, 100].
fn sample() -> impl Strategy<Value = (usize, Vec<f32>)> {
    (1usize..=40, 1usize..=12).prop_flat_map(|(dim, rows)| {
        (
            Just(dim),
            prop::collection::vec(-100.0f32..100.0, dim * rows..=dim * rows),
        )
    })
}

fn u8_config() -> impl Strategy<Value = U8Config> {
    prop_oneof![Just(U8Scaling::Uniform), Just(U8Scaling::PerDimension)]
        .prop_map(|scaling| U8Config { scaling, clip: 0.0 })
}

/// The vector as the codec sees it: normalized (in f64) under cosine.
fn seen(metric: Metric, v: &[f32]) -> Vec<f32> {
    if metric != Metric::Cosine {
        return v.to_vec();
    }
    let n: f64 = v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    v.iter().map(|x| (f64::from(*x) / n) as f32).collect()
}

fn l2(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum()
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum()
}

fn nonzero_rows(dim: usize, s: &[f32]) -> bool {
    s.chunks_exact(dim).all(|r| r.iter().any(|x| *x != 0.0))
}

/// Any of the trained codecs round-trips its parameters bit for bit, and the restored codec
/// encodes identically.
fn check_params_round_trip<Q: Quantizer>(q: &Q, rows: &[f32]) {
    let bytes = q.params_to_bytes();
    let back = Q::params_from_bytes(&bytes).expect("round trip");
    assert_eq!(back.params_to_bytes(), bytes);
    assert_eq!(back.dim(), q.dim());
    assert_eq!(back.metric(), q.metric());
    for row in rows.chunks_exact(q.dim()) {
        assert_eq!(back.encode(row).unwrap(), q.encode(row).unwrap());
    }
}

/// Every truncation and every single-bit flip of a parameter section is an error.
fn check_params_rejections<Q: Quantizer>(q: &Q) {
    let bytes = q.params_to_bytes();
    for cut in 0..bytes.len() {
        assert!(Q::params_from_bytes(&bytes[..cut]).is_err(), "cut {cut}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        Q::params_from_bytes(&longer),
        Err(QuantError::Length { .. })
    ));
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            assert!(Q::params_from_bytes(&b).is_err(), "flip byte {i} bit {bit}");
        }
    }
}

/// Rewrites the CRC of a mutated parameter section so that only the value checks stand
/// between it and the codec.
fn recrc(bytes: &mut [u8]) {
    let n = bytes.len() - 4;
    let crc = crc32(&bytes[..n]);
    bytes[n..].copy_from_slice(&crc.to_le_bytes());
}

/// CRC32 (IEEE, reflected), bit by bit: an independent oracle for the section checksums.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A mutated section with a valid CRC either is rejected or yields a codec whose distances
/// and decodings are never NaN.
fn check_valid_crc_mutation<Q: Quantizer>(q: &Q, pos: usize, value: u8, probe: &[f32]) {
    let mut bytes = q.params_to_bytes();
    let pos = pos % (bytes.len() - 4);
    bytes[pos] = value;
    recrc(&mut bytes);
    if let Ok(m) = Q::params_from_bytes(&bytes) {
        if m.dim() != probe.len() {
            return;
        }
        let (Ok(code), Ok(query)) = (m.encode(probe), m.prepare(probe)) else {
            return;
        };
        assert!(!m.distance(&query, &code).is_nan());
        assert!(!m.code_distance(&code, &code).is_nan());
        assert!(m.decode(&code).unwrap().iter().all(|x| !x.is_nan()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// ScalarU8: every sample row decodes within step/2 per component, and the distances are
    /// those of the decoded vectors (uniform: exactly; per-dimension: the f32 query against the
    /// decoded code), within the true distance ± ‖step‖.
    #[test]
    fn u8_bound_and_distances(
        (dim, s) in sample(),
        config in u8_config(),
        cosine in any::<bool>(),
    ) {
        let metric = if cosine { Metric::Cosine } else { Metric::L2 };
        prop_assume!(metric == Metric::L2 || nonzero_rows(dim, &s));
        let q = ScalarU8::train(metric, dim, &s, &config).unwrap();
        let half = if cosine { 0.5 } else { 1.0 };
        let step_norm = q.steps().iter().map(|s| f64::from(*s).powi(2)).sum::<f64>().sqrt();
        let rows: Vec<&[f32]> = s.chunks_exact(dim).collect();
        let codes: Vec<Vec<u8>> = rows.iter().map(|r| q.encode(r).unwrap()).collect();
        for (r, c) in rows.iter().zip(&codes) {
            let x = seen(metric, r);
            let d = q.decode(c).unwrap();
            for j in 0..dim {
                let (lo, st) = (q.offsets()[j], q.steps()[j]);
                let tol = 4.0 * f32::EPSILON * (lo.abs() + 255.0 * st + x[j].abs()) + 1e-6;
                prop_assert!((d[j] - x[j]).abs() <= st / 2.0 + tol,
                    "dim {j}: x {} decoded {} step {st}", x[j], d[j]);
            }
        }
        for (i, (ra, ca)) in rows.iter().zip(&codes).enumerate() {
            let query = q.prepare(ra).unwrap();
            let xa = seen(metric, ra);
            for (rb, cb) in rows.iter().zip(&codes).skip(i) {
                let xb = seen(metric, rb);
                let (da, db) = (q.decode(ca).unwrap(), q.decode(cb).unwrap());
                let cd = f64::from(q.code_distance(ca, cb));
                let decoded = half * l2(&da, &db);
                prop_assert!((cd - decoded).abs() <= 1e-4 * decoded + 1e-3, "{cd} vs {decoded}");
                let qd = f64::from(q.distance(&query, cb));
                let expect = match config.scaling {
                    U8Scaling::Uniform => cd,
                    U8Scaling::PerDimension => half * l2(&xa, &db),
                };
                prop_assert!((qd - expect).abs() <= 1e-4 * expect + 1e-3, "{qd} vs {expect}");
                // Triangle inequality: each decoded row is within ‖step‖/2 of its row.
                let truth = (half * l2(&xa, &xb)).sqrt();
                let slack = half.sqrt() * (step_norm + 1e-3 * (1.0 + truth));
                prop_assert!((cd.sqrt() - truth).abs() <= slack, "{} vs {truth}", cd.sqrt());
                prop_assert!(
                    q.distance(&q.prepare_code(ca).unwrap(), cb) == q.code_distance(ca, cb)
                );
            }
        }
        check_params_round_trip(&q, &s);
    }

    /// ScalarI8: decode within step/2, every metric equals the decoded vectors' distance, and
    /// a prepared query equals its own code.
    #[test]
    fn i8_bound_and_distances(
        (dim, s) in sample(),
        metric in prop_oneof![Just(Metric::L2), Just(Metric::Cosine), Just(Metric::Dot)],
    ) {
        prop_assume!(metric != Metric::Cosine || nonzero_rows(dim, &s));
        let q = ScalarI8::train(metric, dim, &s, &I8Config::default()).unwrap();
        let st = q.step();
        let rows: Vec<&[f32]> = s.chunks_exact(dim).collect();
        let codes: Vec<Vec<i8>> = rows.iter().map(|r| q.encode(r).unwrap()).collect();
        for (r, c) in rows.iter().zip(&codes) {
            prop_assert!(c.iter().all(|x| *x != -128));
            let x = seen(metric, r);
            let d = q.decode(c).unwrap();
            for j in 0..dim {
                let tol = 4.0 * f32::EPSILON * (127.0 * st + x[j].abs()) + 1e-6;
                prop_assert!((d[j] - x[j]).abs() <= st / 2.0 + tol);
            }
        }
        for (ra, ca) in rows.iter().zip(&codes) {
            let query = q.prepare(ra).unwrap();
            for cb in &codes {
                let (da, db) = (q.decode(ca).unwrap(), q.decode(cb).unwrap());
                let want = match metric {
                    Metric::L2 => l2(&da, &db),
                    Metric::Dot => -dot(&da, &db),
                    Metric::Cosine => 0.5 * l2(&da, &db),
                };
                let got = f64::from(q.code_distance(ca, cb));
                prop_assert!((got - want).abs() <= 1e-4 * want.abs() + 1e-3, "{got} vs {want}");
                prop_assert_eq!(q.distance(&query, cb), q.code_distance(ca, cb));
            }
        }
        check_params_round_trip(&q, &s);
    }

    /// Binary: decoding keeps every component on its side of the threshold, re-encoding a
    /// decoded code gives the code back, and the distance is the number of differing bits.
    #[test]
    fn binary_signs_and_hamming(
        (dim, s) in sample(),
        center in any::<bool>(),
        metric in prop_oneof![Just(Metric::L2), Just(Metric::Cosine), Just(Metric::Dot)],
    ) {
        prop_assume!(metric != Metric::Cosine || nonzero_rows(dim, &s));
        let q = Binary::train(metric, dim, &s, &BinaryConfig { center, rotate: false }).unwrap();
        prop_assert!(!q.rotated());
        prop_assert_eq!(q.code_len(), dim.div_ceil(8));
        let rows: Vec<&[f32]> = s.chunks_exact(dim).collect();
        let codes: Vec<Vec<u8>> = rows.iter().map(|r| q.encode(r).unwrap()).collect();
        for (r, c) in rows.iter().zip(&codes) {
            let x = seen(metric, r);
            let d = q.decode(c).unwrap();
            for j in 0..dim {
                let t = q.thresholds()[j];
                // Skip components within rounding of the threshold (this test normalizes in
                // f64, the codec in f32).
                if (x[j] - t).abs() > 1e-5 * (1.0 + t.abs()) {
                    prop_assert_eq!(x[j] > t, d[j] > t, "dim {}", j);
                }
            }
            if metric != Metric::Cosine {
                prop_assert_eq!(&q.encode(&d).unwrap(), c);
            }
            // Padding bits stay zero.
            if dim % 8 != 0 {
                prop_assert_eq!(c[dim / 8] >> (dim % 8), 0);
            }
        }
        check_hamming(&q, &codes)?;
        check_params_round_trip(&q, &s);
    }

    /// Rotated Binary: decoding then re-encoding gives the code back wherever the decoded
    /// component is clear of rounding (the rotation is inverted exactly up to f32 rounding),
    /// padding bits stay zero, the parameters round-trip, Hamming is the distance.
    #[test]
    fn rotated_binary_signs_and_hamming(
        (dim, s) in sample(),
        center in any::<bool>(),
        metric in prop_oneof![Just(Metric::L2), Just(Metric::Cosine), Just(Metric::Dot)],
    ) {
        prop_assume!(metric != Metric::Cosine || nonzero_rows(dim, &s));
        let q = Binary::train(metric, dim, &s, &BinaryConfig { center, rotate: true }).unwrap();
        prop_assert!(q.rotated());
        let rows: Vec<&[f32]> = s.chunks_exact(dim).collect();
        let codes: Vec<Vec<u8>> = rows.iter().map(|r| q.encode(r).unwrap()).collect();
        for c in &codes {
            if dim % 8 != 0 {
                prop_assert_eq!(c[dim / 8] >> (dim % 8), 0);
            }
            // Decoded rows are finite, have the input's dimension, and keep the bits whose
            // rotated component is clear of the threshold by more than rounding.
            let d = q.decode(c).unwrap();
            prop_assert_eq!(d.len(), dim);
            prop_assert!(d.iter().all(|v| v.is_finite()));
            let back = q.encode(&d);
            if metric == Metric::Cosine && d.iter().all(|v| *v == 0.0) {
                continue;
            }
            let back = back.unwrap();
            let scale = d.iter().map(|v| f64::from(*v).abs()).fold(1.0, f64::max);
            for j in 0..dim {
                let margin = f64::from(q.magnitudes()[j]);
                if metric != Metric::Cosine && margin > 1e-4 * scale {
                    prop_assert_eq!(back[j / 8] >> (j % 8) & 1, c[j / 8] >> (j % 8) & 1, "bit {}", j);
                }
            }
        }
        prop_assert_eq!(q.code_len(), dim.div_ceil(8));
        check_hamming(&q, &codes)?;
        check_params_round_trip(&q, &s);
    }
    /// Mutated parameter bytes with a recomputed CRC never panic and never give NaN.
    #[test]
    fn params_with_valid_crc_never_panic(
        (dim, s) in sample(),
        pos in any::<usize>(),
        value in any::<u8>(),
    ) {
        let probe = &s[..dim];
        let u = ScalarU8::train(Metric::L2, dim, &s, &U8Config {
            scaling: U8Scaling::PerDimension, clip: 0.0,
        }).unwrap();
        check_valid_crc_mutation(&u, pos, value, probe);
        let u = ScalarU8::train(Metric::L2, dim, &s, &U8Config::default()).unwrap();
        check_valid_crc_mutation(&u, pos, value, probe);
        let i = ScalarI8::train(Metric::Dot, dim, &s, &I8Config::default()).unwrap();
        check_valid_crc_mutation(&i, pos, value, probe);
        let b = Binary::train(Metric::L2, dim, &s, &BinaryConfig::default()).unwrap();
        check_valid_crc_mutation(&b, pos, value, probe);
    }

    /// Arbitrary bytes are an error or a codec, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = ScalarU8::params_from_bytes(&bytes);
        let _ = ScalarI8::params_from_bytes(&bytes);
        let _ = Binary::params_from_bytes(&bytes);
        let mut framed = b"EVQP\x01\x00".to_vec();
        framed.extend_from_slice(&bytes);
        if framed.len() >= 4 {
            recrc(&mut framed);
        }
        let _ = ScalarU8::params_from_bytes(&framed);
        let _ = ScalarI8::params_from_bytes(&framed);
        let _ = Binary::params_from_bytes(&framed);
    }
}

/// Code distance and prepared-code distance are the number of differing bits.
fn check_hamming(q: &Binary, codes: &[Vec<u8>]) -> Result<(), TestCaseError> {
    for (ca, cb) in codes.iter().zip(codes.iter().rev()) {
        let bits = ca
            .iter()
            .zip(cb)
            .map(|(a, b)| (a ^ b).count_ones())
            .sum::<u32>();
        prop_assert_eq!(q.code_distance(ca, cb), bits as f32);
        prop_assert_eq!(q.distance(&q.prepare_code(ca).unwrap(), cb), bits as f32);
    }
    Ok(())
}

#[test]
fn crc_oracle_matches_the_sections() {
    let q = ScalarI8::train(Metric::L2, 2, &[1.0, 2.0], &I8Config::default()).unwrap();
    let bytes = q.params_to_bytes();
    let n = bytes.len() - 4;
    assert_eq!(crc32(&bytes[..n]).to_le_bytes(), bytes[n..]);
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
}

#[test]
fn parameter_sections_reject_truncation_and_corruption() {
    let s: Vec<f32> = (0..30).map(|i| (i as f32 * 0.37).sin()).collect();
    for scaling in [U8Scaling::Uniform, U8Scaling::PerDimension] {
        let q = ScalarU8::train(Metric::L2, 10, &s, &U8Config { scaling, clip: 0.1 }).unwrap();
        check_params_rejections(&q);
    }
    check_params_rejections(
        &ScalarI8::train(Metric::Cosine, 10, &s, &I8Config { clip: 0.05 }).unwrap(),
    );
    check_params_rejections(&Binary::train(Metric::Dot, 10, &s, &BinaryConfig::default()).unwrap());
}

#[test]
fn parameter_errors_name_the_problem() {
    let s = [0.5_f32, -0.5, 0.25, 1.0];
    let u = ScalarU8::train(Metric::L2, 2, &s, &U8Config::default()).unwrap();
    let bytes = u.params_to_bytes();
    assert_eq!(bytes.len(), 22 + 8 * 2);
    assert_eq!(&bytes[..4], b"EVQP");
    assert!(matches!(
        ScalarI8::params_from_bytes(&bytes),
        Err(QuantError::WrongKind { found: 1, .. })
    ));
    let mut v = bytes.clone();
    v[4] = 2;
    recrc(&mut v);
    assert!(matches!(
        ScalarU8::params_from_bytes(&v),
        Err(QuantError::UnsupportedVersion {
            found: 2,
            supported: 1,
            ..
        })
    ));
    let mut v = bytes.clone();
    v[0] = b'X';
    assert!(matches!(
        ScalarU8::params_from_bytes(&v),
        Err(QuantError::BadMagic { .. })
    ));
    let mut v = bytes.clone();
    v[20] ^= 1;
    let e = ScalarU8::params_from_bytes(&v).unwrap_err();
    assert!(matches!(e, QuantError::Checksum { .. }));
    assert!(e.to_string().contains("corrupted"), "{e}");
    assert!(matches!(
        ScalarU8::params_from_bytes(&bytes[..bytes.len() - 1]),
        Err(QuantError::Length { .. })
    ));
    // Valid CRC, invalid values: a NaN offset, a negative step, a dot metric, unknown flags,
    // non-uniform steps under uniform scaling.
    let mutate = |at: usize, new: &[u8]| {
        let mut v = bytes.clone();
        v[at..at + new.len()].copy_from_slice(new);
        recrc(&mut v);
        ScalarU8::params_from_bytes(&v).unwrap_err()
    };
    assert!(matches!(
        mutate(18, &f32::NAN.to_le_bytes()),
        QuantError::Corrupt { .. }
    ));
    assert!(matches!(
        mutate(26, &(-1.0f32).to_le_bytes()),
        QuantError::Corrupt { .. }
    ));
    assert!(matches!(mutate(8, &[2]), QuantError::Corrupt { .. }));
    assert!(matches!(mutate(8, &[9]), QuantError::Corrupt { .. }));
    assert!(matches!(mutate(9, &[4]), QuantError::Corrupt { .. }));
    assert!(matches!(
        mutate(30, &1.0f32.to_le_bytes()),
        QuantError::Corrupt { .. }
    ));
    assert!(matches!(
        mutate(10, &0u32.to_le_bytes()),
        QuantError::Corrupt { .. }
    ));
}

/// Training on degenerate samples never yields NaN: a single row, constant dimensions, all
/// zeros; an empty sample is an error.
#[test]
fn degenerate_training() {
    let single = [1.0_f32, -2.0, 3.0];
    let constant = [5.0_f32, 1.0, 0.0, 5.0, 2.0, 0.0, 5.0, 3.0, 0.0];
    let zeros = [0.0_f32; 6];
    let probe = [4.0_f32, 2.5, -1.0];
    let cases: [(&[f32], bool); 3] = [(&single, true), (&constant, true), (&zeros, false)];
    for (s, cosine_ok) in cases {
        for metric in Metric::ALL {
            let cos = metric == Metric::Cosine;
            let u = ScalarU8::train(metric, 3, s, &U8Config::default());
            let p = ScalarU8::train(
                metric,
                3,
                s,
                &U8Config {
                    scaling: U8Scaling::PerDimension,
                    clip: 0.2,
                },
            );
            let i = ScalarI8::train(metric, 3, s, &I8Config { clip: 0.3 });
            let b = Binary::train(metric, 3, s, &BinaryConfig::default());
            if cos && !cosine_ok {
                assert!(matches!(u, Err(QuantError::ZeroSampleRow { row: 0 })));
                assert!(matches!(i, Err(QuantError::ZeroSampleRow { row: 0 })));
                continue;
            }
            if metric == Metric::Dot {
                assert!(matches!(u, Err(QuantError::UnsupportedMetric { .. })));
                assert!(p.is_err());
            } else {
                probe_codec(&u.unwrap(), &probe);
                probe_codec(&p.unwrap(), &probe);
            }
            probe_codec(&i.unwrap(), &probe);
            probe_codec(&b.unwrap(), &probe);
        }
    }
    for metric in Metric::ALL {
        assert_eq!(
            ScalarI8::train(metric, 3, &[], &I8Config::default()).unwrap_err(),
            QuantError::EmptySample
        );
        assert_eq!(
            Binary::train(metric, 3, &[], &BinaryConfig::default()).unwrap_err(),
            QuantError::EmptySample
        );
    }
    assert_eq!(
        ScalarU8::train(Metric::L2, 3, &[], &U8Config::default()).unwrap_err(),
        QuantError::EmptySample
    );
}

fn probe_codec<Q: Quantizer>(q: &Q, probe: &[f32]) {
    let code = q.encode(probe).unwrap();
    let query = q.prepare(probe).unwrap();
    assert!(q.decode(&code).unwrap().iter().all(|x| x.is_finite()));
    assert!(q.distance(&query, &code).is_finite());
    assert!(q.code_distance(&code, &code).is_finite());
    let back = Q::params_from_bytes(&q.params_to_bytes()).unwrap();
    assert_eq!(back.encode(probe).unwrap(), code);
}

/// NaN and infinities are typed errors everywhere; wrong dimensions and code lengths too.
#[test]
fn invalid_input_is_a_typed_error() {
    let s = [0.5_f32, -0.5, 0.25, 1.0];
    let u = ScalarU8::train(Metric::L2, 2, &s, &U8Config::default()).unwrap();
    let i = ScalarI8::train(Metric::Cosine, 2, &s, &I8Config::default()).unwrap();
    let b = Binary::train(Metric::Dot, 2, &s, &BinaryConfig::default()).unwrap();
    check_invalid(&u);
    check_invalid(&i);
    check_invalid(&b);
    assert_eq!(i.encode(&[0.0, 0.0]).unwrap_err(), QuantError::ZeroVector);
    assert_eq!(i.prepare(&[0.0, 0.0]).unwrap_err(), QuantError::ZeroVector);
    let e = ScalarU8::train(Metric::L2, 2, &[1.0, f32::NAN], &U8Config::default()).unwrap_err();
    assert!(matches!(
        e,
        QuantError::NonFiniteSample {
            row: 0,
            component: 1,
            ..
        }
    ));
    assert!(e.to_string().contains("finite"), "{e}");
    assert!(matches!(
        ScalarU8::train(Metric::L2, 2, &[1.0; 3], &U8Config::default()),
        Err(QuantError::SampleShape { len: 3, dim: 2 })
    ));
    assert!(matches!(
        ScalarU8::train(
            Metric::L2,
            2,
            &s,
            &U8Config {
                scaling: U8Scaling::Uniform,
                clip: 0.7
            }
        ),
        Err(QuantError::InvalidParameter { name: "clip", .. })
    ));
    assert!(matches!(
        ScalarI8::train(Metric::L2, 0, &s, &I8Config::default()),
        Err(QuantError::InvalidParameter { name: "dim", .. })
    ));
}

fn check_invalid<Q: Quantizer>(q: &Q) {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let e = q.encode(&[1.0, bad]).unwrap_err();
        assert!(
            matches!(e, QuantError::NonFinite { component: 1, .. }),
            "{e}"
        );
        assert!(matches!(
            q.prepare(&[bad, 1.0]),
            Err(QuantError::NonFinite { component: 0, .. })
        ));
    }
    assert_eq!(
        q.encode(&[1.0, 2.0, 3.0]).unwrap_err(),
        QuantError::DimensionMismatch {
            expected: 2,
            found: 3
        }
    );
    assert!(matches!(
        q.prepare(&[1.0]),
        Err(QuantError::DimensionMismatch {
            expected: 2,
            found: 1
        })
    ));
    let code = q.encode(&[1.0, 2.0]).unwrap();
    let mut long = code.clone();
    long.push(Default::default());
    assert!(matches!(
        q.decode(&long),
        Err(QuantError::CodeLength { .. })
    ));
    assert!(matches!(
        q.prepare_code(&long),
        Err(QuantError::CodeLength { .. })
    ));
    let mut out = [0.0; 3];
    assert!(matches!(
        q.decode_into(&code, &mut out),
        Err(QuantError::DimensionMismatch { .. })
    ));
    let mut short = vec![Default::default(); code.len() + 1];
    assert!(matches!(
        q.encode_into(&[1.0, 2.0], &mut short),
        Err(QuantError::CodeLength { .. })
    ));
}
