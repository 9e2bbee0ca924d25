//! End-to-end tests of the `edgevec` binary: every subcommand and input format, usage errors,
//! damaged files (never a panic), answers against brute force, and a process killed during
//! inserts.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use edgevec_testdata::{Distance, Rng, clustered, exact_knn, recall, write_fvecs};
use serde_json::Value;

fn edgevec(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_edgevec"))
        .args(args.iter().map(|a| a.as_ref()))
        .stdin(Stdio::null())
        .output()
        .expect("the edgevec binary runs")
}

fn describe(args: &[&dyn AsRef<std::ffi::OsStr>], out: &Output) -> String {
    let args: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy()).collect();
    format!(
        "edgevec {}\nstatus {:?}\nstdout: {}\nstderr: {}",
        args.join(" "),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs a command that must succeed; returns its stdout.
fn ok(args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
    let out = edgevec(args);
    assert_eq!(out.status.code(), Some(0), "{}", describe(args, &out));
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a command that must fail with `code`; returns its stderr (never empty).
fn fails(code: i32, args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
    let out = edgevec(args);
    assert_eq!(out.status.code(), Some(code), "{}", describe(args, &out));
    let err = String::from_utf8(out.stderr.clone()).unwrap();
    assert!(!err.trim().is_empty(), "{}", describe(args, &out));
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// Parses the one JSON line a command prints.
fn json(stdout: &str) -> Value {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected: {stdout}");
    serde_json::from_str(lines[0]).unwrap()
}

fn write_npy(path: &Path, rows: &[f32], dim: usize) {
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {dim}), }}",
        rows.len() / dim
    );
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend(rows.iter().flat_map(|x| x.to_le_bytes()));
    std::fs::write(path, bytes).unwrap();
}

fn write_raw(path: &Path, rows: &[f32]) {
    std::fs::write(
        path,
        rows.iter()
            .flat_map(|x| x.to_le_bytes())
            .collect::<Vec<_>>(),
    )
    .unwrap();
}

/// Reads `.ivecs` rows as i32 (so that -1 stays -1), checking every row has `k` entries.
fn read_ivecs(path: &Path, k: usize) -> Vec<Vec<i32>> {
    let bytes = std::fs::read(path).unwrap();
    let words: Vec<i32> = bytes
        .chunks_exact(4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(bytes.len(), words.len() * 4);
    words
        .chunks(k + 1)
        .map(|row| {
            assert_eq!(row[0] as usize, k);
            assert_eq!(row.len(), k + 1);
            row[1..].to_vec()
        })
        .collect()
}

fn count(index: &Path) -> u64 {
    json(&ok(&[&"info", &"--index", &index]))["count"]
        .as_u64()
        .unwrap()
}

struct Fixture {
    dir: tempfile::TempDir,
    base: Vec<f32>,
    dim: usize,
}

impl Fixture {
    fn new(n: usize, dim: usize, seed: u64) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let base = clustered(seed, n, dim, 8, 0.3, 1e9);
        write_fvecs(dir.path().join("base.fvecs"), &base, dim).unwrap();
        Fixture { dir, base, dim }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn build(&self, name: &str, extra: &[&str]) -> PathBuf {
        let index = self.path(name);
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = Vec::new();
        let input = self.path("base.fvecs");
        args.extend([
            &"build" as &dyn AsRef<std::ffi::OsStr>,
            &"--input",
            &input,
            &"--output",
            &index,
        ]);
        for e in extra {
            args.push(e);
        }
        let out = json(&ok(&args));
        assert_eq!(out["vectors"].as_u64(), Some(self.rows() as u64));
        index
    }
    fn rows(&self) -> usize {
        self.base.len() / self.dim
    }
}

#[test]
fn every_input_format_builds_the_same_index() {
    let f = Fixture::new(300, 16, 1);
    write_npy(&f.path("base.npy"), &f.base, 16);
    write_raw(&f.path("base.f32"), &f.base);
    let queries = clustered(2, 20, 16, 8, 0.3, 1e9);
    write_fvecs(f.path("q.fvecs"), &queries, 16).unwrap();
    write_npy(&f.path("q.npy"), &queries, 16);
    write_raw(&f.path("q.f32"), &queries);

    let mut answers = Vec::new();
    for (input, queries) in [
        ("base.fvecs", "q.fvecs"),
        ("base.npy", "q.npy"),
        ("base.f32", "q.f32"),
    ] {
        let index = f.path(&format!("{input}.evec"));
        let out = f.path(&format!("{input}.ivecs"));
        let build = json(&ok(&[
            &"build",
            &"--input",
            &f.path(input),
            &"--output",
            &index,
            &"--dim",
            &"16",
            &"--threads",
            &"1",
            &"--seed",
            &"9",
        ]));
        assert_eq!(build["vectors"], 300);
        assert_eq!(build["dimensions"], 16);
        assert_eq!(
            build["file_bytes"].as_u64(),
            Some(std::fs::metadata(&index).unwrap().len())
        );
        assert!(build["build_seconds"].as_f64().unwrap() >= 0.0);
        ok(&[
            &"search",
            &"--index",
            &index,
            &"--queries",
            &f.path(queries),
            &"--dim",
            &"16",
            &"--k",
            &"10",
            &"--output",
            &out,
        ]);
        answers.push(std::fs::read(&out).unwrap());
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0], answers[2]);

    // --dim must agree with a header, and a raw file needs it.
    let err = fails(
        1,
        &[
            &"build",
            &"--input",
            &f.path("base.npy"),
            &"--output",
            &f.path("x.evec"),
            &"--dim",
            &"8",
        ],
    );
    assert!(err.contains("--dim 8"), "{err}");
    let err = fails(
        1,
        &[
            &"build",
            &"--input",
            &f.path("base.f32"),
            &"--output",
            &f.path("x.evec"),
        ],
    );
    assert!(err.contains("--dim"), "{err}");
}

