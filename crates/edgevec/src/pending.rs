//! A quantized index before its codec is trained: f32 rows searched exactly by brute force.

use std::collections::{HashMap, HashSet};

use edgevec_graph::{GraphError, Neighbor, check_vector};
use edgevec_quant::exact_distance;
use edgevec_simd::Metric;

#[derive(Debug)]
pub(crate) struct Pending {
    dim: usize,
    metric: Metric,
    ids: Vec<u64>,
    rows: Vec<f32>,
    /// id → position in `ids`.
    map: HashMap<u64, usize>,
}

impl Pending {
    pub(crate) fn new(dim: usize, metric: Metric) -> Self {
        Self {
            dim,
            metric,
            ids: Vec::new(),
            rows: Vec::new(),
            map: HashMap::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    pub(crate) fn contains(&self, id: u64) -> bool {
        self.map.contains_key(&id)
    }

    fn push(&mut self, id: u64, vector: &[f32]) {
        self.map.insert(id, self.ids.len());
        self.ids.push(id);
        self.rows.extend_from_slice(vector);
    }

    pub(crate) fn upsert(&mut self, id: u64, vector: &[f32]) -> Result<bool, GraphError> {
        check_vector(vector, self.dim, self.metric)?;
        match self.map.get(&id) {
            Some(&i) => {
                self.rows[i * self.dim..(i + 1) * self.dim].copy_from_slice(vector);
                Ok(true)
            }
            None => {
                self.push(id, vector);
                Ok(false)
            }
        }
    }

    pub(crate) fn delete(&mut self, id: u64) -> bool {
        let Some(i) = self.map.remove(&id) else {
            return false;
        };
        let last = self.ids.len() - 1;
        self.ids.swap_remove(i);
        if i != last {
            let d = self.dim;
            self.rows.copy_within(last * d..(last + 1) * d, i * d);
            self.map.insert(self.ids[i], i);
        }
        self.rows.truncate(last * self.dim);
        true
    }

    /// The same checks as the graph's `insert_batch`, without inserting.
    pub(crate) fn check_batch(&self, ids: &[u64], vectors: &[f32]) -> Result<(), GraphError> {
        if ids.len().checked_mul(self.dim) != Some(vectors.len()) {
            return Err(GraphError::BatchShape {
                ids: ids.len(),
                values: vectors.len(),
                dim: self.dim,
            });
        }
        let mut seen = HashSet::with_capacity(ids.len());
        for (index, (id, row)) in ids.iter().zip(vectors.chunks_exact(self.dim)).enumerate() {
            let item = |source| GraphError::BatchItem {
                index,
                source: Box::new(source),
            };
            check_vector(row, self.dim, self.metric).map_err(item)?;
            if self.map.contains_key(id) || !seen.insert(*id) {
                return Err(item(GraphError::DuplicateId(*id)));
            }
        }
        Ok(())
    }

    pub(crate) fn insert_batch(&mut self, ids: &[u64], vectors: &[f32]) -> Result<(), GraphError> {
        self.check_batch(ids, vectors)?;
        for (id, row) in ids.iter().zip(vectors.chunks_exact(self.dim)) {
            self.push(*id, row);
        }
        Ok(())
    }

    /// Moves every collected vector out (ids, row-major rows), leaving this empty.
    pub(crate) fn take(&mut self) -> (Vec<u64>, Vec<f32>) {
        self.map.clear();
        (
            std::mem::take(&mut self.ids),
            std::mem::take(&mut self.rows),
        )
    }

    /// Puts back what [`Pending::take`] returned.
    pub(crate) fn restore(&mut self, ids: Vec<u64>, rows: Vec<f32>) {
        self.map = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        self.ids = ids;
        self.rows = rows;
    }

    pub(crate) fn ids(&self) -> &[u64] {
        &self.ids
    }

    /// The row of live `id`.
    pub(crate) fn row(&self, id: u64) -> Option<&[f32]> {
        let i = *self.map.get(&id)?;
        self.rows.get(i * self.dim..(i + 1) * self.dim)
    }

    pub(crate) fn rows(&self) -> &[f32] {
        &self.rows
    }

    /// Takes saved vectors back, checking them as inserts would (values, unique ids).
    pub(crate) fn load(&mut self, ids: Vec<u64>, rows: Vec<f32>) -> Result<(), crate::Error> {
        if Some(rows.len()) != ids.len().checked_mul(self.dim) {
            return Err(crate::Error::Format {
                section: "rows",
                reason: format!("{} values for {} ids", rows.len(), ids.len()),
            });
        }
        for row in rows.chunks_exact(self.dim) {
            check_vector(row, self.dim, self.metric)?;
        }
        let map: HashMap<u64, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        if map.len() != ids.len() {
            return Err(crate::Error::Format {
                section: "id map",
                reason: "an id appears twice".into(),
            });
        }
        self.ids = ids;
        self.rows = rows;
        self.map = map;
        Ok(())
    }

    /// Exact search by brute force, nearest first, ties by id.
    pub(crate) fn search(
        &self,
        query: &[f32],
        k: usize,
        filter: Option<&(dyn Fn(u64) -> bool + Sync)>,
    ) -> Result<Vec<Neighbor>, GraphError> {
        if k == 0 {
            return Err(GraphError::ZeroK);
        }
        check_vector(query, self.dim, self.metric)?;
        let mut all: Vec<Neighbor> = self
            .ids
            .iter()
            .zip(self.rows.chunks_exact(self.dim))
            .filter(|(id, _)| filter.is_none_or(|f| f(**id)))
            .map(|(id, row)| Neighbor {
                id: *id,
                distance: exact_distance(self.metric, query, row),
            })
            .collect();
        all.sort_unstable_by(|a, b| a.distance.total_cmp(&b.distance).then(a.id.cmp(&b.id)));
        all.truncate(k);
        Ok(all)
    }

    pub(crate) fn vector_bytes(&self) -> usize {
        self.rows.capacity() * std::mem::size_of::<f32>()
    }

    pub(crate) fn id_bytes(&self) -> usize {
        self.ids.capacity() * 8 + self.map.capacity() * 17
    }
}
