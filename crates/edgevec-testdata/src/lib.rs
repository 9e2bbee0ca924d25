//! Test and benchmark data for EdgeVec: deterministic generators, `.fvecs`/`.ivecs` files and
//! exact ground truth by brute force.
//!
//! Not part of the product: a dev-dependency of the other crates' tests, examples and of
//! `xtask`, so that every test and benchmark draws the same data from the same seed on every
//! platform.
#![forbid(unsafe_code)]

use std::io::{self, Read, Write};
use std::path::Path;

use rayon::prelude::*;

/// SplitMix64: a small generator that yields the same sequence on every platform.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    pub fn unit(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Bell-shaped in (-2, 2): half the sum of four uniforms (variance 1/3).
    pub fn bell(&mut self) -> f32 {
        (self.unit() + self.unit() + self.unit() + self.unit()) * 0.5
    }
}

/// Embedding-like synthetic data: `n` rows of `dim` values (row-major) around 100 centres.
///
/// Within a cluster, dimension `j` varies with scale `0.6 / (1 + j/8)`: a decaying spectrum, so
/// the intrinsic dimension is well below `dim`, as in real embedding models. Deterministic in
/// `seed`.
pub fn embeddings(seed: u64, n: usize, dim: usize) -> Vec<f32> {
    clustered(seed, n, dim, 100, 0.6, 8.0)
}

/// `n` rows of `dim` values around `clusters` centres (each centre component bell-shaped);
/// component `j` of a row deviates from its centre by `spread / (1 + j/decay) · bell()`. A
/// large `decay` gives isotropic clusters (high intrinsic dimension, hard for any ANN index).
pub fn clustered(
    seed: u64,
    n: usize,
    dim: usize,
    clusters: usize,
    spread: f32,
    decay: f32,
) -> Vec<f32> {
    let mut rng = Rng(seed);
    let clusters = clusters.max(1);
    let centres: Vec<f32> = (0..clusters * dim).map(|_| rng.bell()).collect();
    let scale: Vec<f32> = (0..dim)
        .map(|j| spread / (1.0 + j as f32 / decay))
        .collect();
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let c = rng.below(clusters as u64) as usize;
        let centre = &centres[c * dim..(c + 1) * dim];
        out.extend((0..dim).map(|j| centre[j] + scale[j] * rng.bell()));
    }
    out
}

/// The distance conventions of EdgeVec (smaller is closer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distance {
    /// Squared Euclidean distance.
    L2,
    /// `1 − cos(a, b)`.
    Cosine,
    /// `−⟨a, b⟩`.
    Dot,
}

impl Distance {
    /// Distance between two rows, computed in f64 (the oracle's precision).
    pub fn exact(self, a: &[f32], b: &[f32]) -> f64 {
        let dot = || -> f64 {
            a.iter()
                .zip(b)
                .map(|(x, y)| f64::from(*x) * f64::from(*y))
                .sum()
        };
        match self {
            Distance::L2 => a
                .iter()
                .zip(b)
                .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
                .sum(),
            Distance::Dot => -dot(),
            Distance::Cosine => {
                let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum();
                let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum();
                if na == 0.0 || nb == 0.0 {
                    1.0
                } else {
                    1.0 - dot() / (na * nb).sqrt()
                }
            }
        }
    }
}

