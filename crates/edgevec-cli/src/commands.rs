//! The subcommands that work on index files.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use edgevec::graph::GraphError;
use edgevec::storage::FileBackend;
use edgevec::{Index, Metric, Neighbor, Quantization, SearchParams};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde_json::json;

use crate::error::{CliError, Result};
use crate::input::{Vectors, read_vectors};

/// How `build` splits its input into `insert_batch` calls so that the progress bar moves:
/// about 50 batches of 2,048 to 65,536 rows. A quantized index trains its codec on the batch
/// that reaches its train size (1,024 by default), so its first batch is as large as the
/// facade's training sample (65,536 rows) to train on as much data as one batch would.
fn build_batches(n: usize, quantization: Quantization) -> (usize, usize) {
    let batch = (n / 50).clamp(2_048, 65_536);
    let first = match quantization {
        Quantization::None => batch,
        _ => batch.max(65_536),
    };
    (first, batch)
}

/// Writes one JSON object, its fields in the order given, as a line on stdout.
pub(crate) fn print_json(fields: &[(&str, serde_json::Value)]) -> Result<()> {
    let body: Vec<String> = fields
        .iter()
        .map(|(key, value)| format!("{}:{value}", serde_json::Value::from(*key)))
        .collect();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{{{}}}", body.join(","))
        .and_then(|()| out.flush())
        .map_err(|e| CliError::new(format!("cannot write to stdout: {e}")))
}

/// Runs `f` until it does not fail with "locked": another process is writing the index (the
/// facade allows one writer per index, through `INDEX.lock`), so writers take turns. A note
/// goes to stderr once, when the wait starts.
fn when_unlocked<T>(
    path: &Path,
    mut f: impl FnMut() -> std::result::Result<T, edgevec::Error>,
) -> Result<T> {
    let mut noted = false;
    loop {
        match f() {
            Err(edgevec::Error::Storage(edgevec::storage::StorageError::Locked { .. })) => {
                if !noted {
                    let _ = writeln!(
                        std::io::stderr(),
                        "edgevec: note: waiting for another process writing {} to finish",
                        path.display()
                    );
                    noted = true;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other.map_err(|e| CliError::index(path, &e)),
        }
    }
}

/// Opens the index at `path` for a command that changes it.
///
/// The one place that decides how a mutating command opens its index: `Index::open` takes the
/// index's writer lock, attaches the write-ahead log (`INDEX.wal`), replays it (cutting a tail
/// torn by a crash), and from then on every change is logged and synced before its call
/// returns.
fn open_for_update(path: &Path) -> Result<Index> {
    when_unlocked(path, || Index::open(path))
}

/// Opens the index at `path` for reading: the log is replayed in memory, nothing is written
/// and no lock is taken (a concurrent checkpoint is handled by the facade).
fn open_for_reading(path: &Path) -> Result<Index> {
    Index::open_read_only(path).map_err(|e| CliError::index(path, &e))
}

/// When a command must fold the write-ahead log into a new snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checkpoint {
    /// Only when the log has grown larger than the snapshot (reopening stays fast and the
    /// files stay within twice the snapshot's size).
    IfLogLarge,
    /// Always (after compaction, so that the file shrinks).
    Always,
}

/// Makes the command's changes to `index` durable before the command returns.
///
/// The one place that decides it. Each change of an attached index is one log record, synced
/// when its call returns (`Durability::EveryOp`), so a process killed at any moment leaves the
/// state before or after that change; `flush` covers a weaker durability setting. A checkpoint
/// (new snapshot by atomic replace, then an empty log) is crash-safe at every step.
fn make_durable(index: &mut Index, path: &Path, checkpoint: Checkpoint) -> Result<()> {
    index.flush().map_err(|e| CliError::index(path, &e))?;
    let due = match checkpoint {
        Checkpoint::Always => true,
        Checkpoint::IfLogLarge => {
            let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            size(&log_path(path)) > size(path)
        }
    };
    if due {
        index.checkpoint().map_err(|e| CliError::index(path, &e))?;
    }
    Ok(())
}

/// The write-ahead log beside the snapshot at `path` (`path` + `.wal`).
fn log_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(edgevec::storage::journal::LOG_SUFFIX);
    PathBuf::from(name)
}

