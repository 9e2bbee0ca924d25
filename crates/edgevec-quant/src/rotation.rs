//! A fixed random orthogonal transform that [`Binary`](crate::Binary) applies before it takes
//! sign bits.
//!
//! Sign bits compare each component with a threshold. When the data's variance sits in a few
//! axes (a decaying spectrum, as in most embedding models and in the synthetic sets), the other
//! components are almost constant within a neighbourhood and their bits say nothing about which
//! neighbour is closer. An orthogonal transform spreads the variance over every component
//! without changing a single distance or dot product, so every bit carries about the same
//! information.
//!
//! The transform is `ROUNDS` rounds of: a seeded permutation with random sign flips, then an
//! orthonormal Walsh–Hadamard transform on consecutive power-of-two blocks that cover the
//! dimension (768 = 512 + 256). Each round is orthogonal, so the whole is; it costs
//! `O(dim · log dim)` per vector instead of a dense matrix's `O(dim²)`, and its parameters are a
//! permutation and a sign per component and round (stored explicitly in the codec's parameter
//! section, so a file never depends on a generator's sequence). Arithmetic is in f64: no
//! intermediate can overflow for finite f32 input.

/// Rounds of permute-and-flip then block Hadamard. Three mix every component with every other
/// one, also across blocks of different sizes.
pub(crate) const ROUNDS: usize = 3;

/// Seed of the permutations and signs drawn at training (fixed: training is deterministic).
const SEED: u64 = 0x6564_6765_7665_6331; // "edgevec1"

/// The orthogonal transform: per round, output `i` is `±x[perm[i]]` (negated when `neg[i]`),
/// followed by the block Hadamard transform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rotation {
    /// `ROUNDS × dim` source indices, round after round.
    perm: Vec<u32>,
    /// `ROUNDS × dim` sign flips, round after round.
    neg: Vec<bool>,
}

impl Rotation {
    /// The transform of `dim` components (`1..=MAX_DIM`), drawn from the fixed seed.
    pub(crate) fn new(dim: usize) -> Rotation {
        let mut rng = fastrand::Rng::with_seed(SEED ^ dim as u64);
        let mut perm = Vec::with_capacity(ROUNDS * dim);
        let mut neg = Vec::with_capacity(ROUNDS * dim);
        for _ in 0..ROUNDS {
            // dim <= MAX_DIM (65,536): indices fit u32.
            let mut p: Vec<u32> = (0..dim as u32).collect();
            rng.shuffle(&mut p);
            perm.extend_from_slice(&p);
            neg.extend((0..dim).map(|_| rng.bool()));
        }
        Rotation { perm, neg }
    }

    /// Rebuilds a transform from stored parts, checking that each round's indices are a
    /// permutation of `0..dim`; the error names the first offending entry.
    pub(crate) fn from_parts(dim: usize, perm: Vec<u32>, neg: Vec<bool>) -> Result<Self, String> {
        if perm.len() != ROUNDS * dim || neg.len() != ROUNDS * dim {
            return Err(format!(
                "{} indices and {} signs, expected {} of each",
                perm.len(),
                neg.len(),
                ROUNDS * dim
            ));
        }
        let mut seen = vec![false; dim];
        for (round, p) in perm.chunks_exact(dim).enumerate() {
            seen.fill(false);
            for (i, &src) in p.iter().enumerate() {
                let slot = seen.get_mut(src as usize).ok_or_else(|| {
                    format!("rotation round {round}: index {i} is {src}, expected < {dim}")
                })?;
                if *slot {
                    return Err(format!(
                        "rotation round {round}: index {src} appears twice (not a permutation)"
                    ));
                }
                *slot = true;
            }
        }
        Ok(Rotation { perm, neg })
    }

    /// Components transformed.
    pub(crate) fn dim(&self) -> usize {
        self.perm.len() / ROUNDS
    }

    /// The stored parts: indices and sign flips, round after round.
    pub(crate) fn parts(&self) -> (&[u32], &[bool]) {
        (&self.perm, &self.neg)
    }

