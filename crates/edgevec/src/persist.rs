//! Saving an [`Index`] as an `.evec` file and opening it again.
//!
//! `edgevec-storage` frames, checksums and publishes the sections atomically; this module
//! defines what the facade's sections contain (docs/FORMAT.md, "Sections of an index") and
//! checks every field on the way back in, so a file whose checksums pass but whose contents are
//! inconsistent is a typed error too, never a panic or an index with wrong data.

use std::path::Path;
use std::sync::Arc;

use edgevec_graph::{F32Store, GraphParts, Hnsw, HnswParams, Topology, VectorStore};
use edgevec_quant::{Binary, Codes, Quantizer, ScalarI8, ScalarU8};
use edgevec_simd::Metric;
use edgevec_storage::journal;
use edgevec_storage::{
    Directory, Durability, EvecFile, FsDir, Journal, LogRecord, MemBackend, Piece, RecoveryReport,
    Section, SectionKind, write_file,
};

use crate::pending::Pending;
use crate::quantized::CodeStore;
use crate::rows::Rows;
use crate::{Config, Engine, Error, Index, Quantization};

/// Version of the PARAMS payload layout written. Version 1 (still read) kept the oversampling
/// factor as a whole number; version 2 keeps it in thousandths.
const PARAMS_VERSION: u32 = 2;
/// Length of the PARAMS payload.
const PARAMS_LEN: usize = 48;
/// Fixed part of the GRAPH_ADJACENCY payload, before the per-node arrays.
const GRAPH_HEADER_LEN: usize = 32;
const NONE: u32 = u32::MAX;

fn quantization_tag(q: Quantization) -> u8 {
    match q {
        Quantization::None => 0,
        Quantization::U8 => 1,
        Quantization::I8 => 2,
        Quantization::Binary => 3,
    }
}

fn quantization_from_tag(tag: u8) -> Option<Quantization> {
    [
        Quantization::None,
        Quantization::U8,
        Quantization::I8,
        Quantization::Binary,
    ]
    .into_iter()
    .find(|q| quantization_tag(*q) == tag)
}

fn format_error(section: &'static str, reason: impl Into<String>) -> Error {
    Error::Format {
        section,
        reason: reason.into(),
    }
}

/// A little-endian reader over one section that reports short data as a format error.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    section: &'static str,
}