/// One past the largest live id of `index`, 0 for an empty index: the default first id of
/// `insert`.
///
/// The facade has no max-id accessor, so this scans `Index::ids()` (one `Vec<u64>` of the
/// live ids); swap the body for the accessor when there is one.
fn next_free_id(path: &Path, index: &Index) -> Result<u64> {
    match index.ids().into_iter().max() {
        None => Ok(0),
        Some(max) => max.checked_add(1).ok_or_else(|| {
            CliError::new(format!(
                "{}: the index holds id {max}, the largest possible; give --start-id",
                path.display()
            ))
        }),
    }
}

/// A progress bar on stderr when it is a terminal; hidden otherwise.
fn progress(total: usize, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} {msg} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} vectors, eta \
         {eta}",
    ) {
        bar.set_style(style);
    }
    bar.set_message(what.to_owned());
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// Inserts `vectors` under `ids`: a first batch of `first` rows, then batches of `batch`
/// rows (so that the progress bar moves), naming the input file's row in errors.
fn insert_rows(
    index: &mut Index,
    ids: &[u64],
    vectors: &Vectors,
    (first, batch): (usize, usize),
    file: &Path,
    what: &str,
) -> Result<()> {
    let dim = vectors.dim;
    let bar = progress(ids.len(), what);
    let mut start = 0;
    while start < ids.len() {
        let size = if start == 0 { first } else { batch }.max(1);
        let end = ids.len().min(start.saturating_add(size));
        let rows = &vectors.values[start * dim..end * dim];
        if let Err(e) = index.insert_batch(&ids[start..end], rows) {
            bar.abandon();
            return Err(row_error(file, start, end - start, &e));
        }
        start = end;
        bar.set_position(start as u64);
    }
    bar.finish_and_clear();
    Ok(())
}

/// An insertion error, with the batch row translated to the input file's row (a one-row
/// batch reports the row's own error).
fn row_error(file: &Path, offset: usize, rows: usize, e: &edgevec::Error) -> CliError {
    match e {
        edgevec::Error::Graph(GraphError::BatchItem { index, source }) => CliError::new(format!(
            "{}: row {}: {source}",
            file.display(),
            offset + index
        )),
        edgevec::Error::Graph(_) if rows == 1 => {
            CliError::new(format!("{}: row {offset}: {e}", file.display()))
        }
        _ => CliError::new(format!("{}: {e}", file.display())),
    }
}

fn check_dimensions(
    index: &Index,
    index_path: &Path,
    vectors: &Vectors,
    file: &Path,
) -> Result<()> {
    if vectors.dim != index.dimensions() {
        return Err(CliError::new(format!(
            "{}: the vectors have {} dimensions but the index {} holds {}-dimensional vectors",
            file.display(),
            vectors.dim,
            index_path.display(),
            index.dimensions()
        )));
    }
    Ok(())
}

/// Options of `build`.
#[derive(Debug)]
pub(crate) struct BuildOptions {
    pub(crate) input: PathBuf,
    pub(crate) output: PathBuf,
    pub(crate) dim: Option<usize>,
    pub(crate) metric: Metric,
    pub(crate) m: usize,
    pub(crate) ef_construction: usize,
    pub(crate) quantization: Quantization,
    pub(crate) threads: usize,
    pub(crate) seed: Option<u64>,
}

