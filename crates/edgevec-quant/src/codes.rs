//! `Codes`: fixed-width codes in one contiguous allocation, and their byte section.

use crate::bytes::{self, Writer};
use crate::{CodeElem, CodecKind, QuantError, Quantizer};

/// Codes of one quantizer, stored contiguously in slot order (slot `i` at
/// `i * code_len .. (i + 1) * code_len`): what a `VectorStore` over codes holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Codes<E: CodeElem> {
    kind: CodecKind,
    code_len: usize,
    data: Vec<E>,
}

impl<E: CodeElem> Codes<E> {
    /// An empty array for the codes of `quantizer`.
    pub fn new<Q: Quantizer<Elem = E>>(quantizer: &Q) -> Self {
        Self {
            kind: Q::KIND,
            code_len: quantizer.code_len(),
            data: Vec::new(),
        }
    }

    /// Elements per code.
    pub fn code_len(&self) -> usize {
        self.code_len
    }

    /// Number of codes.
    pub fn len(&self) -> usize {
        self.data.len() / self.code_len
    }

    /// Whether there are no codes.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Reserves room for `additional` more codes.
    pub fn reserve(&mut self, additional: usize) {
        self.data.reserve(additional.saturating_mul(self.code_len));
        edgevec_simd::hint_huge_pages(&self.data);
    }

    /// Asks the operating system to back the codes with huge pages (see
    /// `edgevec_simd::advise_huge_pages`); returns whether it did. Advisory: the codes never
    /// change.
    pub fn advise_huge_pages(&self) -> bool {
        edgevec_simd::advise_huge_pages(&self.data)
    }

    /// Encodes `vector` with `quantizer` and appends its code; returns the code's index.
    /// Nothing is appended on error.
    pub fn push<Q: Quantizer<Elem = E>>(
        &mut self,
        quantizer: &Q,
        vector: &[f32],
    ) -> Result<usize, QuantError> {
        crate::check_code_len(self.code_len, quantizer.code_len())?;
        let index = self.len();
        let start = self.data.len();
        self.data.resize(start + self.code_len, E::default());
        if let Err(e) = quantizer.encode_into(vector, &mut self.data[start..]) {
            self.data.truncate(start);
            return Err(e);
        }
        Ok(index)
    }

    /// Appends an already encoded code; returns its index.
    pub fn push_code(&mut self, code: &[E]) -> Result<usize, QuantError> {
        crate::check_code_len(self.code_len, code.len())?;
        self.data.extend_from_slice(code);
        Ok(self.len() - 1)
    }

    /// The code at `index`.
    ///
    /// # Panics
    /// When `index >= self.len()`.
    #[inline]
    #[track_caller]
    pub fn get(&self, index: usize) -> &[E] {
        let start = index * self.code_len;
        &self.data[start..start + self.code_len]
    }

    /// All codes, concatenated.
    pub fn as_slice(&self) -> &[E] {
        &self.data
    }

    /// Keeps only the listed codes: new index `i` holds what old index `keep[i]` held. `keep`
    /// must be strictly increasing (as the graph's compaction gives it).
    ///
    /// # Panics
    /// When `keep` is not strictly increasing or names an index `>= self.len()`.
    pub fn retain(&mut self, keep: &[u32]) {
        let n = self.code_len;
        let len = self.len();
        for (new, &old) in keep.iter().enumerate() {
            let old = old as usize;
            assert!(
                old < len && old >= new,
                "retain: index {old} out of order or out of range"
            );
            if old != new {
                self.data.copy_within(old * n..(old + 1) * n, new * n);
            }
        }
        self.data.truncate(keep.len() * n);
        self.data.shrink_to_fit();
    }

    /// Bytes of memory held (allocation capacity plus the struct).
    pub fn memory_bytes(&self) -> usize {
        self.data.capacity() + std::mem::size_of::<Self>()
    }

