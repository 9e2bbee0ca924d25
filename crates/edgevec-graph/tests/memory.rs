//! Memory accounting: `stats()` reports what the index really holds (allocated capacity, hash
//! table buckets and control bytes, not lengths), checked against a counting global allocator;
//! and a built graph stays within its budget of `8·M + 24` bytes per node besides the vectors.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

use edgevec_graph::{F32Store, GraphStats, Hnsw, HnswParams, Metric};
use edgevec_testdata::embeddings;

/// The system allocator, counting the bytes currently allocated through it.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded unchanged to `System`, which upholds the `GlobalAlloc`
// contract; the counter only observes sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees for `layout` are passed on unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees for `layout` are passed on unchanged.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, that is from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from `System` with `layout`; the caller guarantees `new_size`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The tests here measure the whole process's allocations, so they run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

const DIM: usize = 32;

fn params(m: usize, ef_construction: usize) -> HnswParams {
    HnswParams {
        m,
        ef_construction,
        ef_search: 64,
        seed: 11,
    }
}

/// Everything the index holds, by its own account.
fn accounted(st: &GraphStats) -> usize {
    st.vector_bytes + st.graph_bytes + st.id_bytes + st.scratch_bytes
}

/// Bytes per node besides the vectors.
fn per_node(st: &GraphStats) -> f64 {
    (st.graph_bytes + st.id_bytes + st.scratch_bytes) as f64 / st.slots as f64
}

/// Checks that `h` accounts for what was allocated since `base` (the bytes live before it was
/// created) within 1%. (The index's own count is exact but for the store's inline struct; what
/// else the allocator can see is a dropped rayon pool's leftovers, a few kilobytes that its
/// exiting threads free later.)
fn check(h: &Hnsw, base: isize, what: &str) {
    let real = (LIVE.load(Relaxed) - base) as f64;
    let st = h.stats();
    let claimed = accounted(&st) as f64;
    let error = (claimed - real).abs() / real;
    eprintln!(
        "{what}: stats {claimed}, allocator {real}, diff {}",
        real - claimed
    );
    assert!(
        error < 0.01,
        "{what}: stats account for {claimed} bytes, the allocator says {real} ({:.2}% off)",
        error * 100.0
    );
}

#[test]
fn accounting_matches_the_allocator() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let n = 12_000;
    let rows = embeddings(3, n + 4_000, DIM);
    let ids: Vec<u64> = (0..n as u64).map(|i| i * 3 + 1).collect();
    let query = rows[..DIM].to_vec();
    let more: Vec<u64> = (0..2_000).map(|i| 2_000_000 + i).collect();
    // Compaction runs on rayon's global pool, which allocates when it starts and as its work
    // queues grow: let it do so before counting.
    let mut warm = Hnsw::new_f32(DIM, Metric::L2, params(16, 64)).unwrap();
    warm.insert_batch(&ids[..4_000], &rows[..4_000 * DIM], 2)
        .unwrap();
    ids[..4_000].iter().step_by(3).for_each(|id| {
        warm.delete(*id);
    });
    warm.compact();
    drop(warm);
    let base = LIVE.load(Relaxed);

    let mut h = Hnsw::new_f32(DIM, Metric::L2, params(16, 64)).unwrap();
    h.insert_batch(&ids, &rows[..n * DIM], 1).unwrap();
    h.search(&query, 10).unwrap();
    check(&h, base, "one batch");

    // One-at-a-time growth, upserts (tombstones), deletes, a parallel batch.
    for (i, row) in rows[n * DIM..].chunks_exact(DIM).take(1_000).enumerate() {
        h.insert(1_000_000 + i as u64, row).unwrap();
    }
    for (i, row) in rows[(n + 1_000) * DIM..]
        .chunks_exact(DIM)
        .take(500)
        .enumerate()
    {
        h.upsert(ids[i * 7], row).unwrap();
    }
    for id in ids.iter().skip(1).step_by(5) {
        h.delete(*id);
    }
    h.insert_batch(&more, &rows[(n + 2_000) * DIM..], 2)
        .unwrap();
    h.search(&query, 10).unwrap();
    check(
        &h,
        base,
        "after inserts, upserts, deletes and a parallel batch",
    );

    h.compact();
    h.search(&query, 10).unwrap();
    check(&h, base, "after compaction");

    // A graph rebuilt from its parts over a copy of the store: what is live after `from_parts`
    // consumed the parts is the new graph.
    let base = LIVE.load(Relaxed);
    let parts = h.to_parts();
    let store = F32Store::from_rows(DIM, Metric::L2, h.store().rows().to_vec()).unwrap();
    let back = Hnsw::from_parts(store, *h.params(), parts).unwrap();
    back.search(&query, 10).unwrap();
    check(&back, base, "from_parts");
}

#[test]
fn a_built_graph_stays_within_8m_plus_24_bytes_per_node() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let n = 20_000;
    let rows = embeddings(5, n, DIM);
    let ids: Vec<u64> = (0..n as u64).collect();
    for threads in [1, 2] {
        let m = 16;
        let mut h = Hnsw::new_f32(DIM, Metric::L2, params(m, 200)).unwrap();
        h.insert_batch(&ids, &rows, threads).unwrap();
        // One search thread's scratch is part of the budget.
        h.search(&rows[..DIM], 10).unwrap();
        let st = h.stats();
        let budget = (8 * m + 24) as f64;
        let got = per_node(&st);
        eprintln!(
            "{threads} thread(s): {got:.1} bytes per node (lists {:.1}, ids {:.1}, scratch {:.1}), \
             budget {budget}",
            st.graph_bytes as f64 / n as f64,
            st.id_bytes as f64 / n as f64,
            st.scratch_bytes as f64 / n as f64,
        );
        assert!(got <= budget, "{got:.1} bytes per node, budget {budget}");
    }
}