/// `edgevec build`: reads the input, builds the index (row i gets id i) and saves it.
pub(crate) fn build(o: &BuildOptions) -> Result<()> {
    let vectors = read_vectors(&o.input, o.dim)?;
    let mut builder = Index::builder()
        .dimensions(vectors.dim)
        .metric(o.metric)
        .quantization(o.quantization)
        .m(o.m)
        .ef_construction(o.ef_construction)
        .threads(o.threads);
    if let Some(seed) = o.seed {
        builder = builder.seed(seed);
    }
    let mut index = builder
        .build()
        .map_err(|e| CliError::new(format!("cannot create the index: {e}")))?;
    let n = vectors.rows();
    let ids: Vec<u64> = (0..n as u64).collect();
    let start = Instant::now();
    let batches = build_batches(n, o.quantization);
    insert_rows(&mut index, &ids, &vectors, batches, &o.input, "building")?;
    let build_seconds = start.elapsed().as_secs_f64();
    let file_bytes = when_unlocked(&o.output, || index.save(&o.output))?;
    print_json(&[
        ("vectors", json!(n)),
        ("dimensions", json!(vectors.dim)),
        ("build_seconds", json!(build_seconds)),
        ("file_bytes", json!(file_bytes)),
    ])
}

/// Options of `search`.
#[derive(Debug)]
pub(crate) struct SearchOptions {
    pub(crate) index: PathBuf,
    pub(crate) queries: PathBuf,
    pub(crate) dim: Option<usize>,
    pub(crate) k: usize,
    pub(crate) ef: Option<usize>,
    pub(crate) oversample: Option<f32>,
    pub(crate) rows_in_memory: bool,
    pub(crate) threads: usize,
    pub(crate) output: Option<PathBuf>,
}

/// `edgevec search`: answers every query, times only the searching, optionally writes the ids
/// as `.ivecs`.
pub(crate) fn search(o: &SearchOptions) -> Result<()> {
    if o.output.is_some() {
        ivecs_row_len(o.k)?;
    }
    // Refused before the index is opened, naming the flag (the index would refuse it per query).
    if let Some(f) = o.oversample {
        edgevec::checked_oversample(f)
            .map_err(|e| CliError::new(format!("--oversample {f}: {e}")))?;
    }
    let mut index = open_for_reading(&o.index)?;
    if o.rows_in_memory {
        index
            .load_rows()
            .map_err(|e| CliError::new(format!("{}: reading its rows: {e}", o.index.display())))?;
    }
    let queries = read_vectors(&o.queries, o.dim)?;
    check_dimensions(&index, &o.index, &queries, &o.queries)?;
    let ef = o.ef.unwrap_or(index.params().ef_search);
    let oversample = o.oversample.unwrap_or(index.oversample());
    let params = SearchParams::new(o.k).ef(ef).oversample(oversample);
    let one = |q: &[f32]| index.search_with(q, params);
    // More threads than queries would only idle.
    let threads = o.threads.min(queries.rows());
    let pool = if threads > 1 {
        Some(
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .map_err(|e| CliError::new(format!("cannot start {threads} threads: {e}")))?,
        )
    } else {
        None
    };
    let rows = queries.values.chunks_exact(queries.dim);
    let start = Instant::now();
    let results: Vec<std::result::Result<Vec<Neighbor>, edgevec::Error>> = match &pool {
        Some(pool) => pool.install(|| {
            queries
                .values
                .par_chunks_exact(queries.dim)
                .map(&one)
                .collect()
        }),
        None => rows.map(&one).collect(),
    };
    let search_seconds = start.elapsed().as_secs_f64();
    // Measured here, with the index open and every answer held: what serving costs.
    let (rss, peak_rss) = (proc_status_bytes("VmRSS:"), proc_status_bytes("VmHWM:"));
    let n = queries.rows();
    let mut hits = Vec::with_capacity(n);
    for (q, r) in results.into_iter().enumerate() {
        hits.push(
            r.map_err(|e| CliError::new(format!("{}: query {q}: {e}", o.queries.display())))?,
        );
    }
    if let Some(out) = &o.output {
        write_ivecs(out, &hits, o.k)?;
    }
    print_json(&[
        ("queries", json!(n)),
        ("k", json!(o.k)),
        ("ef", json!(ef)),
        // The factor as the index keeps it (three decimals), not its f32 expansion.
        (
            "oversample",
            json!(edgevec::quant::thousandths(oversample) as f64 / 1000.0),
        ),
        ("rows_in_memory", json!(o.rows_in_memory)),
        ("threads", json!(o.threads)),
        ("search_seconds", json!(search_seconds)),
        (
            "qps",
            json!(if search_seconds > 0.0 {
                n as f64 / search_seconds
            } else {
                0.0
            }),
        ),
        ("rss_bytes", json!(rss)),
        ("peak_rss_bytes", json!(peak_rss)),
    ])
}

