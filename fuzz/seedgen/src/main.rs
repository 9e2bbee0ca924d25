//! Writes small seed inputs for the fuzz targets into `fuzz/seeds/<target>`: valid `.evec`
//! files of every kind of index for `evec_open`, and for the targets that decode structured
//! input (`evec_mutate`, `wal_replay`, `crash_io`, `quant_roundtrip`) a few inputs that select
//! each configuration and mode, plus deterministic random bytes. Every seed is under 4 KiB
//! (`cargo xtask fuzz` passes `-max_len=4096`).

use std::path::{Path, PathBuf};

use edgevec::{Index, Metric, Quantization};
use edgevec_storage::{CrashDir, EvecFile, Section, journal};
use edgevec_testdata::Rng;

/// The test data's SplitMix64, with the byte helper the seeds need.
trait Bytes {
    fn bytes(&mut self, n: usize) -> Vec<u8>;
}

impl Bytes for Rng {
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

fn seeds_dir(target: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("seeds");
    let d = root.join(target);
    std::fs::create_dir_all(&d).expect("seed dir");
    d
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    assert!(
        bytes.len() <= 4096,
        "{target}/{name} is {} bytes",
        bytes.len()
    );
    std::fs::write(seeds_dir(target).join(name), bytes).expect("write seed");
}

fn index(metric: Metric, q: Quantization, n: u64, dim: usize, train: usize, deletes: u64) -> Index {
    let mut index = Index::builder()
        .dimensions(dim)
        .metric(metric)
        .quantization(q)
        .train_size(train)
        .m(2)
        .ef_construction(8)
        .threads(1)
        .seed(n)
        .build()
        .expect("settings");
    let mut rng = Rng(n * 31 + dim as u64);
    for id in 0..n {
        let v: Vec<f32> = (0..dim)
            .map(|_| (rng.next_u64() % 9) as f32 - 4.0 + 0.5)
            .collect();
        index.insert(id * 2 + 1, &v).expect("insert");
    }
    for id in 0..deletes {
        index.delete(id * 2 + 1).expect("delete");
    }
    index
}

fn evec_open() {
    let cases = [
        ("l2-none", index(Metric::L2, Quantization::None, 8, 4, 4, 2)),
        (
            "cosine-none",
            index(Metric::Cosine, Quantization::None, 6, 3, 4, 0),
        ),
        (
            "dot-none",
            index(Metric::Dot, Quantization::None, 5, 2, 4, 1),
        ),
        ("l2-u8", index(Metric::L2, Quantization::U8, 8, 3, 4, 1)),
        (
            "cosine-i8",
            index(Metric::Cosine, Quantization::I8, 6, 4, 4, 0),
        ),
        (
            "dot-binary",
            index(Metric::Dot, Quantization::Binary, 7, 9, 4, 2),
        ),
        (
            "u8-pending",
            index(Metric::L2, Quantization::U8, 3, 3, 100, 0),
        ),
        ("empty", index(Metric::L2, Quantization::None, 0, 2, 4, 0)),
    ];
    for (name, idx) in &cases {
        let bytes = idx.to_bytes().expect("to_bytes");
        write("evec_open", &format!("{name}.evec"), &bytes);
    }
    // A snapshot as the journal writes it (with LOG_STATE).
    let bytes = cases[0].1.to_bytes().unwrap();
    let file = EvecFile::from_bytes(&bytes).unwrap();
    let sections: Vec<Section<'_>> = (0..file.sections().len())
        .map(|i| Section::bytes(file.sections()[i].kind, file.section(i).unwrap()))
        .collect();
    let mut dir = CrashDir::new();
    journal::write_snapshot(&mut dir, "s.evec", &sections, 0x1234, 3).unwrap();
    write("evec_open", "l2-none-journal.evec", &dir.files()["s.evec"]);
    // The storage layer's committed fixtures (not indexes: they exercise the file format).
    let fixtures =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/edgevec-storage/tests/fixtures");
    for f in ["v1.0-small.evec", "v1.1-small.evec"] {
        write(
            "evec_open",
            f,
            &std::fs::read(fixtures.join(f)).expect("fixture"),
        );
    }
}

fn structured(target: &str, heads: &[&[u8]], random: usize, seed: u64) {
    let mut rng = Rng(seed);
    for (i, head) in heads.iter().enumerate() {
        let mut b = head.to_vec();
        b.extend(rng.bytes(24));
        write(target, &format!("mode-{i:02}"), &b);
    }
    for i in 0..random {
        let n = 16 + (rng.next_u64() % 200) as usize;
        write(target, &format!("random-{i:02}"), &rng.bytes(n));
    }
}

fn main() {
    evec_open();
    // evec_mutate: the first byte picks the fixture.
    let fixtures: Vec<[u8; 1]> = (0..13u8).map(|i| [i]).collect();
    let heads: Vec<&[u8]> = fixtures.iter().map(|f| &f[..]).collect();
    structured("evec_mutate", &heads, 4, 1);
    // wal_replay: byte 0 the mode, byte 1 the setup; mode 2 byte 2 the record boundary (5 =
    // the whole valid log).
    structured(
        "wal_replay",
        &[
            &[0, 0],
            &[1, 0],
            &[1, 1],
            &[2, 0, 5],
            &[2, 1, 5],
            &[2, 2, 5],
            &[2, 2, 2],
            &[3, 0],
            &[3, 1],
            &[3, 2],
        ],
        4,
        2,
    );
    structured("crash_io", &[], 8, 3);
    structured("quant_roundtrip", &[&[0], &[1], &[2]], 6, 4);
}