/// Exact `k` nearest rows of `base` for each query (ids are row numbers), ties broken by id,
/// computed in f64 on all cores. `keep` filters candidate ids (pass `|_| true` for none).
pub fn exact_knn(
    distance: Distance,
    base: &[f32],
    queries: &[f32],
    dim: usize,
    k: usize,
    keep: impl Fn(u32) -> bool + Sync,
) -> Vec<Vec<u32>> {
    queries
        .par_chunks_exact(dim)
        .map(|q| {
            let mut all: Vec<(f64, u32)> = base
                .chunks_exact(dim)
                .enumerate()
                .filter(|(i, _)| keep(*i as u32))
                .map(|(i, row)| (distance.exact(q, row), i as u32))
                .collect();
            let by = |a: &(f64, u32), b: &(f64, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
            if all.len() > k && k > 0 {
                all.select_nth_unstable_by(k - 1, by);
                all.truncate(k);
            }
            all.sort_unstable_by(by);
            all.truncate(k);
            all.into_iter().map(|(_, i)| i).collect()
        })
        .collect()
}

/// Mean fraction of each query's true ids that appear in its found ids.
pub fn recall(found: &[Vec<u64>], truth: &[Vec<u32>]) -> f64 {
    let mut total = 0.0;
    for (f, t) in found.iter().zip(truth) {
        if t.is_empty() {
            total += 1.0;
            continue;
        }
        let hits = t.iter().filter(|id| f.contains(&u64::from(**id))).count();
        total += hits as f64 / t.len() as f64;
    }
    total / truth.len().max(1) as f64
}

fn read_words(path: &Path) -> io::Result<(Vec<u32>, usize)> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.read_to_end(&mut bytes)?;
    let bad = |why: String| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {why}", path.display()),
        )
    };
    if bytes.len() < 4 {
        return Err(bad("too short for a .fvecs/.ivecs header".into()));
    }
    let dim = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    let record = 4 * (dim + 1);
    if dim == 0 || bytes.len() % record != 0 {
        return Err(bad(format!(
            "{} bytes is not a whole number of {dim}-d records",
            bytes.len()
        )));
    }
    let mut words = Vec::with_capacity(bytes.len() / 4);
    for (i, rec) in bytes.chunks_exact(record).enumerate() {
        let d = u32::from_le_bytes([rec[0], rec[1], rec[2], rec[3]]) as usize;
        if d != dim {
            return Err(bad(format!(
                "record {i} has dimension {d}, the first has {dim}"
            )));
        }
        words.extend(
            rec[4..]
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        );
    }
    Ok((words, dim))
}

/// Reads an `.fvecs` file: rows (row-major) and their dimension.
pub fn read_fvecs(path: impl AsRef<Path>) -> io::Result<(Vec<f32>, usize)> {
    let (w, d) = read_words(path.as_ref())?;
    Ok((w.into_iter().map(f32::from_bits).collect(), d))
}

/// Reads an `.ivecs` file: rows of ids and the row length.
pub fn read_ivecs(path: impl AsRef<Path>) -> io::Result<(Vec<u32>, usize)> {
    read_words(path.as_ref())
}

fn write_words(path: &Path, words: &[u32], dim: usize) -> io::Result<()> {
    let mut out = io::BufWriter::new(std::fs::File::create(path)?);
    for row in words.chunks_exact(dim.max(1)) {
        out.write_all(&(dim as u32).to_le_bytes())?;
        for w in row {
            out.write_all(&w.to_le_bytes())?;
        }
    }
    out.flush()
}

/// Writes rows of `dim` f32 values as `.fvecs`.
pub fn write_fvecs(path: impl AsRef<Path>, rows: &[f32], dim: usize) -> io::Result<()> {
    let words: Vec<u32> = rows.iter().map(|x| x.to_bits()).collect();
    write_words(path.as_ref(), &words, dim)
}

/// Writes rows of `dim` ids as `.ivecs`.
pub fn write_ivecs(path: impl AsRef<Path>, rows: &[u32], dim: usize) -> io::Result<()> {
    write_words(path.as_ref(), rows, dim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generators_are_deterministic() {
        assert_eq!(embeddings(3, 10, 8), embeddings(3, 10, 8));
        assert_ne!(embeddings(3, 10, 8), embeddings(4, 10, 8));
        let mut r = Rng(1);
        assert!(
            (0..1000)
                .map(|_| r.unit())
                .all(|x| (-1.0..1.0).contains(&x))
        );
    }

    #[test]
    fn exact_knn_finds_the_obvious_neighbours() {
        let base = [0.0f32, 0.0, 1.0, 0.0, 5.0, 5.0, 0.9, 0.1];
        let truth = exact_knn(Distance::L2, &base, &[1.0, 0.0], 2, 2, |_| true);
        assert_eq!(truth, vec![vec![1, 3]]);
        let filtered = exact_knn(Distance::L2, &base, &[1.0, 0.0], 2, 2, |i| i != 1);
        assert_eq!(filtered, vec![vec![3, 0]]);
        assert_eq!(recall(&[vec![1, 9]], &truth), 0.5);
    }

    #[test]
    fn vecs_files_round_trip_and_reject_damage() {
        let dir = std::env::temp_dir().join(format!("edgevec-testdata-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.fvecs");
        write_fvecs(&p, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3).unwrap();
        assert_eq!(
            read_fvecs(&p).unwrap(),
            (vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3)
        );
        let mut bytes = std::fs::read(&p).unwrap();
        bytes.pop();
        std::fs::write(&p, &bytes).unwrap();
        assert!(read_fvecs(&p).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