    /// The codes as a checksummed little-endian section (layout in `docs/QUANTIZATION.md`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::codes(self.kind, self.code_len, self.len());
        w.bytes(self.data.iter().map(|e| e.to_byte()));
        w.finish()
    }

    /// Reads a section written by [`Codes::to_bytes`] for the codes of `quantizer`, checking
    /// magic, version, codec kind, code length, byte length and CRC.
    pub fn from_bytes<Q: Quantizer<Elem = E>>(
        quantizer: &Q,
        bytes: &[u8],
    ) -> Result<Self, QuantError> {
        let (count, body) = bytes::open_codes(bytes, Q::KIND, quantizer.code_len())?;
        debug_assert_eq!(body.len(), count * quantizer.code_len());
        let mut codes = Self::new(quantizer);
        codes.data = body.iter().map(|b| E::from_byte(*b)).collect();
        Ok(codes)
    }

    /// [`Codes::from_bytes`] taking the section's buffer and keeping it as the code array (the
    /// header is shifted out and the checksum cut off in place), so a large section is never
    /// held twice.
    ///
    /// # Errors
    /// As [`Codes::from_bytes`].
    pub fn from_vec<Q: Quantizer<Elem = E>>(
        quantizer: &Q,
        mut bytes: Vec<u8>,
    ) -> Result<Self, QuantError> {
        let (count, body) = bytes::open_codes(&bytes, Q::KIND, quantizer.code_len())?;
        let body_len = body.len();
        debug_assert_eq!(body_len, count * quantizer.code_len());
        bytes.truncate(bytes::CODES_HEADER + body_len);
        bytes.drain(..bytes::CODES_HEADER);
        let mut codes = Self::new(quantizer);
        // `u8 -> E` is a one-byte map, which the standard library runs in place (same size
        // and alignment), reusing the buffer.
        codes.data = bytes.into_iter().map(E::from_byte).collect();
        Ok(codes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Metric, ScalarI8};

    #[test]
    fn push_get_retain_round_trip() {
        let q = ScalarI8::train(Metric::L2, 3, &[1.0, -1.0, 0.5], &Default::default()).unwrap();
        let mut codes = Codes::new(&q);
        assert!(codes.is_empty());
        for i in 0..5 {
            let x = i as f32 / 5.0;
            assert_eq!(codes.push(&q, &[x, -x, 0.0]).unwrap(), i);
        }
        assert!(codes.push(&q, &[1.0, f32::NAN, 0.0]).is_err());
        assert!(codes.push(&q, &[1.0]).is_err());
        assert_eq!(codes.len(), 5);
        assert_eq!(codes.push_code(&[1, 2, 3]).unwrap(), 5);
        assert!(codes.push_code(&[1, 2]).is_err());
        let bytes = codes.to_bytes();
        assert_eq!(bytes.len(), 20 + 6 * 3 + 4);
        assert_eq!(Codes::from_bytes(&q, &bytes).unwrap(), codes);
        assert_eq!(Codes::from_vec(&q, bytes.clone()).unwrap(), codes);
        let third = codes.get(3).to_vec();
        codes.retain(&[1, 3, 5]);
        assert_eq!(codes.len(), 3);
        assert_eq!(codes.get(1), &third[..]);
        assert_eq!(codes.get(2), &[1, 2, 3]);
    }

    #[test]
    fn corrupt_sections_are_errors() {
        let q = ScalarI8::train(Metric::L2, 2, &[1.0, -1.0], &Default::default()).unwrap();
        let mut codes = Codes::new(&q);
        codes.push(&q, &[0.5, 0.5]).unwrap();
        let bytes = codes.to_bytes();
        for cut in 0..bytes.len() {
            assert!(
                Codes::from_bytes(&q, &bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            assert!(Codes::from_bytes(&q, &b).is_err(), "flip at {i}");
        }
        let other = ScalarI8::train(Metric::L2, 3, &[1.0, -1.0, 0.0], &Default::default()).unwrap();
        assert!(matches!(
            Codes::from_bytes(&other, &bytes),
            Err(QuantError::Corrupt { .. })
        ));
        let u8q = crate::ScalarU8::train(Metric::L2, 2, &[1.0, -1.0], &Default::default()).unwrap();
        assert!(matches!(
            Codes::from_bytes(&u8q, &bytes),
            Err(QuantError::WrongKind { .. })
        ));
    }
}