#[test]
fn search_agrees_with_brute_force() {
    let f = Fixture::new(500, 16, 3);
    let index = f.build("i.evec", &["--seed", "5"]);
    let queries = clustered(4, 60, 16, 8, 0.3, 1e9);
    write_fvecs(f.path("q.fvecs"), &queries, 16).unwrap();
    let truth = exact_knn(Distance::L2, &f.base, &queries, 16, 10, |_| true);

    let out1 = f.path("one.ivecs");
    let line = json(&ok(&[
        &"search",
        &"--index",
        &index,
        &"--queries",
        &f.path("q.fvecs"),
        &"--k",
        &"10",
        &"--ef",
        &"64",
        &"--output",
        &out1,
    ]));
    assert_eq!(line["queries"], 60);
    assert_eq!(line["k"], 10);
    assert_eq!(line["ef"], 64);
    assert_eq!(line["threads"], 1);
    assert!(line["search_seconds"].as_f64().unwrap() >= 0.0);
    assert!(line["qps"].as_f64().unwrap() >= 0.0);
    // An f32 index rescores nothing: its factor is 1.
    assert_eq!(line["oversample"], 1.0);
    // The process's own memory after searching (Linux: /proc/self/status), null elsewhere.
    if cfg!(target_os = "linux") {
        let (rss, peak) = (&line["rss_bytes"], &line["peak_rss_bytes"]);
        let (rss, peak) = (rss.as_u64().unwrap(), peak.as_u64().unwrap());
        assert!(rss > 0 && rss <= peak, "rss {rss}, peak {peak}");
    }
    let found: Vec<Vec<u64>> = read_ivecs(&out1, 10)
        .into_iter()
        .map(|r| r.into_iter().map(|id| id as u64).collect())
        .collect();
    let r = recall(&found, &truth);
    assert!(r >= 0.95, "recall@10 {r}");

    // Several threads give the same answers; the default ef is the index's ef_search.
    let out2 = f.path("two.ivecs");
    let line = json(&ok(&[
        &"search",
        &"--index",
        &index,
        &"--queries",
        &f.path("q.fvecs"),
        &"--k",
        &"10",
        &"--threads",
        &"2",
        &"--output",
        &out2,
    ]));
    assert_eq!(line["threads"], 2);
    assert_eq!(line["ef"], 64);
    assert_eq!(std::fs::read(&out1).unwrap(), std::fs::read(&out2).unwrap());

    // k larger than the index: every vector, in exact order, then -1.
    let small = Fixture::new(40, 16, 6);
    let index = small.build("s.evec", &[]);
    let out = small.path("s.ivecs");
    write_fvecs(small.path("q.fvecs"), &queries[..5 * 16], 16).unwrap();
    ok(&[
        &"search",
        &"--index",
        &index,
        &"--queries",
        &small.path("q.fvecs"),
        &"--k",
        &"50",
        &"--output",
        &out,
    ]);
    let rows = read_ivecs(&out, 50);
    let truth = exact_knn(
        Distance::L2,
        &small.base,
        &queries[..5 * 16],
        16,
        50,
        |_| true,
    );
    for (row, t) in rows.iter().zip(&truth) {
        let got: Vec<u32> = row[..40].iter().map(|id| *id as u32).collect();
        assert_eq!(&got, t);
        assert!(row[40..].iter().all(|id| *id == -1));
    }
}

