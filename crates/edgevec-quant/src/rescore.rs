//! Exact rescoring of approximate candidates.

use crate::Metric;

/// The exact distance between two f32 rows in the EdgeVec conventions, with the `edgevec-simd`
/// f32 kernels: squared L2, `1 − cos` (the rows need not be normalized; a zero row gives 1),
/// or `−⟨a, b⟩`.
///
/// # Panics
/// When `a.len() != b.len()`.
#[inline]
#[track_caller]
pub fn exact_distance(metric: Metric, a: &[f32], b: &[f32]) -> f32 {
    match metric {
        Metric::L2 => edgevec_simd::l2_squared(a, b),
        Metric::Cosine => edgevec_simd::cosine_distance(a, b),
        Metric::Dot => -edgevec_simd::dot(a, b),
    }
}

/// How many candidates to rescore for `k` results with oversampling `factor`: `⌈k × factor⌉`
/// with `factor` taken to three decimals (the nearest thousandth, so that 1.2 — stored as
/// 1.2000000477 in an f32 — rescores 12 of 10, not 13), at least `k` (a factor below 1, or
/// NaN, counts as 1), saturating at `usize::MAX`.
pub fn oversampled(k: usize, factor: f32) -> usize {
    // Whole thousandths, so that the product is exact; NaN is 0, which `max` then lifts to k.
    // (u64, not u128: wasm32 has 64-bit arithmetic natively.)
    let wanted = (k as u64)
        .checked_mul(thousandths(factor))
        .map_or(u64::MAX, |m| m.div_ceil(1000));
    usize::try_from(wanted).unwrap_or(usize::MAX).max(k)
}

/// An oversampling factor in whole thousandths, the precision [`oversampled`] works to (and
/// the facade's index files keep): the nearest thousandth, 0 for NaN, negatives and below 0.0005,
/// saturating at `u64::MAX`.
pub fn thousandths(factor: f32) -> u64 {
    // `as u64` saturates (+inf) and maps NaN and negatives to 0.
    (f64::from(factor) * 1000.0).round() as u64
}

/// Re-ranks approximate candidates by their exact distance and returns the best `k` as
/// `(id, exact distance)`, closest first, ties broken by id; duplicate ids count once.
///
/// `exact` computes the exact distance of a candidate from the query (typically
/// [`exact_distance`] on its f32 row, read from a memory-mapped file or from RAM); a candidate
/// for which it returns `None` (a row that no longer exists) is skipped. A NaN distance sorts
/// last.
///
/// ```
/// use edgevec_quant::{Metric, exact_distance, rescore};
///
/// let rows = [[0.0_f32, 0.0], [3.0, 4.0], [1.0, 1.0]];
/// let query = [0.9_f32, 0.9];
/// // Candidates as a code search would return them (approximate order).
/// let top = rescore([1_u32, 0, 2], 2, |id| {
///     rows.get(id as usize).map(|r| exact_distance(Metric::L2, &query, r))
/// });
/// assert_eq!(top.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [2, 0]);
/// assert!((top[0].1 - 0.02).abs() < 1e-6);
/// ```
pub fn rescore<I: Copy + Ord>(
    candidates: impl IntoIterator<Item = I>,
    k: usize,
    mut exact: impl FnMut(I) -> Option<f32>,
) -> Vec<(I, f32)> {
    let mut scored: Vec<(I, f32)> = candidates
        .into_iter()
        .filter_map(|id| exact(id).map(|d| (id, d)))
        .collect();
    scored.sort_unstable_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    scored.dedup_by(|a, b| a.0 == b.0);
    scored.truncate(k);
    // Callers keep results: hold k entries, not every candidate (⌈k × oversample⌉) scored.
    scored.shrink_to_fit();
    scored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_distances_follow_the_conventions() {
        let (a, b) = ([1.0_f32, 0.0], [0.0_f32, 2.0]);
        assert_eq!(exact_distance(Metric::L2, &a, &b), 5.0);
        assert_eq!(exact_distance(Metric::Dot, &a, &[3.0, 1.0]), -3.0);
        assert_eq!(exact_distance(Metric::Cosine, &a, &b), 1.0);
        assert_eq!(exact_distance(Metric::Cosine, &a, &[0.0, 0.0]), 1.0);
    }

    #[test]
    fn rescore_sorts_dedups_skips_and_truncates() {
        let d = [5.0, 1.0, 3.0, 1.0];
        let top = rescore([0_u32, 1, 2, 3, 1, 9], 3, |i| d.get(i as usize).copied());
        assert_eq!(top, vec![(1, 1.0), (3, 1.0), (2, 3.0)]);
        assert!(rescore([0_u32], 0, |_| Some(1.0)).is_empty());
        assert_eq!(oversampled(10, 4.0), 40);
        assert_eq!(oversampled(10, 1.5), 15);
        assert_eq!(oversampled(10, 1.41), 15);
        // Factors whose f32 lies just above their decimal value.
        assert_eq!(oversampled(10, 1.2), 12);
        assert_eq!(oversampled(10, 1.1), 11);
        assert_eq!(oversampled(10, 1.6), 16);
        assert_eq!(oversampled(10, 2.2), 22);
        assert_eq!(oversampled(100, 1.001), 101);
        for milli in 1000..=5000_u32 {
            let f = (f64::from(milli) / 1000.0) as f32;
            for k in [1_usize, 3, 7, 10, 20, 50, 100] {
                let exact = (k * milli as usize).div_ceil(1000);
                assert_eq!(oversampled(k, f), exact, "k {k}, factor {f}");
            }
        }
        assert_eq!(
            [1.2, 1.0004, 0.0, -1.0, f32::NAN].map(thousandths),
            [1200, 1000, 0, 0, 0]
        );
        assert_eq!(thousandths(f32::INFINITY), u64::MAX);
        assert_eq!(oversampled(3, 1.5), 5);
        assert_eq!(oversampled(10, 0.0), 10);
        assert_eq!(oversampled(10, f32::NAN), 10);
        assert_eq!(oversampled(10, f32::INFINITY), usize::MAX);
        assert_eq!(oversampled(usize::MAX, 2.0), usize::MAX);
    }
}
