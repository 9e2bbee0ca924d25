//! The HNSW index: insertion, search, soft delete, compaction.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::*};

use rayon::prelude::*;

use crate::ids::Ids;
use crate::links::{Layer0, Links, MAX_LEVEL, NONE, Neighbors};
use crate::parts::GraphParts;
use crate::scratch::{Beam, Cand, Pool, Scratch, ScratchPool, Visited};
use crate::store::{F32Store, VectorStore};
use crate::{GraphError, HnswParams, Metric, Neighbor, check_vector};

/// Sizes and counts of an index.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GraphStats {
    /// Live vectors (searchable).
    pub live: usize,
    /// Tombstones not yet compacted.
    pub deleted: usize,
    /// Slots in use (live + deleted).
    pub slots: usize,
    /// Highest layer.
    pub max_level: usize,
    /// Bytes held by the vector store.
    pub vector_bytes: usize,
    /// Bytes allocated for neighbour lists and per-node graph bookkeeping (capacity, not length;
    /// see "Memory" in the crate docs).
    pub graph_bytes: usize,
    /// Bytes allocated for the id → slot hash table (every bucket and control byte), the
    /// slot → id array and the tombstone bits.
    pub id_bytes: usize,
    /// Bytes held by pooled search scratch space (visited bits and heaps, per pooled scratch).
    pub scratch_bytes: usize,
    /// Nodes that could not be given an anchor edge (expected 0; see the crate docs).
    pub unanchored: usize,
    /// Whether layer 0 is packed at its lists' real lengths, read-only: true for a graph
    /// loaded from parts and not changed since (see "Memory" in the crate docs).
    pub packed_layer0: bool,
}

/// SplitMix64: small, fast, and the same sequence on every platform.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn unit_open0(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// A node's level: geometric, `floor(−ln(U) · mL)`, at most [`MAX_LEVEL`].
    fn level(&mut self, ml: f64) -> usize {
        (((-self.unit_open0().ln()) * ml).floor() as usize).min(MAX_LEVEL)
    }
}

const EMPTY: u64 = u64::MAX;

/// Upper bound on build threads (more would only cost memory on any machine this runs on).
const MAX_BUILD_THREADS: usize = 256;

fn pack(slot: u32, level: usize) -> u64 {
    (u64::from(slot) << 32) | level as u64
}

fn unpack(e: u64) -> Option<(u32, usize)> {
    (e != EMPTY).then_some(((e >> 32) as u32, (e & 0xffff_ffff) as usize))
}

/// An HNSW graph over a [`VectorStore`] (f32 rows in RAM by default).
///
/// See the crate docs for the algorithm, the distance conventions, deletes and reachability.
#[derive(Debug)]
pub struct Hnsw<S: VectorStore = F32Store> {
    params: HnswParams,
    ml: f64,
    store: S,
    links: Links,
    /// Slot → id, live id → slot, tombstones.
    ids: Ids,
    /// Entry point and top layer, packed (`EMPTY` when the graph has no node).
    entry: AtomicU64,
    /// Held by an insertion that raises the top layer, for its whole duration.
    entry_lock: Mutex<()>,
    rng: SplitMix64,
    pool: ScratchPool,
}

/// A graph's structure without its vectors: neighbour lists, ids, tombstones and entry point,
/// checked (from [`Topology::from_parts`]) and ready for [`Hnsw::from_topology`].
#[derive(Debug)]
pub struct Topology {
    params: HnswParams,
    links: Links,
    ids: Ids,
    entry: u64,
    rng_state: u64,
}

impl Topology {
    /// The structure of [`Hnsw::to_parts`] output, checked and rebuilt into the graph's
    /// in-memory form (the expensive half of [`Hnsw::from_parts`], which needs no vectors: a
    /// caller short of memory can build it, drop the parts, and only then load the vectors).
    /// Everything is checked: lengths, slot ranges, list sizes and layers, the entry
    /// point, anchors (each must be an edge its parent keeps; a parent's children are moved to
    /// the front of its layer-0 list, where this version keeps them), chain edges (only on nodes
    /// with upper layers, at most one per layer), and that no id is live twice; any
    /// inconsistency is [`GraphError::InvalidParts`], never a panic or a graph that could
    /// misbehave later.
    pub fn from_parts(params: HnswParams, mut parts: GraphParts) -> Result<Self, GraphError> {
        let lists = std::mem::take(&mut parts.lists);
        Self::from_streamed_parts(params, parts, lists.len(), lists)
    }