/// A size line of `/proc/self/status` (`VmRSS:`, `VmHWM:`) in bytes; `None` where there is no
/// such file (not Linux) or no such line.
fn proc_status_bytes(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(kb * 1024)
}

/// The row length of an `.ivecs` file with `k` ids per row.
fn ivecs_row_len(k: usize) -> Result<i32> {
    i32::try_from(k).map_err(|_| {
        CliError::new(format!(
            "k = {k} does not fit in the 32-bit row length of an .ivecs file"
        ))
    })
}

/// Writes `k` ids per query as `.ivecs` (an i32 count, then the ids), `-1` where a query has
/// fewer than `k` results. Every id is checked before the file is created.
fn write_ivecs(path: &Path, hits: &[Vec<Neighbor>], k: usize) -> Result<()> {
    let k32 = ivecs_row_len(k)?;
    for (q, row) in hits.iter().enumerate() {
        if let Some(hit) = row.iter().find(|h| i32::try_from(h.id).is_err()) {
            return Err(CliError::new(format!(
                "query {q}: id {} does not fit in the 32-bit signed ids of an .ivecs file; omit \
                 --output for indexes with larger ids",
                hit.id
            )));
        }
    }
    let file = std::fs::File::create(path).map_err(|e| CliError::io(path, "cannot create", &e))?;
    let mut out = std::io::BufWriter::new(file);
    let mut write = || -> std::io::Result<()> {
        for row in hits {
            out.write_all(&k32.to_le_bytes())?;
            for slot in 0..k {
                let id = row
                    .get(slot)
                    .and_then(|h| i32::try_from(h.id).ok())
                    .unwrap_or(-1);
                out.write_all(&id.to_le_bytes())?;
            }
        }
        out.flush()
    };
    write().map_err(|e| CliError::io(path, "cannot write", &e))
}

/// `edgevec insert`: adds the file's rows under `start_id + i` and makes the change durable.
///
/// The rows go in as one batch, which is one log record: a process killed at any moment
/// leaves all of them or none.
pub(crate) fn insert(
    path: &Path,
    input: &Path,
    dim: Option<usize>,
    start_id: Option<u64>,
) -> Result<()> {
    let vectors = read_vectors(input, dim)?;
    let mut index = open_for_update(path)?;
    check_dimensions(&index, path, &vectors, input)?;
    let n = vectors.rows();
    let first = match start_id {
        Some(id) => id,
        None => next_free_id(path, &index)?,
    };
    let last = first.checked_add(n as u64 - 1).ok_or_else(|| {
        CliError::new(format!(
            "{n} ids starting at {first} go past the largest id {}",
            u64::MAX
        ))
    })?;
    let ids: Vec<u64> = (first..=last).collect();
    insert_rows(&mut index, &ids, &vectors, (n, n), input, "inserting")?;
    make_durable(&mut index, path, Checkpoint::IfLogLarge)?;
    print_json(&[
        ("inserted", json!(n)),
        ("first_id", json!(first)),
        ("last_id", json!(last)),
        ("count", json!(index.len())),
    ])
}

/// `edgevec delete`: tombstones `ids` (one log record) and makes the change durable.
pub(crate) fn delete(path: &Path, ids: &[u64]) -> Result<()> {
    let mut index = open_for_update(path)?;
    let mut unique = ids.to_vec();
    unique.sort_unstable();
    unique.dedup();
    let absent: Vec<u64> = unique
        .iter()
        .copied()
        .filter(|id| !index.contains(*id))
        .collect();
    let deleted = index
        .delete_batch(&unique)
        .map_err(|e| CliError::index(path, &e))?;
    make_durable(&mut index, path, Checkpoint::IfLogLarge)?;
    if let Some(first) = absent.first() {
        let _ = writeln!(
            std::io::stderr(),
            "edgevec: note: {} of the ids were not in the index (the smallest: {first})",
            absent.len()
        );
    }
    print_json(&[
        ("deleted", json!(deleted)),
        ("not_found", json!(absent.len())),
        ("count", json!(index.len())),
    ])
}