    /// Heap bytes held.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.perm.capacity() * 4 + self.neg.capacity()
    }

    /// `R · x` into `out` (`x` and `out` have `dim` components).
    pub(crate) fn apply(&self, x: &[f32], out: &mut Vec<f64>) {
        let dim = self.dim();
        debug_assert_eq!(x.len(), dim);
        out.clear();
        out.extend(x.iter().map(|&v| f64::from(v)));
        let mut tmp = vec![0.0_f64; dim];
        for (p, n) in self.perm.chunks_exact(dim).zip(self.neg.chunks_exact(dim)) {
            for ((t, &src), &flip) in tmp.iter_mut().zip(p).zip(n) {
                let v = out[src as usize];
                *t = if flip { -v } else { v };
            }
            hadamard_blocks(&mut tmp);
            std::mem::swap(out, &mut tmp);
        }
    }

    /// `Rᵀ · y` (the inverse) in place.
    pub(crate) fn invert(&self, y: &mut [f64]) {
        let dim = self.dim();
        debug_assert_eq!(y.len(), dim);
        let mut tmp = vec![0.0_f64; dim];
        for (p, n) in self
            .perm
            .chunks_exact(dim)
            .zip(self.neg.chunks_exact(dim))
            .rev()
        {
            // The orthonormal Hadamard matrix is symmetric and its own inverse.
            hadamard_blocks(y);
            for ((&v, &src), &flip) in y.iter().zip(p).zip(n) {
                tmp[src as usize] = if flip { -v } else { v };
            }
            y.copy_from_slice(&tmp);
        }
    }
}

/// The orthonormal Walsh–Hadamard transform on consecutive blocks of `v`, largest power of two
/// first (a block of one component is left as it is).
fn hadamard_blocks(v: &mut [f64]) {
    let mut rest = v;
    while !rest.is_empty() {
        let size = 1usize << (usize::BITS - 1 - rest.len().leading_zeros());
        let (block, tail) = rest.split_at_mut(size);
        fwht(block);
        rest = tail;
    }
}

/// In-place fast Walsh–Hadamard transform of a power-of-two block, scaled by `1/√len`.
fn fwht(v: &mut [f64]) {
    let n = v.len();
    let mut h = 1;
    while h < n {
        for pair in v.chunks_exact_mut(2 * h) {
            let (a, b) = pair.split_at_mut(h);
            for (x, y) in a.iter_mut().zip(b) {
                (*x, *y) = (*x + *y, *x - *y);
            }
        }
        h *= 2;
    }
    if n > 1 {
        let scale = 1.0 / (n as f64).sqrt();
        for x in v {
            *x *= scale;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(dim: usize, salt: u32) -> Vec<f32> {
        (0..dim)
            .map(|i| ((i as u32 * 7 + salt * 13) % 23) as f32 - 11.0)
            .collect()
    }

    #[test]
    fn orthogonal_and_invertible_for_awkward_dimensions() {
        for dim in [1, 2, 3, 7, 8, 100, 768, 1000] {
            let r = Rotation::new(dim);
            let (a, b) = (vector(dim, 1), vector(dim, 2));
            let (mut ra, mut rb) = (Vec::new(), Vec::new());
            r.apply(&a, &mut ra);
            r.apply(&b, &mut rb);
            let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f64>();
            let (a64, b64): (Vec<f64>, Vec<f64>) = (
                a.iter().map(|&v| f64::from(v)).collect(),
                b.iter().map(|&v| f64::from(v)).collect(),
            );
            let want = dot(&a64, &b64);
            assert!(
                (dot(&ra, &rb) - want).abs() <= 1e-9 * (1.0 + want.abs()),
                "dim {dim}"
            );
            assert!((dot(&ra, &ra) - dot(&a64, &a64)).abs() <= 1e-9 * dot(&a64, &a64));
            r.invert(&mut ra);
            for (x, y) in ra.iter().zip(&a64) {
                assert!((x - y).abs() <= 1e-9 * (1.0 + y.abs()), "dim {dim}");
            }
        }
    }

    #[test]
    fn spreads_one_axis_over_every_component() {
        let dim = 768;
        let mut e = vec![0.0_f32; dim];
        e[5] = 1.0;
        let mut out = Vec::new();
        Rotation::new(dim).apply(&e, &mut out);
        // A basis vector ends with no component above a few times 1/√dim.
        let max = out.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        assert!(max < 8.0 / (dim as f64).sqrt(), "max component {max}");
        assert!(out.iter().filter(|v| v.abs() > 1e-12).count() > dim / 2);
    }

    #[test]
    fn stored_parts_are_checked() {
        let r = Rotation::new(4);
        let (p, n) = r.parts();
        assert_eq!(
            Rotation::from_parts(4, p.to_vec(), n.to_vec()).unwrap(),
            r.clone()
        );
        let mut bad = p.to_vec();
        bad[1] = bad[0];
        assert!(
            Rotation::from_parts(4, bad, n.to_vec())
                .unwrap_err()
                .contains("twice")
        );
        let mut bad = p.to_vec();
        bad[2] = 4;
        assert!(
            Rotation::from_parts(4, bad, n.to_vec())
                .unwrap_err()
                .contains("expected < 4")
        );
        assert!(Rotation::from_parts(4, p[..4].to_vec(), n.to_vec()).is_err());
    }
}