#[test]
fn info_reports_every_field() {
    let f = Fixture::new(1200, 8, 7);
    let index = f.build(
        "i.evec",
        &[
            "--metric",
            "cosine",
            "--m",
            "8",
            "--ef-construction",
            "40",
            "--quantization",
            "u8",
        ],
    );
    let info = json(&ok(&[&"info", &"--index", &index]));
    assert_eq!(info["count"], 1200);
    assert_eq!(info["deleted"], 0);
    assert_eq!(info["dimensions"], 8);
    assert_eq!(info["metric"], "cosine");
    assert_eq!(info["quantization"], "u8");
    assert_eq!(info["m"], 8);
    assert_eq!(info["ef_construction"], 40);
    assert_eq!(
        info["format_version"],
        edgevec::storage::FORMAT_VERSION.to_string()
    );
    assert_eq!(
        info["file_bytes"].as_u64(),
        Some(std::fs::metadata(&index).unwrap().len())
    );
    // Memory by part: u8 codes (8 B per row and the codec), f32 rows left in the file, a packed
    // graph (under 8·M words per node), and dense ids (row i is id i: only tombstone bits).
    let bytes = |k: &str| info[k].as_u64().unwrap();
    assert_eq!(bytes("vector_bytes"), 0);
    assert_eq!(bytes("file_vector_bytes"), 1200 * 8 * 4);
    assert!(bytes("code_bytes") >= 1200 * 8);
    assert!(bytes("graph_bytes") > 1200 * 8 && bytes("graph_bytes") < 1200 * 8 * 2 * 4);
    assert!(bytes("id_bytes") <= 1200 / 8 + 64, "{}", bytes("id_bytes"));
    let verify = ok(&[&"verify", &"--index", &index]);
    assert_eq!(verify.lines().count(), 1);
    assert!(verify.contains("ok"), "{verify}");

    for (metric, quantization) in [("dot", "i8"), ("l2", "binary"), ("dot", "none")] {
        let index = f.build(
            &format!("{metric}-{quantization}.evec"),
            &["--metric", metric, "--quantization", quantization],
        );
        let info = json(&ok(&[&"info", &"--index", &index]));
        assert_eq!(info["metric"], metric);
        assert_eq!(info["quantization"], quantization);
    }
    // A search may set its own rescoring factor; the JSON line says which one it used.
    let (binary, queries) = (f.path("l2-binary.evec"), f.path("base.fvecs"));
    let with_factor = |flag: &Option<&str>| {
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
            &"search",
            &"--index",
            &binary,
            &"--queries",
            &queries,
            &"--k",
            &"5",
        ];
        if let Some(v) = flag {
            args.extend([&"--oversample" as &dyn AsRef<std::ffi::OsStr>, v]);
        }
        args.iter()
            .map(|a| a.as_ref().to_owned())
            .collect::<Vec<_>>()
    };
    for (flag, expected) in [(None, 40.0), (Some("3"), 3.0), (Some("1.25"), 1.25)] {
        let args = with_factor(&flag);
        let args: Vec<&dyn AsRef<std::ffi::OsStr>> = args.iter().map(|a| a as _).collect();
        let line = json(&ok(&args));
        assert_eq!(line["oversample"], expected);
        assert_eq!(line["queries"], 1200);
    }
    // A factor below 1, above 1000 or not a number is refused before the index is opened
    // (exit 1, naming the flag); one that does not parse, by the argument parser (exit 2).
    for (v, code) in [("0.5", 1), ("1001", 1), ("NaN", 1), ("two", 2)] {
        let args = with_factor(&Some(v));
        let args: Vec<&dyn AsRef<std::ffi::OsStr>> = args.iter().map(|a| a as _).collect();
        let err = fails(code, &args);
        assert!(err.contains("--oversample"), "{v}: {err}");
        assert!(!err.contains("query"), "refused before searching: {err}");
    }
    // Rows read into memory before searching: the same answers, and the line says so.
    let u8_index = &index;
    let mut answers = Vec::new();
    for flag in [None, Some("--rows-in-memory")] {
        let out = f.path("rows.ivecs");
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
            &"search",
            &"--index",
            u8_index,
            &"--queries",
            &queries,
            &"--k",
            &"5",
            &"--output",
            &out,
        ];
        if let Some(v) = &flag {
            args.push(v);
        }
        let line = json(&ok(&args));
        assert_eq!(line["rows_in_memory"], flag.is_some());
        answers.push(read_ivecs(&out, 5));
    }
    assert_eq!(answers[0], answers[1]);
    let err = fails(
        1,
        &[
            &"build",
            &"--input",
            &f.path("base.fvecs"),
            &"--output",
            &f.path("x.evec"),
            &"--metric",
            &"dot",
            &"--quantization",
            &"u8",
        ],
    );
    assert!(err.contains("dot"), "{err}");
    let err = fails(
        1,
        &[
            &"build",
            &"--input",
            &f.path("base.fvecs"),
            &"--output",
            &f.path("x.evec"),
            &"--m",
            &"1",
        ],
    );
    assert!(err.contains("m"), "{err}");
    assert!(!f.path("x.evec").exists());
}