/// `edgevec compact`: removes tombstones and writes a new snapshot.
pub(crate) fn compact(path: &Path) -> Result<()> {
    let mut index = open_for_update(path)?;
    let removed = index.compact().map_err(|e| CliError::index(path, &e))?;
    make_durable(&mut index, path, Checkpoint::Always)?;
    print_json(&[("removed", json!(removed)), ("count", json!(index.len()))])
}

/// Checks every checksum and padding byte of the snapshot (bounded memory), returning its
/// summary.
fn verify_file(path: &Path) -> Result<edgevec::storage::FileSummary> {
    let backend =
        FileBackend::open_read_only(path).map_err(|e| CliError::io(path, "cannot open", &e))?;
    edgevec::storage::verify(&backend)
        .map_err(|e| CliError::new(format!("{}: damaged index file: {e}", path.display())))
}

/// The write-ahead log's size in bytes (0 when there is none).
fn log_bytes(path: &Path) -> u64 {
    std::fs::metadata(log_path(path))
        .map(|m| m.len())
        .unwrap_or(0)
}

/// `edgevec info`: parameters and counts as one JSON object.
pub(crate) fn info(path: &Path) -> Result<()> {
    let summary = verify_file(path)?;
    let index = open_for_reading(path)?;
    let params = index.params();
    let replayed = index.recovery_report().map_or(0, |r| r.records_replayed);
    let stats = index.stats();
    print_json(&[
        ("count", json!(index.len())),
        ("deleted", json!(index.deleted_len())),
        ("dimensions", json!(index.dimensions())),
        ("metric", json!(index.metric().name())),
        ("quantization", json!(index.quantization().name())),
        ("m", json!(params.m)),
        ("ef_construction", json!(params.ef_construction)),
        ("format_version", json!(summary.version.to_string())),
        ("file_bytes", json!(summary.len)),
        ("ef_search", json!(params.ef_search)),
        ("log_bytes", json!(log_bytes(path))),
        ("log_records", json!(replayed)),
        // What the open index holds in memory, by part (allocated bytes).
        ("vector_bytes", json!(stats.vector_bytes)),
        ("file_vector_bytes", json!(stats.file_vector_bytes)),
        ("code_bytes", json!(stats.code_bytes)),
        ("graph_bytes", json!(stats.graph_bytes)),
        ("id_bytes", json!(stats.id_bytes)),
    ])
}

fn records(n: u64) -> String {
    format!("{n} record{}", if n == 1 { "" } else { "s" })
}

/// `edgevec verify`: every checksum of the snapshot, then a full read-only open (every field,
/// and the write-ahead log replayed) so that inconsistent contents behind valid checksums
/// are caught too.
pub(crate) fn verify(path: &Path) -> Result<()> {
    let summary = verify_file(path)?;
    let index = Index::open_read_only(path)
        .map_err(|e| CliError::new(format!("{}: damaged index: {e}", path.display())))?;
    let log = match index.recovery_report() {
        Some(r) if r.bytes_discarded > 0 => format!(
            "; log: {}, a torn tail of {} bytes ({}) that the next write will cut",
            records(r.records_replayed),
            r.bytes_discarded,
            match r.tail {
                Some(edgevec::storage::TailDefect::Incomplete) => "incomplete record",
                Some(edgevec::storage::TailDefect::ChecksumMismatch) => "checksum mismatch",
                _ => "unreadable",
            }
        ),
        Some(r) => format!("; log: {}", records(r.records_replayed)),
        None => String::new(),
    };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}: ok (format {}, {} bytes, {} sections; {} vectors, {} deleted, {} dimensions{log})",
        path.display(),
        summary.version,
        summary.len,
        summary.sections.len(),
        index.len(),
        index.deleted_len(),
        index.dimensions()
    )
    .and_then(|()| out.flush())
    .map_err(|e| CliError::new(format!("cannot write to stdout: {e}")))
}