    /// [`Topology::from_parts`] with the neighbour lists streamed instead of held:
    /// `parts.lists` is ignored (leave it empty) and `lists` yields the words it would hold,
    /// in the same order. `words` says how many (it sizes layer 0; fewer or more words than
    /// the layers need are [`GraphError::InvalidParts`], as in `from_parts`). A caller that
    /// reads a saved graph piece by piece (the `edgevec` crate reads it from its file this
    /// way) never holds the lists twice: its peak is the graph being built plus one piece.
    pub fn from_streamed_parts(
        params: HnswParams,
        parts: GraphParts,
        words: usize,
        lists: impl IntoIterator<Item = u32>,
    ) -> Result<Self, GraphError> {
        let bad = |what: String| Err(GraphError::InvalidParts(what));
        params.validate()?;
        if parts.m as usize != params.m {
            return bad(format!(
                "lists were built with M = {}, parameters say {}",
                parts.m, params.m
            ));
        }
        let n = parts.levels.len();
        for (name, len) in [
            ("anchors", parts.anchors.len()),
            ("chains", parts.chains.len()),
            ("ids", parts.ids.len()),
            ("tombstones", parts.deleted.len()),
        ] {
            if len != n {
                return bad(format!("{name} has {len} entries for {n} slots"));
            }
        }
        if u32::try_from(n).map_or(true, |n| n == u32::MAX) {
            return Err(GraphError::CapacityExceeded);
        }
        if let Some((slot, level)) =
            (parts.levels.iter().enumerate()).find(|(_, l)| usize::from(**l) > MAX_LEVEL)
        {
            return bad(format!(
                "slot {slot} is on layer {level}, above {MAX_LEVEL}"
            ));
        }
        let counts = n + parts.levels.iter().map(|&l| usize::from(l)).sum::<usize>();
        if words < counts {
            // Every list has at least its count word: refuse before reserving room for them.
            return bad(format!(
                "neighbour lists hold {words} words, fewer than the {counts} lists the layers need"
            ));
        }
        let GraphParts {
            levels,
            anchors,
            chains,
            entry,
            ids,
            deleted,
            rng_state,
            ..
        } = parts;
        // One pass over the words: layer 0 goes straight into its packed form (what a loaded
        // graph keeps until it changes); the upper lists, a few percent of the words, wait
        // in `upper` until every node's level is in place to check them against.
        let m0 = 2 * params.m;
        let cap = |level: usize| if level == 0 { m0 } else { params.m };
        // At most every entry is on layer 0, and no list is longer than 2·M; what the upper
        // layers hold is given back after the pass. A bound past what one allocation can be (a
        // graph that cannot fit a 32-bit address space) is refused before reserving it.
        let bound = (words - counts).min(n.saturating_mul(m0));
        if bound
            .checked_mul(4)
            .and_then(|b| b.checked_add(64))
            .is_none_or(|b| b > isize::MAX as usize)
        {
            return Err(GraphError::CapacityExceeded);
        }
        let mut layer0 = Layer0::for_graph(params.m, n, bound);
        let mut upper: Vec<u32> = Vec::new();
        let mut list = Vec::with_capacity(m0);
        let mut lists = lists.into_iter();
        for (slot, &high) in levels.iter().enumerate() {
            let early =
                || GraphError::InvalidParts(format!("neighbour lists end early, at slot {slot}"));
            for level in 0..=usize::from(high) {
                let count = lists.next().ok_or_else(early)?;
                if count as usize > cap(level) {
                    return bad(format!(
                        "slot {slot} has {count} neighbours on layer {level}"
                    ));
                }
                list.clear();
                for _ in 0..count {
                    let v = lists.next().ok_or_else(early)?;
                    if v as usize >= n {
                        return bad(format!("slot {slot} links to {v} on layer {level}"));
                    }
                    list.push(v);
                }
                if level == 0 {
                    layer0.push(&list);
                } else {
                    upper.push(count);
                    upper.extend_from_slice(&list);
                }
            }
        }
        if lists.next().is_some() {
            return bad("neighbour lists hold more words than the layers need".into());
        }
        drop(lists);
        layer0.shrink_to_fit();
        let Ok(links) = Links::load(params.m, &levels, layer0) else {
            return Err(GraphError::CapacityExceeded);
        };
        let top = levels.iter().copied().max().map(usize::from);
        let mut at = 0;
        for (slot, &high) in levels.iter().enumerate() {
            for level in 1..=usize::from(high) {
                let count = upper[at] as usize;
                let list = &upper[at + 1..at + 1 + count];
                if let Some(v) = list.iter().find(|&&v| links.level(v) < level) {
                    return bad(format!("slot {slot} links to {v} on layer {level}"));
                }
                links.write(slot as u32, level, list);
                at += 1 + count;
            }
        }
        drop(levels);
        let mut links = links;
        drop(upper);
        for (slot, &v) in chains.iter().enumerate() {
            // Only entry points have chain edges, and an entry point has upper layers.
            if v != NONE && (v as usize >= n || !links.set_chain(slot as u32, v)) {
                return bad(format!("slot {slot} has chain {v}"));
            }
        }
        if let Some((slot, v)) =
            (anchors.iter().enumerate()).find(|(_, v)| **v != NONE && **v as usize >= n)
        {
            return bad(format!("slot {slot} has anchor {v}"));
        }
        // An anchor is an edge its parent keeps in its layer-0 list.
        if let Err(slot) = links.set_anchors(&anchors) {
            let anchor = anchors[slot as usize];
            return bad(format!(
                "slot {slot} has anchor {anchor}, which has no edge to it (or anchors over 255 nodes)"
            ));
        }
        let entry = match (entry, top) {
            (None, None) => EMPTY,
            (Some(e), Some(top)) if (e as usize) < n && links.level(e) == top => pack(e, top),
            (e, _) => return bad(format!("entry point {e:?} is not a slot on the top layer")),
        };
        let ids = match Ids::from_parts(ids, &deleted) {
            Ok(ids) => ids,
            Err(id) => return bad(format!("id {id} is live in two slots")),
        };
        Ok(Topology {
            params,
            links,
            ids,
            entry,
            rng_state,
        })
    }

    /// Slots in the graph.
    pub fn len(&self) -> usize {
        self.links.len()
    }

    /// Whether the graph has no slot.
    pub fn is_empty(&self) -> bool {
        self.links.len() == 0
    }
}

impl Hnsw<F32Store> {
    /// An empty index of `dim`-dimensional f32 vectors kept in RAM.
    pub fn new_f32(dim: usize, metric: Metric, params: HnswParams) -> Result<Self, GraphError> {
        Self::new(F32Store::new(dim, metric)?, params)
    }
}

impl<S: VectorStore> Hnsw<S> {
    /// An empty index over `store`, which must be empty.
    pub fn new(store: S, params: HnswParams) -> Result<Self, GraphError> {
        params.validate()?;
        if store.dim() == 0 {
            return Err(GraphError::InvalidParameter {
                name: "dimensions",
                value: 0,
                reason: "must be at least 1",
            });
        }
        if !store.is_empty() {
            return Err(GraphError::InvalidParameter {
                name: "store",
                value: store.len(),
                reason: "a new index needs an empty store",
            });
        }
        Ok(Self {
            ml: 1.0 / (params.m as f64).ln(),
            links: Links::new(params.m),
            store,
            ids: Ids::default(),
            entry: AtomicU64::new(EMPTY),
            entry_lock: Mutex::new(()),
            rng: SplitMix64(params.seed),
            pool: ScratchPool::default(),
            params,
        })
    }

    /// The parameters the index was built with.
    pub fn params(&self) -> &HnswParams {
        &self.params
    }

    /// Sets the default search beam width.
    pub fn set_ef_search(&mut self, ef: usize) -> Result<(), GraphError> {
        let params = HnswParams {
            ef_search: ef,
            ..self.params
        };
        params.validate()?;
        self.params = params;
        Ok(())
    }

    /// Dimensions of the vectors.
    pub fn dim(&self) -> usize {
        self.store.dim()
    }

    /// The metric distances are computed in.
    pub fn metric(&self) -> Metric {
        self.store.metric()
    }

    /// The vector store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The vector store, mutably: for changes that leave every distance as it is (moving data
    /// between memory and a file, caching). The graph's links were chosen by the distances the
    /// store gave; a store whose distances change under it leaves a graph that still answers,
    /// but with the recall of a graph built for other vectors.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// Number of live (searchable) vectors.
    pub fn len(&self) -> usize {
        self.ids.live()
    }