#[test]
fn insert_delete_and_compact_change_what_search_returns() {
    let f = Fixture::new(200, 16, 11);
    let index = f.build("i.evec", &[]);
    let extra = clustered(12, 20, 16, 8, 0.3, 1e9);
    write_fvecs(f.path("extra.fvecs"), &extra, 16).unwrap();

    // Default ids continue after the largest one.
    let out = json(&ok(&[
        &"insert",
        &"--index",
        &index,
        &"--input",
        &f.path("extra.fvecs"),
    ]));
    assert_eq!(out["inserted"], 20);
    assert_eq!(out["first_id"], 200);
    assert_eq!(out["last_id"], 219);
    assert_eq!(count(&index), 220);
    let hits = f.path("hits.ivecs");
    ok(&[
        &"search",
        &"--index",
        &index,
        &"--queries",
        &f.path("extra.fvecs"),
        &"--k",
        &"1",
        &"--output",
        &hits,
    ]);
    let rows = read_ivecs(&hits, 1);
    assert_eq!(rows, (200..220).map(|id| vec![id]).collect::<Vec<_>>());

    // Explicit ids; a live id is refused and nothing of the batch goes in.
    let out = json(&ok(&[
        &"insert",
        &"--index",
        &index,
        &"--input",
        &f.path("extra.fvecs"),
        &"--start-id",
        &"5000",
    ]));
    assert_eq!(out["first_id"], 5000);
    assert_eq!(count(&index), 240);
    let err = fails(
        1,
        &[
            &"insert",
            &"--index",
            &index,
            &"--input",
            &f.path("extra.fvecs"),
            &"--start-id",
            &"190",
        ],
    );
    assert!(err.contains("already in the index"), "{err}");
    assert!(err.contains("row 0: id 190"), "{err}");
    assert_eq!(count(&index), 240);
    let out = json(&ok(&[
        &"insert",
        &"--index",
        &index,
        &"--input",
        &f.path("extra.fvecs"),
    ]));
    assert_eq!(out["first_id"], 5020);

    // Deletes from the command line and from a file; deleted ids never come back.
    let deleted: Vec<u64> = (0..200).filter(|i| i % 4 == 0).collect();
    let (first, rest) = deleted.split_at(10);
    let list: Vec<String> = first.iter().map(u64::to_string).collect();
    let out = json(&ok(&[
        &"delete",
        &"--index",
        &index,
        &"--ids",
        &format!("{},999999", list.join(",")),
    ]));
    assert_eq!(out["deleted"], 10);
    assert_eq!(out["not_found"], 1);
    let text: String = rest
        .iter()
        .enumerate()
        .map(|(i, id)| format!("{id}{}", if i % 3 == 0 { ",\n" } else { " \t" }))
        .collect();
    std::fs::write(f.path("ids.txt"), text).unwrap();
    let out = json(&ok(&[
        &"delete",
        &"--index",
        &index,
        &"--ids-file",
        &f.path("ids.txt"),
    ]));
    assert_eq!(out["deleted"], rest.len() as u64);
    let info = json(&ok(&[&"info", &"--index", &index]));
    assert_eq!(info["count"], 260 - 50);
    assert_eq!(info["deleted"], 50);
    let all = f.path("all.ivecs");
    ok(&[
        &"search",
        &"--index",
        &index,
        &"--queries",
        &f.path("base.fvecs"),
        &"--k",
        &"10",
        &"--output",
        &all,
    ]);
    let rows = read_ivecs(&all, 10);
    for (i, row) in rows.iter().enumerate() {
        assert!(row.iter().all(|id| *id >= 0), "query {i}: {row:?}");
        assert!(
            row.iter().all(|id| !deleted.contains(&(*id as u64))),
            "query {i}: {row:?}"
        );
        if i % 4 != 0 {
            assert_eq!(row[0] as usize, i, "a live row finds itself first");
        }
    }

    // Compaction removes the tombstones for good.
    let out = json(&ok(&[&"compact", &"--index", &index]));
    assert_eq!(out["removed"], 50);
    let info = json(&ok(&[&"info", &"--index", &index]));
    assert_eq!(info["deleted"], 0);
    assert_eq!(info["count"], 210);
    ok(&[&"verify", &"--index", &index]);
    let again = f.path("again.ivecs");
    ok(&[
        &"search",
        &"--index",
        &index,
        &"--queries",
        &f.path("base.fvecs"),
        &"--k",
        &"10",
        &"--output",
        &again,
    ]);
    for row in read_ivecs(&again, 10) {
        assert!(row.iter().all(|id| !deleted.contains(&(*id as u64))));
    }
}

