//! The three codecs of `edgevec-quant` on fuzzer-chosen samples and bytes:
//!
//! - training accepts exactly the valid samples (a non-finite value is `NonFiniteSample`, a zero
//!   row under cosine, an empty or ragged sample, a bad clip fraction and dot under `ScalarU8`
//!   are typed errors);
//! - every training row encodes and decodes within the bound of docs/QUANTIZATION.md (u8 and
//!   i8: half a step per component, plus rounding; binary: each component stays on its side of
//!   the threshold and re-encodes to the same code), and vectors with NaN are refused;
//! - distances are never NaN, and a prepared code measures as `code_distance` does;
//! - `params_to_bytes` → `params_from_bytes` and `Codes::to_bytes` → `Codes::from_bytes` give
//!   the same bytes and codes back;
//! - arbitrary bytes, and damaged valid bytes (with or without a recomputed CRC), read as
//!   parameters or codes are a typed error or a value that writes back the same bytes and
//!   works (finite decodings, no NaN distances), never a panic.
#![no_main]

use arbitrary::Arbitrary;
use edgevec_quant::{
    Binary, BinaryConfig, Codes, I8Config, Metric, QuantError, Quantizer, ScalarI8, ScalarU8,
    U8Config, U8Scaling,
};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Value {
    Small(i8),
    Frac(i16),
    Bits(u32),
    Extreme(u8),
}

/// Values at the edges of f32: huge (ranges wider than `f32::MAX`), tiny, subnormal, signed
/// zeros, and the non-finite ones training must refuse.
const EXTREMES: [f32; 12] = [
    f32::MAX,
    -f32::MAX,
    3e38,
    -3e38,
    1e38,
    f32::MIN_POSITIVE,
    -f32::MIN_POSITIVE,
    1e-45,
    -0.0,
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
];