    /// Whether no live vector is left.
    pub fn is_empty(&self) -> bool {
        self.ids.live() == 0
    }

    /// Number of tombstones not yet compacted.
    pub fn deleted_len(&self) -> usize {
        self.ids.n_deleted()
    }

    /// Whether `id` is live in the index.
    pub fn contains(&self, id: u64) -> bool {
        self.ids.slot(id).is_some()
    }

    /// The store slot that holds the vector of live `id` (slots change when compacting).
    pub fn slot(&self, id: u64) -> Option<u32> {
        self.ids.slot(id)
    }

    /// Live ids, in no particular order.
    pub fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.ids.live_ids()
    }

    /// Sizes and counts.
    pub fn stats(&self) -> GraphStats {
        let max_level = unpack(self.entry.load(Acquire)).map_or(0, |(_, l)| l);
        let unanchored = (0..self.links.len() as u32)
            .filter(|&s| !self.is_anchored(s))
            .count();
        GraphStats {
            live: self.ids.live(),
            deleted: self.ids.n_deleted(),
            slots: self.ids.slots(),
            max_level,
            vector_bytes: self.store.memory_bytes(),
            graph_bytes: self.links.memory_bytes(),
            id_bytes: self.ids.memory_bytes(),
            scratch_bytes: self.pool.memory_bytes(),
            unanchored,
            packed_layer0: self.links.is_packed(),
        }
    }

    /// Inserts a vector under a new id. An id that is already live is an error
    /// ([`GraphError::DuplicateId`]); use [`Hnsw::upsert`] to replace a vector.
    pub fn insert(&mut self, id: u64, vector: &[f32]) -> Result<(), GraphError> {
        check_vector(vector, self.dim(), self.metric())?;
        if self.contains(id) {
            return Err(GraphError::DuplicateId(id));
        }
        let slot = self.add_node(id, vector)?;
        self.pool.with(|s| self.link(slot, s));
        self.ids.publish(slot);
        Ok(())
    }

    /// Inserts or replaces the vector of `id`. Returns whether a vector was replaced (the old
    /// one becomes a tombstone until [`Hnsw::compact`]).
    pub fn upsert(&mut self, id: u64, vector: &[f32]) -> Result<bool, GraphError> {
        check_vector(vector, self.dim(), self.metric())?;
        let slot = self.add_node(id, vector)?;
        // Tombstone the old vector first, so the new one does not spend a neighbour slot on it.
        let old = self.ids.publish(slot);
        self.pool.with(|s| self.link(slot, s));
        Ok(old.is_some())
    }

    /// Inserts many vectors (`vectors` holds `ids.len()` rows of `dim` values, row-major),
    /// linking them on `threads` threads (0 = all cores). All-or-nothing: a bad row or a
    /// duplicate id rejects the whole batch ([`GraphError::BatchItem`] names the row).
    pub fn insert_batch(
        &mut self,
        ids: &[u64],
        vectors: &[f32],
        threads: usize,
    ) -> Result<(), GraphError> {
        let dim = self.dim();
        if ids.len().checked_mul(dim) != Some(vectors.len()) {
            return Err(GraphError::BatchShape {
                ids: ids.len(),
                values: vectors.len(),
                dim,
            });
        }
        if ids.is_empty() {
            return Ok(());
        }
        // Each row's id becomes live (staged in the id map at the slot it will take) once the
        // row is checked, so an id repeated within the batch is caught like one already live,
        // without a set of the batch's ids on the side. Any failure takes them out again.
        let first = self.ids.slots();
        self.ids.reserve(ids.len());
        for (index, (id, row)) in ids.iter().zip(vectors.chunks_exact(dim)).enumerate() {
            let checked = check_vector(row, dim, self.metric()).and_then(|()| {
                if self.ids.stage(*id) {
                    Ok(())
                } else {
                    Err(GraphError::DuplicateId(*id))
                }
            });
            if let Err(source) = checked {
                self.ids.truncate(first);
                return Err(GraphError::BatchItem {
                    index,
                    source: Box::new(source),
                });
            }
        }
        // Threads first: failing to start them must not leave half a batch behind.
        let threads = match threads {
            // wasm32 has no threads: building on the calling thread also keeps rayon's pool
            // code out of the .wasm (about 50 KB).
            _ if cfg!(target_arch = "wasm32") => 1,
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            t => t,
        }
        .min(ids.len())
        .min(MAX_BUILD_THREADS);
        let pool = if threads > 1 {
            match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
                Ok(pool) => Some(pool),
                Err(_) => {
                    self.ids.truncate(first);
                    return Err(GraphError::InvalidParameter {
                        name: "threads",
                        value: threads,
                        reason: "could not start that many threads",
                    });
                }
            }
        } else {
            None
        };
        // Room for exactly the upper lists this batch will have: the level generator, run
        // ahead on a copy, draws the same levels the nodes will get.
        let mut rng = self.rng.clone();
        let levels = (0..ids.len()).map(|_| rng.level(self.ml));
        let (tall, lists) = levels.fold((0, 0), |(t, l), x| (t + usize::from(x > 0), l + x));
        self.store.reserve(ids.len());
        self.links.reserve(ids.len(), tall, lists);
        for (index, row) in vectors.chunks_exact(dim).enumerate() {
            if let Err(source) = self.add_vertex(row) {
                self.truncate_unlinked(first);
                return Err(GraphError::BatchItem {
                    index,
                    source: Box::new(source),
                });
            }
        }
        let slots = first as u32..self.ids.slots() as u32;
        if let Some(pool) = pool {
            self.links.set_parallel(true);
            let this = &*self;
            pool.install(|| {
                slots
                    .clone()
                    .into_par_iter()
                    .for_each(|q| this.pool.with(|s| this.link(q, s)));
            });
            self.links.set_parallel(false);
            // The build threads are gone: one scratch is enough until searches ask for more.
            self.pool.trim(1);
        } else {
            self.pool
                .with(|s| slots.clone().for_each(|q| self.link(q, s)));
        }
        {
            // A node linked while all of its neighbours were still unanchored (possible only in
            // a parallel build) could not anchor; now that every node is linked, try again.
            self.pool.with(|s| {
                for q in slots.clone() {
                    if !self.is_anchored(q) {
                        self.anchor_by_search(q, s);
                    }
                }
            });
        }
        Ok(())
    }

    /// Marks `id` deleted (O(1)). Returns whether it was live. The node keeps routing searches
    /// until [`Hnsw::compact`].
    pub fn delete(&mut self, id: u64) -> bool {
        self.ids.delete(id).is_some()
    }

    /// The `k` nearest live vectors, with the default `ef_search`.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<Neighbor>, GraphError> {
        self.search_with(query, k, self.params.ef_search, None)
    }

    /// The `k` nearest live vectors whose id passes `filter`. Vectors that fail the filter still
    /// route the search, so recall holds for selective filters (at the cost of visiting more
    /// nodes).
    pub fn search_filtered(
        &self,
        query: &[f32],
        k: usize,
        filter: &(dyn Fn(u64) -> bool + Sync),
    ) -> Result<Vec<Neighbor>, GraphError> {
        self.search_with(query, k, self.params.ef_search, Some(filter))
    }

    /// The `k` nearest live vectors with an explicit beam width (`ef`, raised to `k` when
    /// smaller) and an optional filter on ids. Sorted by distance, then id.
    pub fn search_with(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        filter: Option<&(dyn Fn(u64) -> bool + Sync)>,
    ) -> Result<Vec<Neighbor>, GraphError> {
        Ok(self
            .search_with_slots(query, k, ef, filter)?
            .into_iter()
            .map(|(_, n)| n)
            .collect())
    }

    /// [`Hnsw::search_with`], each hit with its slot: for a caller that keeps per-vector data by
    /// slot (a rescoring stage reading rows), which then needs no id → slot lookup. Slots are
    /// valid until the next mutation of the graph.
    pub fn search_with_slots(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        filter: Option<&(dyn Fn(u64) -> bool + Sync)>,
    ) -> Result<Vec<(u32, Neighbor)>, GraphError> {
        if k == 0 {
            return Err(GraphError::ZeroK);
        }
        check_vector(query, self.dim(), self.metric())?;
        let q = self.store.prepare(query)?;
        let Some((ep, top)) = unpack(self.entry.load(Acquire)) else {
            return Ok(Vec::new());
        };
        if self.is_empty() {
            return Ok(Vec::new());
        }
        let ef = ef.max(k);
        let selective = filter.is_some() || self.many_tombstones();
        Ok(self.pool.with(|s| {
            let cur = self.descend(&q, ep, top, 0);
            let accept = |slot: u32| {
                !self.ids.is_deleted(slot) && filter.is_none_or(|f| f(self.ids.id(slot)))
            };
            let n_found = self
                .search_layer(&q, &[cur], ef, 0, s, false, selective, &accept)
                .len();
            if n_found < ef && !s.visited.is_marked(ep) {
                // The layer-0 walk from where the descent ended ran out of nodes (fewer than
                // `ef` found: its region is exhausted, whatever `k` is): the graph is
                // not strongly connected, only reachable from the entry point (see the crate
                // docs). Resume from the entry point, keeping what was visited and found.
                let entry = Cand {
                    dist: self.store.distance(&q, ep),
                    slot: ep,
                };
                self.search_layer(&q, &[entry], ef, 0, s, true, selective, &accept);
            }
            let found = &s.found;
            let mut hits: Vec<(u32, Neighbor)> = found
                .iter()
                .map(|c| {
                    let n = Neighbor {
                        id: self.ids.id(c.slot),
                        distance: c.dist,
                    };
                    (c.slot, n)
                })
                .collect();
            // Ties by id, not by slot: slots are an internal detail that compaction changes.
            hits.sort_unstable_by(|(_, a), (_, b)| {
                a.distance.total_cmp(&b.distance).then(a.id.cmp(&b.id))
            });
            hits.truncate(k);
            // The caller may keep the results: hold k entries, not the ef collected.
            hits.shrink_to_fit();
            hits
        }))
    }

    /// Ids of live vectors that cannot be reached from the entry point by following layer-0
    /// edges (tombstones included). Always empty unless an anchor could not be placed (see the
    /// crate docs); meant for tests and `verify`.
    pub fn unreachable_ids(&self) -> Vec<u64> {
        let Some((ep, _)) = unpack(self.entry.load(Acquire)) else {
            return Vec::new();
        };
        let seen = self.reach_from(&[ep]);
        self.ids
            .live_slots()
            .filter(|(_, slot)| !seen[*slot as usize])
            .map(|(id, _)| id)
            .collect()
    }

    /// Removes tombstones for real: reconnects the neighbours of deleted nodes, frees their
    /// slots and memory, and keeps every live id. Returns how many tombstones were removed.
    pub fn compact(&mut self) -> usize {
        let removed = self.ids.n_deleted();
        if removed == 0 {
            return 0;
        }
        let n = self.ids.slots();
        let keep: Vec<u32> = (0..n as u32).filter(|&s| !self.ids.is_deleted(s)).collect();
        if keep.is_empty() {
            self.truncate_unlinked(0);
            return removed;
        }
        let mut remap = vec![NONE; n];
        for (new, &old) in keep.iter().enumerate() {
            remap[old as usize] = new as u32;
        }
        // New lists, computed from the old graph in parallel: each live node that pointed at a
        // deleted node takes candidates from the live nodes reachable through deleted ones and
        // re-selects with the diversity heuristic.
        let this = &*self;
        // wasm32 has no threads (see insert_batch): sequential there.
        #[cfg(not(target_arch = "wasm32"))]
        let keep_iter = keep.par_iter();
        #[cfg(target_arch = "wasm32")]
        let keep_iter = keep.iter();
        let mut lists: Vec<Vec<Vec<u32>>> = keep_iter
            .map(|&u| {
                (0..=this.links.level(u))
                    .map(|level| {
                        this.repaired_list(u, level)
                            .into_iter()
                            .map(|v| remap[v as usize])
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let links = self.links.rebuilt(&keep, |old, level| {
            std::mem::take(&mut lists[remap[old as usize] as usize][level])
        });
        drop(lists);
        // The new entry point: the live node on the highest layer (lowest slot on ties).
        let (entry, top) = (0..keep.len() as u32)
            .map(|slot| (slot, links.level(slot)))
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .unwrap_or((0, 0));
        self.store.retain(&keep);
        self.links = links;
        self.ids.retain(&keep, &remap);
        self.entry.store(pack(entry, top), Release);
        self.pool.clear();
        self.reanchor();
        removed
    }

    /// The graph's state as plain arrays (see [`GraphParts`]); the vectors stay in the store.
    pub fn to_parts(&self) -> GraphParts {
        let n = self.links.len();
        let (ids, deleted) = self.ids.to_parts();
        let mut lists = Vec::new();
        let mut buf = Vec::new();
        for slot in 0..n as u32 {
            for level in 0..=self.links.level(slot) {
                self.links.read_into(slot, level, &mut buf);
                lists.push(buf.len() as u32);
                lists.extend_from_slice(&buf);
            }
        }
        GraphParts {
            m: self.params.m as u32,
            levels: (0..n as u32).map(|s| self.links.level(s) as u8).collect(),
            lists,
            anchors: self.links.anchors(),
            chains: (0..n as u32).map(|s| self.links.chain(s)).collect(),
            entry: unpack(self.entry.load(Acquire)).map(|(slot, _)| slot),
            ids,
            deleted,
            rng_state: self.rng.0,
        }
    }

    /// Rebuilds a graph from [`Hnsw::to_parts`] output over a store holding the same slots:
    /// [`Topology::from_parts`] then [`Hnsw::from_topology`] (see them for what is checked).
    pub fn from_parts(store: S, params: HnswParams, parts: GraphParts) -> Result<Self, GraphError> {
        Self::from_topology(store, Topology::from_parts(params, parts)?)
    }

    /// A graph from a checked [`Topology`] and the store that holds its slots' vectors (same
    /// number of slots, at least one dimension).
    pub fn from_topology(store: S, topology: Topology) -> Result<Self, GraphError> {
        if store.dim() == 0 {
            return Err(GraphError::InvalidParts(
                "the store has 0 dimensions".into(),
            ));
        }
        let n = topology.links.len();
        if store.len() != n {
            return Err(GraphError::InvalidParts(format!(
                "the graph has {n} slots, the store {} vectors",
                store.len()
            )));
        }
        let Topology {
            params,
            links,
            ids,
            entry,
            rng_state,
        } = topology;
        // Loaded arrays are read at random from now on: huge pages spare the TLB.
        store.advise_huge_pages();
        links.advise_huge_pages();
        Ok(Self {
            ml: 1.0 / (params.m as f64).ln(),
            links,
            store,
            ids,
            entry: AtomicU64::new(entry),
            entry_lock: Mutex::new(()),
            rng: SplitMix64(rng_state),
            pool: ScratchPool::default(),
            params,
        })
    }

    // ---------------------------------------------------------------------------------------
    // Internals.

    /// Appends a node (vector, level, id) without linking it.
    fn add_node(&mut self, id: u64, vector: &[f32]) -> Result<u32, GraphError> {
        let slot = self.add_vertex(vector)?;
        self.ids.push(id);
        Ok(slot)
    }

    /// Appends a node's vector and level (its id is already in place, or follows).
    fn add_vertex(&mut self, vector: &[f32]) -> Result<u32, GraphError> {
        let slot = self.store.push(vector)?;
        if slot as usize != self.links.len() {
            return Err(GraphError::InvalidParameter {
                name: "store",
                value: slot as usize,
                reason: "the vector store returned a slot out of sequence",
            });
        }
        let level = self.rng.level(self.ml);
        if self.links.push(level).is_err() {
            // More than 2³² upper-layer lists: give the slot back.
            let keep: Vec<u32> = (0..slot).collect();
            self.store.retain(&keep);
            return Err(GraphError::CapacityExceeded);
        }
        Ok(slot)
    }

    /// Drops the slots from `len` on. Only for slots nothing links to (a batch tail that was
    /// added but not linked) or for all slots: the rest of the graph is untouched.
    fn truncate_unlinked(&mut self, len: usize) {
        let keep: Vec<u32> = (0..len as u32).collect();
        self.store.retain(&keep);
        self.links.truncate(len);
        self.ids.truncate(len);
        if len == 0 {
            self.entry.store(EMPTY, Release);
            self.pool.clear();
        }
    }

    /// Whether `slot` hangs in the anchor tree (the root is anchored to itself).
    fn is_anchored(&self, slot: u32) -> bool {
        self.links.is_anchored(slot)
    }

    /// Links a node that [`Hnsw::add_node`] created. Safe to run on several nodes at once.
    fn link(&self, q: u32, s: &mut Scratch) {
        let level = self.links.level(q);
        let query = self.store.node_query(q);
        let mut guard = None;
        let mut entry = unpack(self.entry.load(Acquire));
        if entry.is_none_or(|(_, top)| level > top) {
            guard = Some(self.entry_lock.lock().unwrap_or_else(|e| e.into_inner()));
            entry = unpack(self.entry.load(Acquire));
            if entry.is_none() {
                // The first node: it is the entry point and the root of the anchor tree.
                self.entry.store(pack(q, level), Release);
                self.links.set_root(q);
                return;
            }
            if entry.is_some_and(|(_, top)| level <= top) {
                guard = None;
            }
        }
        let Some((ep, top)) = entry else { return };
        let cur = self.descend(&query, ep, top, level);
        let mut eps = vec![cur];
        // Tombstones route the search but are not chosen as neighbours: compaction would only
        // have to replace them.
        let accept = |x: u32| x != q && !self.ids.is_deleted(x);
        let many_tombstones = self.many_tombstones();
        for l in (0..=level.min(top)).rev() {
            let found = self
                .search_layer(
                    &query,
                    &eps,
                    self.params.ef_construction,
                    l,
                    s,
                    false,
                    many_tombstones,
                    &accept,
                )
                .to_vec();
            let chosen = self.select(&found, self.params.m, l, None);
            self.set_own_list(q, l, &chosen);
            for &n in &chosen {
                self.add_backlink(n, q, l);
            }
            eps = found;
        }
        if guard.is_some() && level > top {
            // q becomes the entry point; its chain edge leads to the old one.
            let tall = self.links.set_chain(q, ep);
            debug_assert!(tall, "a new entry point has upper layers");
            self.force_edge(q, ep, false);
        }
        if !self.is_anchored(q) {
            // `eps` holds the layer-0 search result: q's nearest nodes. Failing that (every
            // one of them full of pinned edges, or unanchored in a parallel build), any
            // anchored node will do; a leaf of the anchor tree always has room.
            if !self.anchor_among(q, &eps) {
                self.anchor_anywhere(q);
            }
        }
        if guard.is_some() && level > top {
            self.entry.store(pack(q, level), Release);
        }
        drop(guard);
    }

    /// Writes the new node `q`'s own list on `level`. In a parallel build another node may
    /// already have added itself to it (reaching q through the layer above); those entries are
    /// merged in, pruned with the heuristic if the union is too long.
    fn set_own_list(&self, q: u32, level: usize, chosen: &[u32]) {
        let _g = self.links.lock(q);
        let current = self.links.read(q, level);
        if current.is_empty() {
            self.links.write(q, level, chosen);
            return;
        }
        let mut union: Vec<u32> = chosen.to_vec();
        union.extend(current.into_iter().filter(|x| !chosen.contains(x)));
        let cap = self.links.cap(level);
        if union.len() <= cap {
            self.links.write(q, level, &union);
            return;
        }
        let mut cands: Vec<Cand> = union
            .into_iter()
            .map(|x| Cand {
                dist: self.store.distance_between(q, x),
                slot: x,
            })
            .collect();
        cands.sort_unstable();
        let kept = self.select(&cands, cap, level, Some(q));
        self.links.write(q, level, &kept);
    }

    /// Puts the layer-0 edge `from → to` in place (appending, or replacing the farthest
    /// unpinned entry of a full list); with `anchor`, also makes `from` the anchor of `to`.
    /// Returns false (changing nothing) when every entry is pinned, or when `from` should
    /// anchor `to` but has no room for another anchor child.
    fn force_edge(&self, from: u32, to: u32, anchor: bool) -> bool {
        let _g = self.links.lock(from);
        if anchor && !self.links.can_pin(from) {
            return false;
        }
        let mut list = self.links.read(from, 0);
        if !list.contains(&to) {
            if list.len() < self.links.cap(0) {
                list.push(to);
            } else {
                let victim = list
                    .iter()
                    .enumerate()
                    .filter(|(_, x)| !self.links.pinned(from, **x))
                    .map(|(i, x)| (self.store.distance_between(from, *x), i))
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .map(|(_, i)| i);
                let Some(i) = victim else { return false };
                list[i] = to;
            }
            self.links.write(from, 0, &list);
        }
        !anchor || self.links.pin(from, to)
    }

    /// Adds `q` to `n`'s list on `level`, pruning with the heuristic when it is full. On layer 0
    /// `q` gets `n` as its anchor when it is kept and `n` is anchored.
    fn add_backlink(&self, n: u32, q: u32, level: usize) {
        let _g = self.links.lock(n);
        let mut list = self.links.read(n, level);
        if list.contains(&q) {
            return;
        }
        let cap = self.links.cap(level);
        let kept = if list.len() < cap {
            list.push(q);
            self.links.write(n, level, &list);
            true
        } else {
            let mut cands: Vec<Cand> = list
                .iter()
                .chain(std::iter::once(&q))
                .map(|&x| Cand {
                    dist: self.store.distance_between(n, x),
                    slot: x,
                })
                .collect();
            cands.sort_unstable();
            let chosen = self.select(&cands, cap, level, Some(n));
            self.links.write(n, level, &chosen);
            chosen.contains(&q)
        };
        if level == 0 && kept && !self.is_anchored(q) && self.is_anchored(n) {
            self.links.pin(n, q);
        }
    }

    /// The diversity heuristic (Malkov & Yashunin, Algorithm 4): walk candidates nearest first
    /// and keep one unless it is closer to an already kept node than to the base. When `base`
    /// is given (pruning a layer-0 list), pinned edges are kept first, unconditionally.
    fn select(&self, sorted: &[Cand], cap: usize, level: usize, base: Option<u32>) -> Vec<u32> {
        let mut kept: Vec<Cand> = Vec::with_capacity(cap);
        if let (Some(b), 0) = (base, level) {
            kept.extend(sorted.iter().filter(|c| self.links.pinned(b, c.slot)));
            debug_assert!(kept.len() <= cap, "more pinned edges than room in a list");
        }
        for c in sorted {
            if kept.len() >= cap {
                break;
            }
            if kept.iter().any(|k| k.slot == c.slot) {
                continue;
            }
            let diverse = kept
                .iter()
                .all(|k| self.store.distance_between(c.slot, k.slot) >= c.dist);
            if diverse {
                kept.push(*c);
            }
        }
        kept.into_iter().map(|c| c.slot).collect()
    }

    /// Gives `q` an anchor: the nearest anchored node in `near` that takes the edge to `q`
    /// ([`Hnsw::force_edge`]).
    fn anchor_among(&self, q: u32, near: &[Cand]) -> bool {
        for c in near {
            let n = c.slot;
            if n != q && self.is_anchored(n) && self.force_edge(n, q, true) {
                return true;
            }
        }
        false
    }

    /// The exhaustive fallback of [`Hnsw::anchor_among`]: every anchored node, nearest first.
    /// It cannot fail while some node is anchored: a leaf of the anchor tree pins at most its
    /// chain edge, and every list holds at least 4 entries.
    fn anchor_anywhere(&self, q: u32) -> bool {
        let mut all: Vec<Cand> = (0..self.links.len() as u32)
            .filter(|&n| n != q && self.is_anchored(n))
            .map(|n| Cand {
                dist: self.store.distance_between(q, n),
                slot: n,
            })
            .collect();
        all.sort_unstable();
        self.anchor_among(q, &all)
    }

    /// [`Hnsw::anchor_among`] over the nodes a fresh layer-0 search for `q` finds.
    fn anchor_by_search(&self, q: u32, s: &mut Scratch) -> bool {
        // Unanchored nodes may be many (a compaction's repair): a selective filter.
        let found = self.nearest_to_node(q, s, true, &|x: u32| x != q && self.is_anchored(x));
        self.anchor_among(q, &found) || self.anchor_anywhere(q)
    }

    /// The layer-0 neighbourhood of node `u`'s own vector, found by a fresh search from the
    /// entry point (`ef_construction` wide), keeping only nodes that pass `accept`
    /// (`selective` as in [`Hnsw::search_layer`]).
    fn nearest_to_node(
        &self,
        u: u32,
        s: &mut Scratch,
        selective: bool,
        accept: &impl Fn(u32) -> bool,
    ) -> Vec<Cand> {
        let Some((ep, top)) = unpack(self.entry.load(Acquire)) else {
            return Vec::new();
        };
        let query = self.store.node_query(u);
        let cur = self.descend(&query, ep, top, 0);
        let ef = self.params.ef_construction;
        self.search_layer(&query, &[cur], ef, 0, s, false, selective, accept)
            .to_vec()
    }

    /// Greedy descent from the entry point `ep` on layer `top` down to layer `to + 1`: the
    /// node to start layer `to` from.
    fn descend(&self, q: &S::Query<'_>, ep: u32, top: usize, to: usize) -> Cand {
        let mut cur = Cand {
            dist: self.store.distance(q, ep),
            slot: ep,
        };
        for level in (to + 1..=top).rev() {
            cur = self.greedy(q, cur, level);
        }
        cur
    }

    /// Greedy walk on an upper layer: move to the nearest neighbour while it improves.
    fn greedy(&self, q: &S::Query<'_>, mut cur: Cand, level: usize) -> Cand {
        loop {
            let mut improved = false;
            for n in self.links.neighbors(cur.slot, level) {
                self.store.prefetch(n);
            }
            for n in self.links.neighbors(cur.slot, level) {
                let d = self.store.distance(q, n);
                if d < cur.dist {
                    cur = Cand { dist: d, slot: n };
                    improved = true;
                }
            }
            if !improved {
                return cur;
            }
        }
    }

    /// Whether more than a quarter of the slots are tombstones: a search without a filter then
    /// rejects enough nodes that [`Hnsw::search_layer`] keeps its frontier in heaps.
    fn many_tombstones(&self) -> bool {
        self.ids.n_deleted() > self.ids.slots() / 4
    }

    /// Beam search on one layer. Every reachable node may be expanded; only nodes for which
    /// `accept` holds enter the results. Returns up to `ef` accepted nodes, nearest first (also
    /// left in `s.found`). With `resume`, the visited marks and results of the previous call
    /// are kept and the walk continues from `entries`. `selective` says that `accept` may
    /// reject many nodes (a user's filter, many tombstones): the frontier is then kept in heaps
    /// (O(log n) per insert) instead of the sorted pool, which holds every admitted rejected node
    /// too and moves O(n) entries per insert. A pool that grows long anyway hands its state to
    /// the heaps mid-walk; both expand the same nodes in the same order.
    #[allow(clippy::too_many_arguments)]
    fn search_layer<'s>(
        &self,
        q: &S::Query<'_>,
        entries: &[Cand],
        ef: usize,
        level: usize,
        s: &'s mut Scratch,
        resume: bool,
        selective: bool,
        accept: &impl Fn(u32) -> bool,
    ) -> &'s [Cand] {
        if !resume {
            s.visited.reset(self.links.len());
        }
        let Scratch {
            visited,
            heaps,
            pool,
            fresh,
            found,
        } = s;
        // Past `Pool::MAX_EF` an insert into the pool moves kilobytes: the heaps are cheaper.
        if selective || ef > Pool::MAX_EF || !Pool::ENABLED {
            heaps.begin(ef, resume, found);
            self.seed(entries, visited, heaps, accept);
        } else {
            pool.begin(ef, resume, found);
            self.seed(entries, visited, pool, accept);
            if self.walk(q, level, visited, fresh, pool, accept) {
                pool.finish(found);
                return &s.found;
            }
            // The pool grew long (a region dense with rejected nodes, or ranking nearly every
            // node while fewer than `ef` are accepted): the heaps take over the same state.
            pool.spill_into(heaps);
        }
        self.walk(q, level, visited, fresh, heaps, accept);
        heaps.finish(found);
        &s.found
    }

    /// Puts the unvisited `entries` on the beam.
    #[inline]
    fn seed<B: Beam>(
        &self,
        entries: &[Cand],
        visited: &mut Visited,
        beam: &mut B,
        accept: &impl Fn(u32) -> bool,
    ) {
        // Never more seeds than results: each is then admitted, as the seeds of the heaps
        // before the `Beam` trait were (they evicted by (distance, slot) on overflow).
        debug_assert!(entries.len() <= beam.ef());
        for &e in entries {
            if visited.check_and_mark(e.slot) || !beam.admits(e.dist) {
                continue;
            }
            beam.push(e, accept(e.slot));
        }
    }

    /// [`Hnsw::search_layer`]'s walk over one kind of [`Beam`], from the state it holds. Returns
    /// `false`, between two expansions, as soon as the beam says it is too long
    /// ([`Beam::too_long`]); `true` when the search is over.
    #[inline]
    fn walk<B: Beam>(
        &self,
        q: &S::Query<'_>,
        level: usize,
        visited: &mut Visited,
        fresh: &mut Vec<u32>,
        beam: &mut B,
        accept: &impl Fn(u32) -> bool,
    ) -> bool {
        let ahead = self.store.prefetch_distance();
        while let Some(c) = beam.next() {
            // The next candidate's list is probably the next one read: start loading it while
            // this one's neighbours are measured.
            let mut next_dist = f32::INFINITY;
            if level == 0
                && let Some(next) = beam.peek()
            {
                self.links.prefetch0(next.slot);
                next_dist = next.dist;
            }
            // Mark first, then prefetch only the vectors that will be read: the first `ahead`
            // in full now, the others as `prefetch` does (whole when short, else the first
            // line) and then in full `ahead` places before they are measured (a row of 384 f32
            // is 24 lines; the first line alone left the loop waiting on the rest — measured
            // +14% QPS at ef 16, +25% at ef 64 on 100k x 384 against first lines only).
            // One branch per list on its layout, so that each marking loop is specialized.
            let cap = self.links.cap(level);
            match self.links.neighbors(c.slot, level) {
                Neighbors::Words(w) => visited.mark_fresh(w, cap, fresh),
                Neighbors::Packed(p) => visited.mark_fresh(p, cap, fresh),
            }
            for (i, &n) in fresh.iter().enumerate() {
                if i < ahead {
                    self.store.prefetch_all(n);
                } else {
                    self.store.prefetch(n);
                }
            }
            for (i, &n) in fresh.iter().enumerate() {
                if let Some(&next) = fresh.get(i + ahead) {
                    self.store.prefetch_all(next);
                }
                let d = self.store.distance(q, n);
                if beam.admits(d) {
                    if level == 0 {
                        if d < next_dist {
                            // The new nearest candidate: its list is the next one read.
                            self.links.prefetch0(n);
                            next_dist = d;
                        } else {
                            self.links.prefetch_end(n);
                        }
                    }
                    beam.push(Cand { dist: d, slot: n }, accept(n));
                }
            }
            if beam.too_long() {
                return false;
            }
        }
        true
    }

    /// Slots reachable from `starts` over layer-0 edges.
    fn reach_from(&self, starts: &[u32]) -> Vec<bool> {
        let mut seen = vec![false; self.links.len()];
        let mut queue: VecDeque<u32> = VecDeque::new();
        for &s in starts {
            if !seen[s as usize] {
                seen[s as usize] = true;
                queue.push_back(s);
            }
        }
        let mut buf = Vec::new();
        while let Some(u) = queue.pop_front() {
            self.links.read_into(u, 0, &mut buf);
            for &v in &buf {
                if !seen[v as usize] {
                    seen[v as usize] = true;
                    queue.push_back(v);
                }
            }
        }
        seen
    }

    /// The list of live node `u` on `level` with deleted neighbours replaced (old slots).
    fn repaired_list(&self, u: u32, level: usize) -> Vec<u32> {
        let old = self.links.read(u, level);
        if old.iter().all(|&v| !self.ids.is_deleted(v)) {
            return old;
        }
        // Live nodes reachable from u through deleted ones (a bounded walk).
        const MAX_DEAD_VISITS: usize = 64;
        let mut cands: Vec<u32> = Vec::new();
        let mut seen: HashSet<u32> = HashSet::from([u]);
        let mut dead: VecDeque<u32> = VecDeque::new();
        for &v in &old {
            if seen.insert(v) {
                if self.ids.is_deleted(v) {
                    dead.push_back(v);
                } else {
                    cands.push(v);
                }
            }
        }
        let mut visits = 0;
        let mut buf = Vec::new();
        while let Some(d) = dead.pop_front() {
            if visits == MAX_DEAD_VISITS {
                break;
            }
            visits += 1;
            self.links.read_into(d, level, &mut buf);
            for &v in &buf {
                if self.links.level(v) >= level && seen.insert(v) {
                    if self.ids.is_deleted(v) {
                        dead.push_back(v);
                    } else {
                        cands.push(v);
                    }
                }
            }
        }
        // The live neighbours stay (the heuristic chose them when the list was built);
        // replacements for the deleted ones come from behind them, nearest first, each diverse
        // from the replacements already taken. (Also testing diversity against the kept live
        // neighbours leaves lists too short: recall after compacting 30% fell ~1 point below a
        // fresh build in the recall test; this way it matches the fresh build.)
        let live: Vec<u32> = old
            .iter()
            .copied()
            .filter(|&v| !self.ids.is_deleted(v))
            .collect();
        let mut extra: Vec<Cand> = cands
            .into_iter()
            .filter(|v| !live.contains(v))
            .map(|v| Cand {
                dist: self.store.distance_between(u, v),
                slot: v,
            })
            .collect();
        extra.sort_unstable();
        let cap = self.links.cap(level);
        let n_live = live.len();
        let mut kept = live;
        for c in extra {
            if kept.len() >= cap {
                break;
            }
            let diverse = kept[n_live..]
                .iter()
                .all(|&k| self.store.distance_between(c.slot, k) >= c.dist);
            if diverse {
                kept.push(c.slot);
            }
        }
        kept
    }

    /// Rebuilds the anchor tree after the slots changed: a breadth-first walk from the entry
    /// point anchors every node it reaches to its discoverer; each node it cannot reach is
    /// attached to a nearby anchored node (and the walk continues from there).
    fn reanchor(&mut self) {
        let n = self.links.len();
        self.links.clear_anchors();
        let Some((ep, _)) = unpack(self.entry.load(Acquire)) else {
            return;
        };
        // The entry point is the new root of the anchor tree (anchored to itself).
        self.links.set_root(ep);
        let mut reached = vec![false; n];
        self.anchor_walk(ep, &mut reached);
        let pool = std::mem::take(&mut self.pool);
        pool.with(|s| {
            for u in 0..n as u32 {
                if !reached[u as usize] {
                    if self.links.read(u, 0).is_empty() {
                        self.relink_isolated(u, s);
                    }
                    if self.anchor_by_search(u, s) {
                        reached[u as usize] = true;
                        self.anchor_walk(u, &mut reached);
                    }
                }
            }
        });
        self.pool = pool;
    }

    /// Anchors every not-yet-reached node reachable from `start` to its discoverer.
    fn anchor_walk(&self, start: u32, reached: &mut [bool]) {
        reached[start as usize] = true;
        let mut queue = VecDeque::from([start]);
        let mut buf = Vec::new();
        while let Some(u) = queue.pop_front() {
            self.links.read_into(u, 0, &mut buf);
            for &v in &buf {
                // (Pinning fails only when u already anchors 255 nodes; v is found again
                // from another node, or anchored by a search afterwards.)
                if !reached[v as usize] && self.links.pin(u, v) {
                    reached[v as usize] = true;
                    queue.push_back(v);
                }
            }
        }
    }

    /// Gives a node with no layer-0 neighbours a fresh list from a search.
    fn relink_isolated(&self, u: u32, s: &mut Scratch) {
        let found = self.nearest_to_node(u, s, false, &|x: u32| x != u);
        let chosen = self.select(&found, self.params.m, 0, None);
        self.links.write(u, 0, &chosen);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_the_geometric_law() {
        let mut h = Hnsw::new_f32(1, Metric::L2, HnswParams::default()).unwrap();
        let n = 20_000;
        let mut counts = [0usize; 8];
        for i in 0..n {
            h.add_node(i, &[i as f32]).unwrap();
            let l = h.links.level(i as u32);
            counts[l.min(7)] += 1;
        }
        // P(level >= 1) = 1/M = 1/16.
        let above = (n as usize - counts[0]) as f64 / n as f64;
        assert!((above - 1.0 / 16.0).abs() < 0.01, "{above}");
    }

    #[test]
    fn a_loaded_layer_0_keeps_no_spare_room() {
        // Layer 0 is reserved from an upper bound that counts the upper layers' entries too;
        // the room they would have taken is given back.
        let mut h = Hnsw::new_f32(2, Metric::L2, HnswParams::default()).unwrap();
        let ids: Vec<u64> = (0..3_000).collect();
        let rows: Vec<f32> = ids
            .iter()
            .flat_map(|&i| {
                let x = i as f32;
                [x.sin() * 10.0, (x * 0.37).cos() * 10.0]
            })
            .collect();
        h.insert_batch(&ids, &rows, 1).unwrap();
        let parts = h.to_parts();
        assert!(parts.levels.iter().any(|&l| l > 0));
        let t = Topology::from_parts(*h.params(), parts).unwrap();
        assert!(t.links.is_packed());
        assert_eq!(t.links.packed_spare_bytes(), 0);
    }
}