#[test]
fn ids_beyond_i32_are_an_error_in_ivecs_output_only() {
    let f = Fixture::new(50, 8, 13);
    let index = f.build("i.evec", &[]);
    ok(&[
        &"insert",
        &"--index",
        &index,
        &"--input",
        &f.path("base.fvecs"),
        &"--start-id",
        &"3000000000",
    ]);
    let out = f.path("o.ivecs");
    let err = fails(
        1,
        &[
            &"search",
            &"--index",
            &index,
            &"--queries",
            &f.path("base.fvecs"),
            &"--k",
            &"3",
            &"--output",
            &out,
        ],
    );
    assert!(err.contains("3000000") && err.contains("32-bit"), "{err}");
    assert!(!out.exists());
    ok(&[
        &"search",
        &"--index",
        &index,
        &"--queries",
        &f.path("base.fvecs"),
        &"--k",
        &"3",
    ]);
    let err = fails(
        1,
        &[
            &"insert",
            &"--index",
            &index,
            &"--input",
            &f.path("base.fvecs"),
            &"--start-id",
            &"18446744073709551600",
        ],
    );
    assert!(err.contains("largest id"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let f = Fixture::new(20, 4, 17);
    let index = f.build("i.evec", &[]);
    let base = f.path("base.fvecs");
    let cases: Vec<Vec<&dyn AsRef<std::ffi::OsStr>>> = vec![
        vec![],
        vec![&"frobnicate"],
        vec![&"build"],
        vec![&"build", &"--input", &base],
        vec![
            &"build",
            &"--input",
            &base,
            &"--output",
            &index,
            &"--metric",
            &"manhattan",
        ],
        vec![
            &"build",
            &"--input",
            &base,
            &"--output",
            &index,
            &"--quantization",
            &"u4",
        ],
        vec![
            &"build",
            &"--input",
            &base,
            &"--output",
            &index,
            &"--m",
            &"-3",
        ],
        vec![&"search", &"--index", &index, &"--queries", &base],
        vec![
            &"search",
            &"--index",
            &index,
            &"--queries",
            &base,
            &"--k",
            &"0",
        ],
        vec![
            &"search",
            &"--index",
            &index,
            &"--queries",
            &base,
            &"--k",
            &"ten",
        ],
        vec![
            &"search",
            &"--index",
            &index,
            &"--queries",
            &base,
            &"--k",
            &"3",
            &"--threads",
            &"0",
        ],
        vec![&"insert", &"--index", &index],
        vec![
            &"insert",
            &"--index",
            &index,
            &"--input",
            &base,
            &"--start-id",
            &"-1",
        ],
        vec![&"delete", &"--index", &index],
        vec![&"delete", &"--index", &index, &"--ids", &"1,x"],
        vec![
            &"delete",
            &"--index",
            &index,
            &"--ids",
            &"1",
            &"--ids-file",
            &base,
        ],
        vec![&"info"],
        vec![&"verify", &"--index", &index, &"--extra"],
        vec![&"demo", &"--vectors", &"5"],
    ];
    for args in &cases {
        fails(2, args);
    }
    assert!(ok(&[&"--help"]).contains("build"));
    assert!(ok(&[&"--version"]).contains(env!("CARGO_PKG_VERSION")));
    assert_eq!(count(&index), 20);
}

#[test]
fn bad_inputs_are_errors_naming_the_file() {
    let f = Fixture::new(100, 8, 19);
    let index = f.build("i.evec", &[]);
    let missing = f.path("missing.evec");
    let base = f.path("base.fvecs");

    for cmd in ["info", "verify", "compact"] {
        let err = fails(1, &[&cmd, &"--index", &missing]);
        assert!(err.contains("missing.evec"), "{err}");
    }
    let err = fails(
        1,
        &[
            &"search",
            &"--index",
            &missing,
            &"--queries",
            &base,
            &"--k",
            &"1",
        ],
    );
    assert!(err.contains("missing.evec"), "{err}");
    let err = fails(1, &[&"insert", &"--index", &missing, &"--input", &base]);
    assert!(err.contains("missing.evec"), "{err}");
    let err = fails(1, &[&"delete", &"--index", &missing, &"--ids", &"1"]);
    assert!(err.contains("missing.evec"), "{err}");
    assert!(!missing.exists());
    assert!(!f.path("missing.evec.lock").exists());
    let err = fails(
        1,
        &[
            &"build",
            &"--input",
            &f.path("nope.fvecs"),
            &"--output",
            &f.path("o.evec"),
        ],
    );
    assert!(err.contains("nope.fvecs"), "{err}");
    let err = fails(
        1,
        &[
            &"build",
            &"--input",
            &base,
            &"--output",
            &f.path("no-such-dir/o.evec"),
        ],
    );
    assert!(err.contains("o.evec"), "{err}");
    let err = fails(
        1,
        &[
            &"delete",
            &"--index",
            &index,
            &"--ids-file",
            &f.path("nope.txt"),
        ],
    );
    assert!(err.contains("nope.txt"), "{err}");
    std::fs::write(f.path("bad-ids.txt"), "1 2\n3 four").unwrap();
    let err = fails(
        1,
        &[
            &"delete",
            &"--index",
            &index,
            &"--ids-file",
            &f.path("bad-ids.txt"),
        ],
    );
    assert!(err.contains("line 2") && err.contains("four"), "{err}");
    let err = fails(1, &[&"info", &"--index", &f.dir.path()]);
    assert!(!err.is_empty());

    // Dimension mismatches.
    write_fvecs(f.path("wide.fvecs"), &[0.5; 32], 16).unwrap();
    let err = fails(
        1,
        &[
            &"insert",
            &"--index",
            &index,
            &"--input",
            &f.path("wide.fvecs"),
        ],
    );
    assert!(
        err.contains("16 dimensions") && err.contains("8-dimensional"),
        "{err}"
    );
    let err = fails(
        1,
        &[
            &"search",
            &"--index",
            &index,
            &"--queries",
            &f.path("wide.fvecs"),
            &"--k",
            &"1",
        ],
    );
    assert!(err.contains("16 dimensions"), "{err}");
    let mut ragged = std::fs::read(&base).unwrap()[..3 * 36].to_vec();
    ragged.extend_from_slice(&3i32.to_le_bytes());
    ragged.extend_from_slice(&[0; 12]);
    std::fs::write(f.path("ragged.fvecs"), ragged).unwrap();
    let err = fails(
        1,
        &[
            &"build",
            &"--input",
            &f.path("ragged.fvecs"),
            &"--output",
            &f.path("o.evec"),
        ],
    );
    assert!(
        err.contains("ragged.fvecs") && err.contains("row 3 has dimension 3, expected 8"),
        "{err}"
    );

    // Damaged and unsupported vector files.
    let bytes = std::fs::read(&base).unwrap();
    for cut in [1, 3, 4, 5, 35, 37, bytes.len() - 1] {
        std::fs::write(f.path("cut.fvecs"), &bytes[..cut]).unwrap();
        let err = fails(
            1,
            &[
                &"insert",
                &"--index",
                &index,
                &"--input",
                &f.path("cut.fvecs"),
            ],
        );
        assert!(err.contains("cut.fvecs"), "{err}");
    }
    let mut npy = Vec::new();
    write_npy(&f.path("good.npy"), &[1.0; 16], 8);
    npy.extend_from_slice(&std::fs::read(f.path("good.npy")).unwrap());
    let at = npy.windows(3).position(|w| w == b"<f4").unwrap();
    let mut f8 = npy.clone();
    f8[at + 2] = b'8';
    std::fs::write(f.path("f8.npy"), f8).unwrap();
    let err = fails(
        1,
        &[&"insert", &"--index", &index, &"--input", &f.path("f8.npy")],
    );
    assert!(err.contains("'<f8'") && err.contains("f8.npy"), "{err}");
    for cut in [0, 5, 9, 20, 127, 128, npy.len() - 1] {
        std::fs::write(f.path("cut.npy"), &npy[..cut]).unwrap();
        let err = fails(
            1,
            &[
                &"insert",
                &"--index",
                &index,
                &"--input",
                &f.path("cut.npy"),
            ],
        );
        assert!(err.contains("cut.npy"), "{err}");
    }
    write_raw(&f.path("odd.f32"), &[1.0; 12]);
    let err = fails(
        1,
        &[
            &"insert",
            &"--index",
            &index,
            &"--input",
            &f.path("odd.f32"),
            &"--dim",
            &"8",
        ],
    );
    assert!(err.contains("left over"), "{err}");
    std::fs::write(f.path("v.csv"), "1,2,3").unwrap();
    let err = fails(
        1,
        &[&"insert", &"--index", &index, &"--input", &f.path("v.csv")],
    );
    assert!(err.contains(".fvecs"), "{err}");
    let mut nan = f.base[..16].to_vec();
    nan[11] = f32::NAN;
    write_fvecs(f.path("nan.fvecs"), &nan, 8).unwrap();
    let err = fails(
        1,
        &[
            &"insert",
            &"--index",
            &index,
            &"--input",
            &f.path("nan.fvecs"),
        ],
    );
    assert!(err.contains("row 1 column 3 is NaN"), "{err}");
    write_fvecs(f.path("zero.fvecs"), &[0.0; 8], 8).unwrap();
    let cosine = f.build("cos.evec", &["--metric", "cosine"]);
    let err = fails(
        1,
        &[
            &"insert",
            &"--index",
            &cosine,
            &"--input",
            &f.path("zero.fvecs"),
        ],
    );
    assert!(
        err.contains("row 0") && err.contains("zero vector"),
        "{err}"
    );

    // Nothing above changed the index.
    assert_eq!(count(&index), 100);
    ok(&[&"verify", &"--index", &index]);
}

/// Runs the read-only commands and one writer on a damaged index: exit 1 (or 0 where the
/// damage is a torn log tail), never a panic. Returns whether verify passed.
fn check_damaged(index: &Path, queries: &Path, writers: bool) -> bool {
    let mut verified = false;
    for (i, args) in [
        vec![&"verify" as &dyn AsRef<std::ffi::OsStr>, &"--index", &index],
        vec![&"info", &"--index", &index],
        vec![
            &"search",
            &"--index",
            &index,
            &"--queries",
            &queries,
            &"--k",
            &"3",
        ],
    ]
    .into_iter()
    .enumerate()
    {
        let out = edgevec(&args);
        match out.status.code() {
            Some(0) => verified |= i == 0,
            Some(1) => {
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(err.contains("d.evec"), "{}", describe(&args, &out));
            }
            _ => panic!("{}", describe(&args, &out)),
        }
    }
    if writers {
        for args in [
            vec![
                &"insert" as &dyn AsRef<std::ffi::OsStr>,
                &"--index",
                &index,
                &"--input",
                &queries,
            ],
            vec![&"compact", &"--index", &index],
        ] {
            let out = edgevec(&args);
            assert!(
                matches!(out.status.code(), Some(0 | 1)),
                "{}",
                describe(&args, &out)
            );
        }
    }
    verified
}

#[test]
fn damaged_index_files_are_reported_never_a_panic() {
    let f = Fixture::new(120, 8, 23);
    let index = f.build("i.evec", &[]);
    let good = std::fs::read(&index).unwrap();
    let len = good.len();
    let damaged = f.path("d.evec");
    let queries = f.path("base.fvecs");

    let mut cuts = vec![0, 1, 7, 8, 12, 40, 63, 64, 65, 100, 200];
    cuts.extend([
        len / 4,
        len / 3,
        len / 2,
        len - 100,
        len - 64,
        len - 40,
        len - 1,
    ]);
    for (i, cut) in cuts.into_iter().enumerate() {
        std::fs::write(&damaged, &good[..cut]).unwrap();
        let _ = std::fs::remove_file(f.path("d.evec.wal"));
        assert!(
            !check_damaged(&damaged, &queries, i % 4 == 0),
            "cut at {cut} verified"
        );
    }
    let mut rng = Rng(99);
    let mut offsets: Vec<usize> = (0..64).step_by(5).collect();
    offsets.extend((0..48).map(|i| i * len / 48 + rng.below(len as u64 / 48) as usize));
    offsets.extend((len - 48..len).step_by(7));
    for (i, at) in offsets.into_iter().enumerate() {
        let mut bytes = good.clone();
        bytes[at] ^= 1 << rng.below(8);
        std::fs::write(&damaged, &bytes).unwrap();
        let _ = std::fs::remove_file(f.path("d.evec.wal"));
        assert!(
            !check_damaged(&damaged, &queries, i % 8 == 0),
            "flip at {at} verified"
        );
    }
    // The good file is still good, and so is a copy of it without its log.
    std::fs::write(&damaged, &good).unwrap();
    let _ = std::fs::remove_file(f.path("d.evec.wal"));
    assert!(check_damaged(&damaged, &queries, false));
}

#[test]
fn damaged_logs_lose_a_suffix_of_changes_never_a_panic() {
    let f = Fixture::new(100, 8, 29);
    let index = f.build("d.evec", &[]);
    let wal = f.path("d.evec.wal");
    write_fvecs(f.path("five.fvecs"), &f.base[..5 * 8], 8).unwrap();
    let mut counts = vec![100];
    for _ in 0..4 {
        ok(&[
            &"insert",
            &"--index",
            &index,
            &"--input",
            &f.path("five.fvecs"),
        ]);
        counts.push(counts.last().unwrap() + 5);
    }
    assert_eq!(count(&index), 120);
    let snapshot = std::fs::read(&index).unwrap();
    let log = std::fs::read(&wal).unwrap();
    let mut rng = Rng(7);
    let mut damage: Vec<Vec<u8>> = [0, 10, 39, 40, 41, 64, log.len() / 2, log.len() - 1]
        .iter()
        .map(|cut| log[..*cut].to_vec())
        .collect();
    for _ in 0..24 {
        let mut bytes = log.clone();
        bytes[rng.below(log.len() as u64) as usize] ^= 1 << rng.below(8);
        damage.push(bytes);
    }
    for (i, bytes) in damage.into_iter().enumerate() {
        std::fs::write(&index, &snapshot).unwrap();
        std::fs::write(&wal, &bytes).unwrap();
        if check_damaged(&index, &f.path("five.fvecs"), false) {
            let n = count(&index);
            assert!(counts.contains(&n), "damage {i}: count {n}");
        }
        if i % 4 == 0 {
            // A writer cuts a torn tail or refuses; afterwards the files verify or still fail.
            let args: [&dyn AsRef<std::ffi::OsStr>; 5] = [
                &"insert",
                &"--index",
                &index,
                &"--input",
                &f.path("five.fvecs"),
            ];
            let out = edgevec(&args);
            assert!(
                matches!(out.status.code(), Some(0 | 1)),
                "{}",
                describe(&args, &out)
            );
        }
    }
}

#[test]
fn a_killed_insert_leaves_the_state_of_a_prefix_of_the_commands() {
    let f = Fixture::new(300, 16, 31);
    let index = f.build("i.evec", &["--m", "8", "--ef-construction", "40"]);
    // Big enough batches that the log soon outgrows the snapshot, so kills also land in
    // checkpoints.
    let rows = 150;
    let extra = clustered(32, rows, 16, 8, 0.3, 1e9);
    write_fvecs(f.path("batch.fvecs"), &extra, 16).unwrap();
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_edgevec"))
            .args(["insert", "--index"])
            .arg(&index)
            .arg("--input")
            .arg(f.path("batch.fvecs"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };

    // How long one insert takes here (the slowest of three, which includes a checkpoint).
    let mut typical = Duration::from_millis(2);
    for _ in 0..3 {
        let start = Instant::now();
        let out = spawn().wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        typical = typical.max(start.elapsed());
    }
    let mut expected = 300 + 3 * rows as u64;
    assert_eq!(count(&index), expected);

    // Kill times sweep the whole command (and a little past it), with seeded jitter.
    let mut rng = Rng(2024);
    let rounds = 36;
    let (mut landed, mut lost) = (0, 0);
    for round in 0..rounds {
        let mut child = spawn();
        let jitter = 0.9 + rng.below(200) as f64 / 1000.0;
        let wait = typical.mul_f64(2.5 * round as f64 / rounds as f64 * jitter);
        std::thread::sleep(wait);
        let _ = child.kill();
        let status = child.wait().unwrap();
        assert_ne!(status.code(), Some(101), "round {round}");
        let verify = edgevec(&[&"verify", &"--index", &index]);
        assert_eq!(
            verify.status.code(),
            Some(0),
            "round {round}: {}",
            String::from_utf8_lossy(&verify.stderr)
        );
        let n = count(&index);
        assert!(
            n == expected || n == expected + rows as u64,
            "round {round}: count {n}, expected {expected} or {}",
            expected + rows as u64
        );
        if n == expected {
            lost += 1;
        } else {
            landed += 1;
        }
        expected = n;
    }
    eprintln!("killed inserts: {landed} landed, {lost} lost (one insert takes {typical:?})");
    // Both outcomes happened (the kill times spread over the whole command).
    assert!(landed > 0 && lost > 0, "landed {landed}, lost {lost}");

    // The index still takes changes and every stored row is found.
    ok(&[
        &"insert",
        &"--index",
        &index,
        &"--input",
        &f.path("batch.fvecs"),
    ]);
    assert_eq!(count(&index), expected + rows as u64);
    ok(&[&"verify", &"--index", &index]);
}

#[test]
fn concurrent_writers_take_turns() {
    let f = Fixture::new(200, 8, 41);
    let index = f.build("i.evec", &["--m", "8", "--ef-construction", "40"]);
    write_fvecs(f.path("batch.fvecs"), &f.base[..50 * 8], 8).unwrap();
    let children: Vec<_> = (0..4)
        .map(|i| {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_edgevec"));
            if i == 3 {
                cmd.args(["delete", "--ids", "1,2,3", "--index"])
                    .arg(&index);
            } else {
                cmd.args(["insert", "--input"])
                    .arg(f.path("batch.fvecs"))
                    .arg("--index")
                    .arg(&index);
            }
            cmd.stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let searches: Vec<_> = (0..2)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_edgevec"))
                .args(["search", "--k", "3", "--queries"])
                .arg(f.path("batch.fvecs"))
                .arg("--index")
                .arg(&index)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    for child in searches {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Every acknowledged change is there.
    assert_eq!(count(&index), 200 + 3 * 50 - 3);
    ok(&[&"verify", &"--index", &index]);
}

#[test]
fn progress_is_quiet_when_stderr_is_not_a_terminal() {
    let f = Fixture::new(50, 4, 37);
    let index = f.path("i.evec");
    let out = edgevec(&[
        &"build",
        &"--input",
        &f.path("base.fvecs"),
        &"--output",
        &index,
    ]);
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = edgevec(&[
        &"insert",
        &"--index",
        &index,
        &"--input",
        &f.path("base.fvecs"),
    ]);
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn demo_runs_and_checks_itself() {
    let out = ok(&[&"demo", &"--vectors", &"2000", &"--queries", &"40"]);
    assert!(out.contains("recall@10"), "{out}");
    assert!(out.contains("same 40 answers: true"), "{out}");
    assert!(out.contains("query 0's nearest: true"), "{out}");
}