impl Value {
    fn get(&self) -> f32 {
        match self {
            Value::Small(x) => f32::from(*x),
            Value::Frac(x) => f32::from(*x) / 256.0,
            Value::Bits(b) => f32::from_bits(*b),
            Value::Extreme(i) => EXTREMES[usize::from(*i) % EXTREMES.len()],
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Clip {
    None,
    Some(u8),
    Bits(u32),
}

#[derive(Debug, Arbitrary)]
struct Case {
    codec: u8,
    metric: u8,
    dim: u8,
    sample: Vec<Value>,
    clip: Clip,
    flag: bool,
    /// Edits of the valid parameter bytes, and whether to fix their CRC afterwards.
    edits: Vec<(u16, u8)>,
    recrc: bool,
    /// Bytes read as parameters and as codes.
    garbage: Vec<u8>,
}

fn crc_fix(bytes: &mut [u8]) {
    if bytes.len() >= 4 {
        let n = bytes.len() - 4;
        let crc = crc32fast::hash(&bytes[..n]);
        bytes[n..].copy_from_slice(&crc.to_le_bytes());
    }
}

/// The vector as a codec sees it: normalized (in f64) under cosine.
fn seen(metric: Metric, v: &[f32]) -> Vec<f32> {
    if metric != Metric::Cosine {
        return v.to_vec();
    }
    let max = v.iter().fold(0.0f64, |m, x| m.max(f64::from(*x).abs()));
    let n = v
        .iter()
        .map(|x| (f64::from(*x) / max).powi(2))
        .sum::<f64>()
        .sqrt();
    v.iter().map(|x| (f64::from(*x) / max / n) as f32).collect()
}

/// A codec that came out of bytes works: it writes the same bytes back, decodes to finite
/// values and never measures NaN.
fn check_parsed<Q: Quantizer>(q: &Q, bytes: &[u8]) {
    assert_eq!(
        q.params_to_bytes(),
        bytes,
        "parameters do not write back the same bytes"
    );
    let probe: Vec<f32> = (0..q.dim()).map(|j| (j % 5) as f32 - 1.5).collect();
    let code = q.encode(&probe).expect("a finite, non-zero probe encodes");
    let decoded = q.decode(&code).expect("decode");
    assert!(
        decoded.iter().all(|x| x.is_finite()),
        "decoded to a non-finite value"
    );
    let query = q.prepare(&probe).expect("prepare");
    assert!(!q.distance(&query, &code).is_nan());
    assert!(!q.code_distance(&code, &code).is_nan());
    let ones = vec![Default::default(); q.code_len()];
    assert!(!q.code_distance(&code, &ones).is_nan());
    assert!(q.decode(&ones).unwrap().iter().all(|x| x.is_finite()));
}

/// Codes that came out of bytes write back the same bytes and measure without NaN.
fn check_codes<Q: Quantizer>(q: &Q, bytes: &[u8]) {
    if let Ok(codes) = Codes::from_bytes(q, bytes) {
        assert_eq!(
            codes.to_bytes(),
            bytes,
            "codes do not write back the same bytes"
        );
        for i in 0..codes.len().min(16) {
            let c = codes.get(i);
            assert!(q.decode(c).unwrap().iter().all(|x| x.is_finite()));
            assert!(!q.code_distance(c, codes.get(0)).is_nan());
        }
    }
}

/// Arbitrary bytes as parameters of every codec, and as codes of `q`.
fn garbage<Q: Quantizer>(q: &Q, bytes: &[u8]) {
    if let Ok(p) = ScalarU8::params_from_bytes(bytes) {
        check_parsed(&p, bytes);
    }
    if let Ok(p) = ScalarI8::params_from_bytes(bytes) {
        check_parsed(&p, bytes);
    }
    if let Ok(p) = Binary::params_from_bytes(bytes) {
        check_parsed(&p, bytes);
    }
    check_codes(q, bytes);
}

/// Trains `Q` and checks everything; `bound(q, row, j, x_j, decoded_j)` is the documented
/// per-component error bound for a training row (clip 0: every row is in range).
fn run<Q: Quantizer>(
    case: &Case,
    metric: Metric,
    dim: usize,
    sample: &[f32],
    config: &Q::Config,
    clip: f32,
    bound: impl Fn(&Q, &[f32], usize, f32, f32) -> bool,
) {
    let finite = sample.iter().all(|x| x.is_finite());
    let whole = !sample.is_empty() && sample.len().is_multiple_of(dim);
    let nonzero = whole
        && sample
            .chunks_exact(dim)
            .all(|r| r.iter().any(|x| *x != 0.0));
    let clip_ok = (0.0..0.5).contains(&clip);
    let metric_ok = !(Q::KIND == edgevec_quant::CodecKind::ScalarU8 && metric == Metric::Dot);
    let should = finite && whole && clip_ok && metric_ok && (metric != Metric::Cosine || nonzero);
    let trained = Q::train(metric, dim, sample, config);
    let q = match trained {
        Ok(q) => {
            assert!(should, "trained on an invalid sample");
            q
        }
        Err(e) => {
            assert!(!should, "refused a valid sample: {e}");
            if whole && clip_ok && metric_ok && !finite {
                assert!(
                    matches!(e, QuantError::NonFiniteSample { .. }),
                    "a non-finite sample gave {e:?}"
                );
            }
            return;
        }
    };
    assert_eq!(q.dim(), dim);
    assert_eq!(q.metric(), metric);

    // Encode, decode, bounds, distances.
    let rows: Vec<&[f32]> = sample.chunks_exact(dim).take(64).collect();
    let mut codes = Codes::new(&q);
    for row in &rows {
        let code = q.encode(row).expect("a training row encodes");
        assert_eq!(code.len(), q.code_len());
        let d = q.decode(&code).expect("decode");
        assert!(
            d.iter().all(|x| x.is_finite()),
            "decoded to a non-finite value"
        );
        if clip == 0.0 {
            let x = seen(metric, row);
            for j in 0..dim {
                assert!(
                    bound(&q, &x, j, x[j], d[j]),
                    "component {j}: {} decoded as {}",
                    x[j],
                    d[j]
                );
            }
        }
        let query = q.prepare(row).expect("prepare");
        let dq = q.distance(&query, &code);
        assert!(!dq.is_nan());
        codes.push(&q, row).expect("push");
    }
    for i in 0..codes.len() {
        let (a, b) = (codes.get(i), codes.get(codes.len() - 1 - i));
        let d = q.code_distance(a, b);
        assert!(!d.is_nan());
        assert_eq!(
            q.distance(&q.prepare_code(a).unwrap(), b).to_bits(),
            d.to_bits()
        );
    }

    // NaN is refused.
    let mut bad = rows[0].to_vec();
    bad[dim / 2] = f32::NAN;
    assert!(matches!(q.encode(&bad), Err(QuantError::NonFinite { .. })));
    assert!(matches!(q.prepare(&bad), Err(QuantError::NonFinite { .. })));
    assert!(q.encode(&bad[1..]).is_err());

    // Round trips.
    let bytes = q.params_to_bytes();
    let back = Q::params_from_bytes(&bytes).expect("parameters read back");
    assert_eq!(back.params_to_bytes(), bytes);
    for row in &rows {
        assert_eq!(back.encode(row).unwrap(), q.encode(row).unwrap());
    }
    let cbytes = codes.to_bytes();
    assert_eq!(
        Codes::from_bytes(&back, &cbytes).expect("codes read back"),
        codes
    );

    // Damaged parameters and codes.
    for target in [bytes, cbytes] {
        let mut b = target.clone();
        for (at, x) in case.edits.iter().take(8) {
            if !b.is_empty() {
                let at = usize::from(*at) % b.len();
                b[at] ^= x;
            }
        }
        if case.recrc {
            crc_fix(&mut b);
        }
        if b != target {
            if let Ok(p) = Q::params_from_bytes(&b) {
                check_parsed(&p, &b);
            }
            check_codes(&q, &b);
        }
    }
    garbage(&q, &case.garbage);
    let mut framed = case.garbage.clone();
    crc_fix(&mut framed);
    garbage(&q, &framed);
}

// The bounds are computed in f64: in f32, `|lo| + 255·step` overflows for ranges near
// `f32::MAX` and an infinite tolerance would accept anything.
const EPS: f64 = f32::EPSILON as f64;

fn u8_bound(q: &ScalarU8, _x: &[f32], j: usize, x: f32, d: f32) -> bool {
    let (lo, st) = (f64::from(q.offsets()[j]), f64::from(q.steps()[j]));
    let (x, d) = (f64::from(x), f64::from(d));
    let tol = 4.0 * EPS * (lo.abs() + 255.0 * st + x.abs()) + 1e-6;
    (d - x).abs() <= st / 2.0 + tol
}

fn i8_bound(q: &ScalarI8, _x: &[f32], _j: usize, x: f32, d: f32) -> bool {
    let st = f64::from(q.step());
    let (x, d) = (f64::from(x), f64::from(d));
    let tol = 4.0 * EPS * (127.0 * st + x.abs()) + 1e-6;
    (d - x).abs() <= st / 2.0 + tol
}

fn binary_bound(q: &Binary, _x: &[f32], j: usize, x: f32, d: f32) -> bool {
    let t = q.thresholds()[j];
    // Components within rounding of the threshold may go either way (normalized in f64 here,
    // in f32 by the codec).
    (x - t).abs() <= 1e-5 * (1.0 + t.abs()) || (x > t) == (d > t)
}

fuzz_target!(|case: Case| {
    let dim = 1 + usize::from(case.dim % 24);
    let metric = match case.metric % 3 {
        0 => Metric::L2,
        1 => Metric::Cosine,
        _ => Metric::Dot,
    };
    let sample: Vec<f32> = case.sample.iter().take(512).map(Value::get).collect();
    let clip = match case.clip {
        Clip::None => 0.0,
        Clip::Some(p) => f32::from(p) / 512.0,
        Clip::Bits(b) => f32::from_bits(b),
    };
    match case.codec % 3 {
        0 => {
            let scaling = if case.flag {
                U8Scaling::PerDimension
            } else {
                U8Scaling::Uniform
            };
            let config = U8Config { scaling, clip };
            run::<ScalarU8>(&case, metric, dim, &sample, &config, clip, u8_bound);
        }
        1 => {
            let config = I8Config { clip };
            run::<ScalarI8>(&case, metric, dim, &sample, &config, clip, i8_bound);
        }
        _ => {
            let rotate = (case.codec / 3) % 2 == 1;
            let config = BinaryConfig {
                center: case.flag,
                rotate,
            };
            // Unrotated, each component keeps its side of the threshold; rotated, the sides are
            // those of the rotated vector, which this target cannot see: the re-encoding check
            // below covers it.
            let check = |q: &Binary, x: &[f32], j, xj, dj| q.rotated() || binary_bound(q, x, j, xj, dj);
            run::<Binary>(&case, metric, dim, &sample, &config, 0.0, check);
            // Re-encoding a decoded code gives the code back (not under cosine, where the
            // decoded vector is normalized again). Rotated, the decoded row carries f32
            // rounding of at most 2^-24 of its norm into every rotated component: bits whose
            // margin (the decoded magnitude) is below 1e-6 of the norm may flip, and values
            // near f32::MAX saturate.
            if metric != Metric::Cosine
                && let Ok(q) = Binary::train(metric, dim, &sample, &config)
            {
                for row in sample.chunks_exact(dim).take(16) {
                    let c = q.encode(row).unwrap();
                    let d = q.decode(&c).unwrap();
                    let back = q.encode(&d).unwrap();
                    if !q.rotated() {
                        assert_eq!(back, c);
                        continue;
                    }
                    let norm = d.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>().sqrt();
                    if !(norm < 1e36) {
                        continue;
                    }
                    for j in 0..dim {
                        if f64::from(q.magnitudes()[j]) > 1e-6 * norm {
                            assert_eq!(back[j / 8] >> (j % 8) & 1, c[j / 8] >> (j % 8) & 1, "bit {j}");
                        }
                    }
                }
            }
        }
    }
});
