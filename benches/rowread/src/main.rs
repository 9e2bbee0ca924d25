//! What one rescored row costs, read each way a quantized index could read it.
//!
//! ```sh
//! cargo run --release --manifest-path benches/rowread/Cargo.toml -- [--rows 100000]
//!     [--row-bytes 1536] [--batch 20] [--batches 50000] [--dir DIR]
//! ```
//!
//! Writes a file of `rows` random rows (`row-bytes` each: 1,536 is a 384-d f32 row) under
//! `--dir` (default: the system's temporary directory), reads it once so that it is in the page
//! cache, then reads `batches` × `batch` rows at random slots (a query rescoring `batch`
//! candidates), the same slots each way:
//!
//! - `pread`: one positioned read per row into a buffer (what `edgevec` does for rows left in
//!   the file);
//! - `io_uring`: the batch's reads submitted together, one system call per batch (registered
//!   file, single issuer, deferred task work);
//! - `mmap`: the row copied out of a read-only map of the file (its pages touched before the
//!   timing, as a long-running process would have them; they count in the resident set);
//! - `memory`: the row copied out of a `Vec` (what `Index::load_rows` gives);
//!
//! and, for scale, a system call that does nothing (`getppid`). Linux only.

use std::fs::File;
use std::io::Write as _;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::time::Instant;

struct Args {
    rows: u64,
    row_bytes: usize,
    batch: usize,
    batches: usize,
    dir: std::path::PathBuf,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        rows: 100_000,
        row_bytes: 1536,
        batch: 20,
        batches: 50_000,
        dir: std::env::temp_dir(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = |v: &str| v.parse::<u64>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--rows" => a.rows = num(&value)?,
            "--row-bytes" => a.row_bytes = num(&value)? as usize,
            "--batch" => a.batch = num(&value)? as usize,
            "--batches" => a.batches = num(&value)? as usize,
            "--dir" => a.dir = value.into(),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if a.rows == 0 || a.row_bytes == 0 || a.batch == 0 || a.batches == 0 {
        return Err("every count must be at least 1".into());
    }
    Ok(a)
}

/// xorshift64: the same slots for every method.
fn slots(n: usize, rows: u64) -> Vec<u64> {
    let mut x = 0x9E37_79B9_7F4A_7C15_u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % rows
        })
        .collect()
}

/// Runs `f` three times, returns the best time per row in µs.
fn best(rows: usize, mut f: impl FnMut() -> u64) -> (f64, u64) {
    let mut best = f64::MAX;
    let mut check = 0;
    for _ in 0..3 {
        let t = Instant::now();
        check = f();
        best = best.min(t.elapsed().as_secs_f64() * 1e6 / rows as f64);
    }
    (best, check)
}

fn main() -> Result<(), String> {
    let a = args()?;
    let bytes = a.rows as usize * a.row_bytes;
    let path = a.dir.join(format!("rowread-{}.bin", std::process::id()));
    let mut data = vec![0u8; bytes];
    let mut x = 1_u64;
    for b in &mut data {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *b = (x >> 56) as u8;
    }
    let mut file = File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(&data).map_err(|e| e.to_string())?;
    drop(file);
    let file = File::open(&path).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&path);
    let n = a.batch * a.batches;
    let at = slots(n, a.rows);
    let rb = a.row_bytes;
    let mut buf = vec![0u8; rb * a.batch];
    // Into the page cache.
    let mut warm = vec![0u8; 1 << 20];
    let mut off = 0;
    while off < bytes as u64 {
        let len = warm.len().min(bytes - off as usize);
        file.read_exact_at(&mut warm[..len], off)
            .map_err(|e| e.to_string())?;
        off += len as u64;
    }

    let mut results: Vec<(&str, f64)> = Vec::new();
    let (t, _) = best(n, || {
        for _ in 0..n {
            // SAFETY: getppid takes no arguments and cannot fail.
            unsafe { libc::getppid() };
        }
        0
    });
    results.push(("a system call that does nothing (getppid)", t));

    let (t, c1) = best(n, || {
        let mut sum = 0u64;
        for b in at.chunks(a.batch) {
            for (i, &s) in b.iter().enumerate() {
                let out = &mut buf[i * rb..(i + 1) * rb];
                file.read_exact_at(out, s * rb as u64).expect("pread");
                sum += u64::from(out[0]);
            }
        }
        sum
    });
    results.push(("pread, one per row", t));

    let ring: std::io::Result<io_uring::IoUring> = io_uring::IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_coop_taskrun()
        .build((a.batch as u32).next_power_of_two());
    match ring {
        Ok(mut ring) => {
            ring.submitter()
                .register_files(&[file.as_raw_fd()])
                .map_err(|e| format!("io_uring register_files: {e}"))?;
            let (t, c2) = best(n, || {
                let mut sum = 0u64;
                for b in at.chunks(a.batch) {
                    {
                        let mut sq = ring.submission();
                        for (i, &s) in b.iter().enumerate() {
                            let read = io_uring::opcode::Read::new(
                                io_uring::types::Fixed(0),
                                buf[i * rb..].as_mut_ptr(),
                                rb as u32,
                            )
                            .offset(s * rb as u64)
                            .build();
                            // SAFETY: `buf` outlives the read (we wait for every completion
                            // below before touching it) and the queue holds `batch` entries.
                            unsafe { sq.push(&read).expect("submission queue full") };
                        }
                    }
                    ring.submit_and_wait(b.len()).expect("io_uring submit");
                    for c in ring.completion() {
                        assert_eq!(c.result(), rb as i32, "a short or failed read");
                    }
                    for i in 0..b.len() {
                        sum += u64::from(buf[i * rb]);
                    }
                }
                sum
            });
            assert_eq!(c1, c2, "io_uring read other bytes than pread");
            results.push(("io_uring, one submission per batch", t));
        }
        Err(e) => eprintln!("io_uring unavailable here ({e}); skipped"),
    }

    // SAFETY: the file is ours and nobody changes it while mapped.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| e.to_string())?;
    let touched: u64 = map.iter().step_by(4096).map(|&b| u64::from(b)).sum();
    // Copies each batch's rows out of `src` (the map, or the rows in memory).
    let mut copy_from = |src: &[u8]| {
        let mut sum = 0u64;
        for b in at.chunks(a.batch) {
            for (i, &s) in b.iter().enumerate() {
                let s = s as usize * rb;
                buf[i * rb..(i + 1) * rb].copy_from_slice(&src[s..s + rb]);
                sum += u64::from(buf[i * rb]);
            }
        }
        sum
    };
    let (t, c3) = best(n, || copy_from(&map));
    assert_eq!(c1, c3);
    results.push(("copy from a memory map (pages already mapped)", t));

    let (t, c4) = best(n, || copy_from(&data));
    assert_eq!(c1, c4);
    results.push(("copy from memory (rows in RAM)", t));

    println!(
        "{} rows of {} B ({:.0} MB, in the page cache), {} batches of {} random rows; \
         best of 3 (checksum {touched}):\n",
        a.rows,
        rb,
        bytes as f64 / 1e6,
        a.batches,
        a.batch
    );
    println!("| read | µs per row |\n|---|---:|");
    for (what, t) in results {
        println!("| {what} | {t:.3} |");
    }
    Ok(())
}