impl<'a> Reader<'a> {
    fn new(section: &'static str, bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            at: 0,
            section,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.bytes.len())
            .ok_or_else(|| {
                format_error(self.section, format!("ends at byte {}", self.bytes.len()))
            })?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, Error> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, Error> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }

    fn u32s(&mut self, n: usize) -> Result<Vec<u32>, Error> {
        let bytes = self.take(n.saturating_mul(4))?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    fn end(&self) -> Result<(), Error> {
        if self.at == self.bytes.len() {
            Ok(())
        } else {
            Err(format_error(
                self.section,
                format!("{} bytes left over", self.bytes.len() - self.at),
            ))
        }
    }
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn params_bytes(c: &Config, graph_built: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(PARAMS_LEN);
    put_u32(&mut out, PARAMS_VERSION);
    put_u32(&mut out, c.dim as u32);
    out.push(c.metric.tag());
    out.push(quantization_tag(c.quantization));
    out.push(u8::from(graph_built));
    out.push(0);
    put_u32(&mut out, c.params.m as u32);
    put_u32(&mut out, c.params.ef_construction as u32);
    put_u32(&mut out, c.params.ef_search as u32);
    put_u32(&mut out, crate::oversample_milli(c.oversample));
    put_u32(&mut out, c.train_size as u32);
    put_u64(&mut out, c.params.seed);
    put_u64(&mut out, 0); // reserved
    debug_assert_eq!(out.len(), PARAMS_LEN);
    out
}

/// What the PARAMS section says.
struct Params {
    config: Config,
    graph_built: bool,
}

fn read_params(bytes: &[u8]) -> Result<Params, Error> {
    let mut r = Reader::new("params", bytes);
    let version = r.u32()?;
    if !(1..=PARAMS_VERSION).contains(&version) {
        return Err(format_error(
            "params",
            format!("layout version {version}; this build reads 1 to {PARAMS_VERSION}"),
        ));
    }
    let dim = r.u32()? as usize;
    let metric_tag = r.u8()?;
    let quant_tag = r.u8()?;
    let built = r.u8()?;
    let reserved = r.u8()?;
    let m = r.u32()? as usize;
    let ef_construction = r.u32()? as usize;
    let ef_search = r.u32()? as usize;
    let oversample = match (version, r.u32()?) {
        // Layout 1's builder lifted 0 to 1 and had no upper limit: open such a file with the
        // nearest factor allowed now rather than refuse it.
        (1, whole) => (whole as f32).clamp(1.0, crate::MAX_OVERSAMPLE),
        (_, milli) => crate::oversample_from_milli(milli),
    };
    let train_size = r.u32()? as usize;
    let seed = r.u64()?;
    let reserved_tail = r.u64()?;
    r.end()?;
    let metric = Metric::from_tag(metric_tag)
        .ok_or_else(|| format_error("params", format!("unknown metric tag {metric_tag}")))?;
    let quantization = quantization_from_tag(quant_tag)
        .ok_or_else(|| format_error("params", format!("unknown quantization tag {quant_tag}")))?;
    if built > 1 || reserved != 0 || reserved_tail != 0 {
        return Err(format_error("params", "invalid flag bytes"));
    }
    // The builder's own checks decide what a valid configuration is.
    let built_index = Index::builder()
        .dimensions(dim)
        .metric(metric)
        .quantization(quantization)
        .m(m)
        .ef_construction(ef_construction)
        .ef_search(ef_search)
        .seed(seed)
        .oversample(oversample)
        .train_size(train_size)
        .build()
        .map_err(|e| format_error("params", e.to_string()))?;
    let mut config = built_index.config;
    config.threads = 0;
    Ok(Params {
        config,
        graph_built: built == 1 || quantization == Quantization::None,
    })
}

fn graph_bytes(p: &GraphParts) -> Vec<u8> {
    let n = p.levels.len();
    let mut out = Vec::with_capacity(GRAPH_HEADER_LEN + n * 13 + p.lists.len() * 4);
    put_u64(&mut out, n as u64);
    put_u32(&mut out, p.m);
    put_u32(&mut out, p.entry.unwrap_or(NONE));
    put_u64(&mut out, p.lists.len() as u64);
    put_u64(&mut out, p.rng_state);
    out.extend_from_slice(&p.levels);
    out.resize(out.len().next_multiple_of(4), 0);
    for v in p.anchors.iter().chain(&p.chains).chain(&p.lists) {
        put_u32(&mut out, *v);
    }
    out
}

fn ids_bytes(ids: &[u64]) -> Vec<u8> {
    ids.iter().flat_map(|id| id.to_le_bytes()).collect()
}

fn read_ids(bytes: &[u8], n: usize) -> Result<Vec<u64>, Error> {
    if Some(bytes.len()) != n.checked_mul(8) {
        return Err(format_error(
            "id map",
            format!("{} bytes for {n} vectors", bytes.len()),
        ));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect())
}

fn tombstone_bytes(deleted: &[bool]) -> Vec<u8> {
    let mut out = vec![0u8; deleted.len().div_ceil(8)];
    for (i, _) in deleted.iter().enumerate().filter(|(_, d)| **d) {
        out[i / 8] |= 1 << (i % 8);
    }
    out
}

fn read_tombstones(bytes: &[u8], n: usize) -> Result<Vec<bool>, Error> {
    if bytes.len() != n.div_ceil(8) {
        return Err(format_error(
            "tombstones",
            format!("{} bytes for {n} vectors", bytes.len()),
        ));
    }
    let deleted: Vec<bool> = (0..n).map(|i| bytes[i / 8] & (1 << (i % 8)) != 0).collect();
    let spare = bytes.len() * 8 - n;
    if spare > 0 && bytes[bytes.len() - 1] >> (8 - spare) != 0 {
        return Err(format_error("tombstones", "bits set past the last vector"));
    }
    Ok(deleted)
}

/// Bytes of the graph lists read per piece while streaming them ([`read_graph`]).
const GRAPH_PIECE: usize = 1 << 16;

/// The graph of section `at`, read from `file` piece by piece: the fixed part (header, levels,
/// anchors, chains) whole, then the neighbour lists streamed into the graph's own form, so the
/// section's bytes are never held whole next to the graph (on GloVe-50 u8 that overlap was
/// 43 MB of a 97 MB opening peak). A section read from the file has its checksum checked again
/// at its end ([`edgevec_storage::SectionReader::finish`]).
fn read_graph(
    file: &EvecFile,
    at: usize,
    params: HnswParams,
    ids: Vec<u64>,
    deleted: Vec<bool>,
) -> Result<Topology, Error> {
    let mut section = file.section_reader(at)?;
    let length = section.remaining();
    let short = || format_error("graph", format!("ends at byte {length}"));
    let mut head = [0u8; GRAPH_HEADER_LEN];
    if length < GRAPH_HEADER_LEN as u64 {
        return Err(short());
    }
    section.read_exact(&mut head)?;
    let mut r = Reader::new("graph", &head);
    let n64 = r.u64()?;
    let m = r.u32()?;
    let entry = r.u32()?;
    let words = r.u64()?;
    let rng_state = r.u64()?;
    let n = usize::try_from(n64).map_err(|_| format_error("graph", "node count too large"))?;
    if n != ids.len() {
        return Err(format_error(
            "graph",
            format!("{n} nodes but {} ids", ids.len()),
        ));
    }
    // Every length is checked against the section's before anything is allocated from it.
    let fixed = n.next_multiple_of(4) + 8 * n;
    let expected = u64::try_from(fixed)
        .ok()
        .zip(words.checked_mul(4))
        .and_then(|(f, w)| f.checked_add(w));
    if expected != Some(section.remaining()) {
        return Err(format_error(
            "graph",
            format!(
                "{} bytes after the header for {n} nodes and {words} list words",
                section.remaining()
            ),
        ));
    }
    let words =
        usize::try_from(words).map_err(|_| format_error("graph", "list length too large"))?;
    let mut body = vec![0u8; fixed];
    section.read_exact(&mut body)?;
    let mut r = Reader::new("graph", &body);
    let levels = r.take(n)?.to_vec();
    r.take(n.next_multiple_of(4) - n)?;
    let anchors = r.u32s(n)?;
    let chains = r.u32s(n)?;
    r.end()?;
    drop(body);
    let parts = GraphParts {
        m,
        levels,
        lists: Vec::new(),
        anchors,
        chains,
        entry: (entry != NONE).then_some(entry),
        ids,
        deleted,
        rng_state,
    };
    // The lists, a piece at a time. A read error ends the stream (the graph then reports
    // lists that end early); the read error is the one returned.
    let mut failed = None;
    let mut piece = Vec::with_capacity(GRAPH_PIECE);
    let mut next = 0;
    let mut left = words;
    let stream = std::iter::from_fn(|| {
        if next == piece.len() {
            let take = left.min(GRAPH_PIECE / 4);
            if take == 0 || failed.is_some() {
                return None;
            }
            piece.resize(take * 4, 0);
            if let Err(e) = section.read_exact(&mut piece) {
                failed = Some(e);
                return None;
            }
            left -= take;
            next = 0;
        }
        let w = &piece[next..next + 4];
        next += 4;
        Some(u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
    });
    let topology = Topology::from_streamed_parts(params, parts, words, stream);
    if let Some(e) = failed {
        return Err(e.into());
    }
    let topology = topology?;
    section.finish()?;
    Ok(topology)
}

fn check_rows(rows: &[f32], n: usize, dim: usize) -> Result<(), Error> {
    if Some(rows.len()) != n.checked_mul(dim) {
        return Err(format_error(
            "rows",
            format!("{} values for {n} vectors of {dim} dimensions", rows.len()),
        ));
    }
    Ok(())
}

/// The owned payloads of an index's sections (rows are borrowed from the index).
pub(crate) struct Payloads<'a> {
    params: Vec<u8>,
    /// The rows as pieces (rows left in an earlier snapshot, rows in memory).
    rows: Vec<Piece<'a>>,
    ids: Vec<u8>,
    graph: Option<(Vec<u8>, Vec<u8>)>,
    codec: Option<(Vec<u8>, Vec<u8>)>,
}

impl Payloads<'_> {
    pub(crate) fn sections(&self) -> Vec<Section<'_>> {
        let mut s = vec![
            Section::bytes(SectionKind::PARAMS, &self.params),
            Section::pieces(SectionKind::F32_ROWS, &self.rows),
            Section::bytes(SectionKind::ID_MAP, &self.ids),
        ];
        if let Some((graph, tombstones)) = &self.graph {
            s.push(Section::bytes(SectionKind::GRAPH_ADJACENCY, graph));
            s.push(Section::bytes(SectionKind::TOMBSTONES, tombstones));
        }
        if let Some((params, codes)) = &self.codec {
            s.push(Section::bytes(SectionKind::CODEC_PARAMS, params));
            s.push(Section::bytes(SectionKind::CODES, codes));
        }
        s
    }
}

