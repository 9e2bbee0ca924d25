//! A sequence of insert / delete / upsert / search / compact on a small HNSW graph, checked
//! against a brute-force model after every step: searches wide enough to be exhaustive must
//! return exactly the model's top k (integer coordinates make every distance exact), no deleted
//! id ever appears, and every live node stays reachable from the entry point ("graph
//! disconnects"), with every node anchored. A reload (parts out and back in) must give the same
//! parts, and the loaded graph (layer 0 packed until it changes) must pass the same checks.
#![no_main]

use std::collections::BTreeMap;

use arbitrary::Arbitrary;
use edgevec_graph::{F32Store, Hnsw, HnswParams, Metric};
use libfuzzer_sys::fuzz_target;

const DIM: usize = 4;

#[derive(Debug, Arbitrary)]
enum Op {
    Insert(u8, [i8; DIM]),
    Upsert(u8, [i8; DIM]),
    Delete(u8),
    Search([i8; DIM], u8),
    Compact,
    /// Save and load (`to_parts` / `from_parts`): the loaded graph keeps layer 0 packed until
    /// its next change.
    Reload,
}

#[derive(Debug, Arbitrary)]
struct Case {
    m: u8,
    ef_construction: u8,
    seed: u64,
    batch: Vec<(u8, [i8; DIM])>,
    ops: Vec<Op>,
}

fn row(v: &[i8; DIM]) -> Vec<f32> {
    v.iter().map(|x| f32::from(*x)).collect()
}

fn l2(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

fn check(h: &Hnsw, model: &BTreeMap<u64, Vec<f32>>) {
    assert_eq!(h.len(), model.len());
    assert!(h.unreachable_ids().is_empty(), "graph disconnected");
    assert_eq!(h.stats().unanchored, 0);
}

fuzz_target!(|case: Case| {
    let params = HnswParams {
        m: 2 + usize::from(case.m % 15),
        ef_construction: 1 + usize::from(case.ef_construction),
        ef_search: 16,
        seed: case.seed,
    };
    let mut h = Hnsw::new_f32(DIM, Metric::L2, params).expect("valid parameters");
    let mut model: BTreeMap<u64, Vec<f32>> = BTreeMap::new();
    // A batch first (duplicates in it must reject the whole batch).
    let ids: Vec<u64> = case.batch.iter().map(|(id, _)| u64::from(*id)).collect();
    let rows: Vec<f32> = case.batch.iter().flat_map(|(_, v)| row(v)).collect();
    let unique = ids.iter().collect::<std::collections::HashSet<_>>().len() == ids.len();
    let r = h.insert_batch(&ids, &rows, 1 + (case.seed % 2) as usize);
    assert_eq!(r.is_ok(), unique, "{r:?}");
    if unique {
        for (id, v) in &case.batch {
            model.insert(u64::from(*id), row(v));
        }
    }
    check(&h, &model);
    for op in case.ops.iter().take(300) {
        match op {
            Op::Insert(id, v) => {
                let id = u64::from(*id);
                let r = h.insert(id, &row(v));
                assert_eq!(r.is_ok(), !model.contains_key(&id));
                model.entry(id).or_insert_with(|| row(v));
            }
            Op::Upsert(id, v) => {
                let replaced = h.upsert(u64::from(*id), &row(v)).expect("valid vector");
                assert_eq!(replaced, model.insert(u64::from(*id), row(v)).is_some());
            }
            Op::Delete(id) => {
                assert_eq!(h.delete(u64::from(*id)), model.remove(&u64::from(*id)).is_some());
            }
            Op::Compact => {
                let n = h.deleted_len();
                assert_eq!(h.compact(), n);
                assert_eq!(h.deleted_len(), 0);
            }
            Op::Reload => {
                let parts = h.to_parts();
                let store = F32Store::from_rows(DIM, Metric::L2, h.store().rows().to_vec())
                    .expect("the graph's own rows");
                let back =
                    Hnsw::from_parts(store, *h.params(), parts.clone()).expect("own parts load");
                assert_eq!(back.to_parts(), parts);
                h = back;
            }
            Op::Search(q, k) => {
                let q = row(q);
                let k = 1 + usize::from(*k % 20);
                // ef above every slot count: the beam never fills, the search is exhaustive.
                let hits = h.search_with(&q, k, 1024, None).expect("valid query");
                let mut want: Vec<(f32, u64)> =
                    model.iter().map(|(id, v)| (l2(&q, v), *id)).collect();
                want.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                want.truncate(k);
                let got: Vec<(f32, u64)> = hits.iter().map(|n| (n.distance, n.id)).collect();
                assert_eq!(got, want);
            }
        }
        check(&h, &model);
    }
});