fn graph_payloads<S: VectorStore>(g: &Hnsw<S>) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let parts = g.to_parts();
    (
        graph_bytes(&parts),
        tombstone_bytes(&parts.deleted),
        ids_bytes(&parts.ids),
    )
}

fn code_payloads<Q: Quantizer>(g: &Hnsw<CodeStore<Q>>) -> (Vec<u8>, Vec<u8>) {
    (
        g.store().quantizer().params_to_bytes(),
        g.store().codes().to_bytes(),
    )
}

impl Index {
    pub(crate) fn payloads(&self) -> Payloads<'_> {
        let c = &self.config;
        macro_rules! graph {
            ($g:expr, $rows:expr, $codec:expr) => {{
                let (graph, tombstones, ids) = graph_payloads($g);
                Payloads {
                    params: params_bytes(c, true),
                    rows: $rows,
                    ids,
                    graph: Some((graph, tombstones)),
                    codec: $codec,
                }
            }};
        }
        match &self.engine {
            Engine::Pending(p) => Payloads {
                params: params_bytes(c, false),
                rows: vec![Piece::F32(p.rows())],
                ids: ids_bytes(p.ids()),
                graph: None,
                codec: None,
            },
            Engine::F32(g) => graph!(g, vec![Piece::F32(g.store().rows())], None),
            Engine::U8(g) => graph!(g, g.store().rows(), Some(code_payloads(g))),
            Engine::I8(g) => graph!(g, g.store().rows(), Some(code_payloads(g))),
            Engine::Binary(g) => graph!(g, g.store().rows(), Some(code_payloads(g))),
        }
    }

    /// Saves a snapshot of the index to `path` atomically: a complete new file replaces the
    /// old one, or the old one stays (temp file, fsync, rename, directory fsync). Returns the
    /// file's size.
    ///
    /// When the index is attached to `path` (opened from it, or created there) this is a
    /// [`checkpoint`](Index::checkpoint). Otherwise `path` gets a new journal: any log beside
    /// it (`path` + `.wal`) is replaced by an empty one, and this index stays attached where
    /// it was, if anywhere. Saving over an index that another handle or process has open for
    /// writing is refused ([`StorageError::Locked`](edgevec_storage::StorageError::Locked)).
    pub fn save(&mut self, path: impl AsRef<Path>) -> Result<u64, Error> {
        let path = path.as_ref();
        if self.is_attached_to(path) {
            return self.checkpoint();
        }
        let (mut dir, name) = FsDir::split(path)?;
        // Another writer attached to `path` would lose its files under it: refuse.
        let _lock = dir.lock(&name)?;
        let payloads = self.payloads();
        Ok(journal::write_snapshot(
            &mut dir,
            &name,
            &payloads.sections(),
            journal::new_lineage(),
            0,
        )?)
    }

    /// Writes a new snapshot of an attached index and starts an empty log: reopening is then
    /// fast, and the log stops growing. Returns the snapshot's size. A crash at any step
    /// leaves an index that opens to the same state.
    ///
    /// # Errors
    /// [`Error::NotAttached`] on an index that is not attached to a file; storage errors. A
    /// checkpoint that fails after writing its snapshot leaves the index refusing changes
    /// (`StorageError::LogUnusable`) until a checkpoint succeeds: nothing acknowledged is lost.
    pub fn checkpoint(&mut self) -> Result<u64, Error> {
        let Some(mut journal) = self.journal.take() else {
            return Err(Error::NotAttached);
        };
        let written = {
            let payloads = self.payloads();
            journal.checkpoint(&payloads.sections())
        };
        self.journal = Some(journal);
        Ok(written?)
    }

    /// Syncs every logged change to disk (needed only with a [`Durability`] other than
    /// `EveryOp`). Does nothing on an index that is not attached to a file.
    pub fn flush(&mut self) -> Result<(), Error> {
        match &mut self.journal {
            Some(j) => Ok(j.flush()?),
            None => Ok(()),
        }
    }

    /// Changes when logged changes are synced (after syncing what is pending).
    pub fn set_durability(&mut self, durability: Durability) -> Result<(), Error> {
        match &mut self.journal {
            Some(j) => Ok(j.set_durability(durability)?),
            None => Ok(()),
        }
    }

    /// What opening the index recovered from its write-ahead log; `None` for an index that
    /// was built in memory or read from bytes.
    pub fn recovery_report(&self) -> Option<&RecoveryReport> {
        self.recovery.as_ref()
    }

    /// Whether the index is attached to a file, logging every change.
    pub fn is_attached(&self) -> bool {
        self.journal.is_some()
    }

    /// The file the index is attached to, if it was attached by path.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn is_attached_to(&self, path: &Path) -> bool {
        match (&self.path, canonical(path)) {
            (Some(mine), Some(theirs)) => *mine == theirs,
            _ => false,
        }
    }

    /// The index as the bytes of a complete `.evec` file (a snapshot, as [`Index::save`]
    /// writes, without the journal's state).
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let payloads = self.payloads();
        let mut backend = MemBackend::new();
        write_file(&mut backend, &payloads.sections())?;
        Ok(backend.into_vec())
    }

    /// Opens the index at `path` and attaches it: the snapshot is verified (every checksum,
    /// every field), the write-ahead log beside it is replayed (a torn tail from a crash is
    /// cut; see [`Index::recovery_report`]), and from then on every change is logged and
    /// durable when it returns. A damaged file is an [`Error::Storage`] or [`Error::Format`]
    /// naming what is wrong.
    pub fn open(path: impl AsRef<Path>) -> Result<Index, Error> {
        Self::open_with(path, Durability::default())
    }

    /// [`Index::open`] with a durability setting.
    pub fn open_with(path: impl AsRef<Path>, durability: Durability) -> Result<Index, Error> {
        let path = path.as_ref();
        let (dir, name) = FsDir::split(path)?;
        let mut index = Self::open_in(Box::new(dir), &name, durability)?;
        index.path = canonical(path);
        Ok(index)
    }

    /// Opens the index at `path` for reading: the log is replayed in memory, but nothing is
    /// written (a torn tail is ignored, not cut) and the index is not attached.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Index, Error> {
        let (mut dir, name) = FsDir::split(path.as_ref())?;
        let (mut index, report) = Journal::read(&mut dir, &name, Index::from_file, Index::replay)?;
        index.recovery = Some(report);
        Ok(index)
    }

    /// [`Index::open`] over any [`Directory`] (a custom store, or the crash simulator
    /// [`edgevec_storage::CrashDir`]): the snapshot `name` and its log `name.wal`.
    pub fn open_in(
        dir: Box<dyn Directory>,
        name: &str,
        durability: Durability,
    ) -> Result<Index, Error> {
        let (journal, mut index, report) =
            Journal::open(dir, name, durability, Index::from_file, Index::replay)?;
        index.journal = Some(journal);
        index.recovery = Some(report);
        Ok(index)
    }

    /// Replays one logged operation.
    fn replay(&mut self, record: LogRecord) -> Result<(), Error> {
        self.apply(&record.op)
            .map(|_| ())
            .map_err(|e| Error::Format {
                section: "log",
                reason: format!("record {} cannot be applied: {e}", record.seq),
            })
    }

    /// Opens an index from the bytes of an `.evec` file (see [`Index::to_bytes`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Index, Error> {
        Self::from_file(EvecFile::from_bytes(bytes)?)
    }

    /// Builds an index from a verified snapshot. A quantized index keeps the file (when its
    /// rows were left there) and reads rows from it on demand; everything else is copied out.
    fn from_file(mut file: EvecFile) -> Result<Index, Error> {
        let required = |kind: SectionKind, name: &'static str| {
            file.payload(kind)
                .ok_or_else(|| format_error(name, "the section is missing"))
        };
        let params_raw = required(SectionKind::PARAMS, "params")?;
        let Params {
            config,
            graph_built,
        } = read_params(params_raw)?;
        let dim = config.dim;
        // The row count from the section's length: the rows themselves may stay in the file.
        let rows_at = file
            .find(SectionKind::F32_ROWS)
            .ok_or_else(|| format_error("rows", "the section is missing"))?;
        let row_bytes = file.sections()[rows_at].length;
        let n = usize::try_from(row_bytes / 4)
            .ok()
            .filter(|v| row_bytes.is_multiple_of(4) && v.is_multiple_of(dim))
            .ok_or_else(|| format_error("rows", "not a whole number of rows"))?
            / dim;
        let owned_rows = |file: &EvecFile| -> Result<Vec<f32>, Error> {
            Ok(file.f32s(SectionKind::F32_ROWS)?.into_owned())
        };
        let ids = read_ids(required(SectionKind::ID_MAP, "id map")?, n)?;
        if !graph_built {
            let mut pending = Pending::new(dim, config.metric);
            pending.load(ids, owned_rows(&file)?)?;
            return Ok(Index::assemble(config, Engine::Pending(pending)));
        }
        let deleted = read_tombstones(required(SectionKind::TOMBSTONES, "tombstones")?, n)?;
        let graph_at = file
            .find(SectionKind::GRAPH_ADJACENCY)
            .ok_or_else(|| format_error("graph", "the section is missing"))?;
        let topology = read_graph(&file, graph_at, config.params, ids, deleted)?;
        let engine = match config.quantization {
            Quantization::None => {
                // As for codes (see `coded`): free the file's parsed copies before the rows,
                // the largest allocation, are read.
                file.release_copies();
                let store = F32Store::from_rows(dim, config.metric, owned_rows(&file)?)?;
                Engine::F32(Hnsw::from_topology(store, topology)?)
            }
            Quantization::U8 => Engine::U8(coded::<ScalarU8>(file, &config, topology)?),
            Quantization::I8 => Engine::I8(coded::<ScalarI8>(file, &config, topology)?),
            Quantization::Binary => Engine::Binary(coded::<Binary>(file, &config, topology)?),
        };
        Ok(Index::assemble(config, engine))
    }
}

/// The canonical form of a file path (its directory resolved), to recognise the same file
/// under two spellings.
fn canonical(path: &Path) -> Option<std::path::PathBuf> {
    let (dir, name) = FsDir::split(path).ok()?;
    Some(std::fs::canonicalize(dir.path()).ok()?.join(name))
}

/// A quantized graph from a snapshot: codec and codes are copied out, then the file's copies
/// are released and its rows, when they were left in the file, are read from it on demand.
fn coded<Q: Quantizer>(
    mut file: EvecFile,
    config: &Config,
    topology: Topology,
) -> Result<Hnsw<CodeStore<Q>>, Error> {
    let codec = file
        .payload(SectionKind::CODEC_PARAMS)
        .ok_or_else(|| format_error("codec params", "the section is missing"))?;
    let q = Q::params_from_bytes(codec)?;
    if q.dim() != config.dim || q.metric() != config.metric {
        return Err(format_error(
            "codec params",
            "dimensions or metric differ from the index parameters",
        ));
    }
    let codes_at = file
        .find(SectionKind::CODES)
        .ok_or_else(|| format_error("codes", "the section is missing"))?;
    let deferred = file
        .find(SectionKind::F32_ROWS)
        .is_some_and(|i| file.is_deferred(i));
    // Everything else is parsed by now: free the file's copies, and only then read the codes
    // into the buffer they will live in, next to the graph alone.
    file.release_copies();
    let codes = Codes::from_vec(&q, file.read_section(codes_at)?)?;
    let rows = if deferred {
        Rows::deferred(config.dim, Arc::new(file))
            .ok_or_else(|| format_error("rows", "the section is missing"))?
    } else {
        let rows = file.f32s(SectionKind::F32_ROWS)?.into_owned();
        check_rows(&rows, codes.len(), config.dim)?;
        Rows::owned(config.dim, rows)
    };
    let store = CodeStore::from_parts(q, codes, rows)?;
    Ok(Hnsw::from_topology(store, topology)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

    /// PARAMS layout 1 (the factor as a whole number) is still read; 2 keeps thousandths; a
    /// later layout is refused by name.
    #[test]
    fn params_layouts_1_and_2_are_read() {
        let index = Index::builder()
            .dimensions(3)
            .quantization(Quantization::U8)
            .oversample(1.25)
            .build()
            .unwrap();
        let v2 = params_bytes(&index.config, false);
        assert_eq!(&v2[..4], &2u32.to_le_bytes());
        assert_eq!(&v2[24..28], &1250u32.to_le_bytes());
        assert_eq!(read_params(&v2).unwrap().config.oversample, 1.25);
        let mut v1 = v2.clone();
        v1[..4].copy_from_slice(&1u32.to_le_bytes());
        v1[24..28].copy_from_slice(&3u32.to_le_bytes());
        assert_eq!(read_params(&v1).unwrap().config.oversample, 3.0);
        // Layout 1 had no upper limit and its builder lifted 0 to 1: such files open with the
        // nearest factor allowed now. In layout 2 the range is checked.
        for (whole, opened) in [(0, 1.0), (5000, 1000.0), (u32::MAX, 1000.0)] {
            v1[24..28].copy_from_slice(&u32::to_le_bytes(whole));
            assert_eq!(
                read_params(&v1).unwrap().config.oversample,
                opened,
                "{whole}"
            );
        }
        let mut bad = v2.clone();
        for milli in [0, 999, 1_000_001, u32::MAX] {
            bad[24..28].copy_from_slice(&u32::to_le_bytes(milli));
            assert!(
                matches!(read_params(&bad), Err(Error::Format { .. })),
                "{milli}"
            );
        }
        let mut v3 = v2;
        v3[..4].copy_from_slice(&3u32.to_le_bytes());
        let e = read_params(&v3)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("layout version 3"), "{e}");
    }

    /// A file whose reads fail from byte `fail_from` on (set after the file was opened).
    #[derive(Debug)]
    struct Flaky {
        bytes: Vec<u8>,
        fail_from: Arc<AtomicU64>,
    }

    impl edgevec_storage::Backend for Flaky {
        fn len(&self) -> std::io::Result<u64> {
            Ok(self.bytes.len() as u64)
        }
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
            if offset + buf.len() as u64 > self.fail_from.load(Relaxed) {
                return Err(std::io::Error::other("the disk went away"));
            }
            let at = offset as usize;
            buf.copy_from_slice(&self.bytes[at..at + buf.len()]);
            Ok(())
        }
        fn write_at(&mut self, _: u64, _: &[u8]) -> std::io::Result<()> {
            Err(std::io::ErrorKind::Unsupported.into())
        }
        fn set_len(&mut self, _: u64) -> std::io::Result<()> {
            Err(std::io::ErrorKind::Unsupported.into())
        }
        fn sync(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Reads the graph of a 2,000-node index (its lists span two pieces) through a file
    /// whose reads start failing at `fail_at` bytes into the graph section.
    fn read_failing_at(fail_at: Option<u64>) -> Result<Topology, Error> {
        let dim = 4;
        let mut index = Index::builder()
            .dimensions(dim)
            .seed(3)
            .threads(1)
            .build()
            .unwrap();
        let rows: Vec<f32> = (0..2000 * dim)
            .map(|i| ((i * 7919) % 1000) as f32)
            .collect();
        let ids: Vec<u64> = (0..2000).collect();
        index.insert_batch(&ids, &rows).unwrap();
        let bytes = index.to_bytes().unwrap();
        let fail_from = Arc::new(AtomicU64::new(u64::MAX));
        let file = EvecFile::open_deferred(Box::new(Flaky {
            bytes,
            fail_from: fail_from.clone(),
        }))
        .unwrap();
        let at = file.find(SectionKind::GRAPH_ADJACENCY).unwrap();
        assert!(file.is_deferred(at));
        let info = file.sections()[at];
        assert!(info.length > 100_000 + 4, "{}", info.length);
        if let Some(f) = fail_at {
            fail_from.store(info.offset + f, Relaxed);
        }
        read_graph(&file, at, index.config.params, ids, vec![false; 2000])
    }

    #[test]
    fn a_read_error_while_streaming_the_graph_is_returned_as_such() {
        let graph = read_failing_at(None).unwrap();
        assert_eq!(graph.len(), 2000);
        // In the header, in the fixed part, in the first and in a later piece of the lists.
        for fail_at in [8, 2_000, 30_000, 100_000] {
            let err = read_failing_at(Some(fail_at)).unwrap_err();
            assert!(
                matches!(&err, Error::Storage(edgevec_storage::StorageError::Io(e)) if e.to_string().contains("went away")),
                "{fail_at}: {err}"
            );
        }
    }
}
