//! Little-endian section writing and reading: magic, version, kind, CRC32 (layouts in
//! `docs/QUANTIZATION.md`).

use crate::{CodecKind, Metric, QuantError};

pub(crate) const PARAMS_MAGIC: [u8; 4] = *b"EVQP";
pub(crate) const CODES_MAGIC: [u8; 4] = *b"EVQC";
pub(crate) const VERSION: u16 = 1;
pub(crate) const PARAMS: &str = "codec parameters";
pub(crate) const CODES: &str = "code section";
/// Bytes of the parameter header (magic, version, kind, metric, flags, dim).
pub(crate) const PARAMS_HEADER: usize = 14;
const CRC: usize = 4;

/// Appends little-endian fields to a section and closes it with its CRC32.
pub(crate) struct Writer(Vec<u8>);

impl Writer {
    pub(crate) fn params(
        kind: CodecKind,
        metric: Metric,
        flags: u8,
        dim: usize,
        body: usize,
    ) -> Self {
        let mut w = Writer(Vec::with_capacity(PARAMS_HEADER + body + CRC));
        w.0.extend_from_slice(&PARAMS_MAGIC);
        w.u16(VERSION);
        w.u16(kind.tag());
        w.0.push(metric.tag());
        w.0.push(flags);
        // dim <= MAX_DIM, checked when the quantizer was built.
        w.u32(dim as u32);
        w
    }

    pub(crate) fn codes(kind: CodecKind, code_len: usize, count: usize) -> Self {
        let mut w = Writer(Vec::with_capacity(CODES_HEADER + code_len * count + CRC));
        w.0.extend_from_slice(&CODES_MAGIC);
        w.u16(VERSION);
        w.u16(kind.tag());
        w.u32(code_len as u32);
        w.u64(count as u64);
        w
    }

    pub(crate) fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn f32(&mut self, v: f32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn f32s(&mut self, vs: &[f32]) {
        for v in vs {
            self.f32(*v);
        }
    }
    pub(crate) fn bytes(&mut self, bytes: impl IntoIterator<Item = u8>) {
        self.0.extend(bytes);
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        let crc = crc32fast::hash(&self.0);
        self.u32(crc);
        self.0
    }
}

/// Reads fields from a section whose length was checked beforehand (reads past the end are
/// reported as truncation anyway, never a panic).
pub(crate) struct Reader<'a> {
    what: &'static str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], QuantError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.bytes.len());
        let Some(end) = end else {
            return Err(QuantError::Length {
                what: self.what,
                expected: (self.pos as u64).saturating_add(n as u64),
                found: self.bytes.len() as u64,
            });
        };
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], QuantError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    pub(crate) fn u16(&mut self) -> Result<u16, QuantError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    pub(crate) fn u32(&mut self) -> Result<u32, QuantError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub(crate) fn u64(&mut self) -> Result<u64, QuantError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    pub(crate) fn u8(&mut self) -> Result<u8, QuantError> {
        Ok(self.array::<1>()?[0])
    }
    /// A finite f32 (NaN and infinities are corruption).
    pub(crate) fn f32(&mut self, field: &str) -> Result<f32, QuantError> {
        let v = f32::from_le_bytes(self.array()?);
        if !v.is_finite() {
            return Err(corrupt(
                self.what,
                format!("{field} is {v}, expected a finite number"),
            ));
        }
        Ok(v)
    }
    pub(crate) fn f32s(&mut self, n: usize, field: &str) -> Result<Vec<f32>, QuantError> {
        (0..n).map(|_| self.f32(field)).collect()
    }
}

pub(crate) fn corrupt(what: &'static str, reason: String) -> QuantError {
    QuantError::Corrupt { what, reason }
}

/// Bytes of the code-section header (magic, version, kind, code length, count).
pub(crate) const CODES_HEADER: usize = 20;

/// The fixed part of a parameter section.
#[derive(Debug)]
pub(crate) struct ParamsHeader {
    pub(crate) metric: Metric,
    pub(crate) flags: u8,
    pub(crate) dim: usize,
}

/// Checks magic, version and kind of a section.
fn check_start(
    what: &'static str,
    r: &mut Reader<'_>,
    magic: [u8; 4],
    kind: CodecKind,
) -> Result<(), QuantError> {
    let found: [u8; 4] = r.array()?;
    if found != magic {
        return Err(QuantError::BadMagic {
            what,
            expected: magic,
            found,
        });
    }
    let version = r.u16()?;
    if version != VERSION {
        return Err(QuantError::UnsupportedVersion {
            what,
            found: version,
            supported: VERSION,
        });
    }
    let tag = r.u16()?;
    if tag != kind.tag() {
        return Err(QuantError::WrongKind {
            what,
            expected: kind,
            found: tag,
        });
    }
    Ok(())
}

/// Checks the total length and the trailing CRC32.
fn check_len_crc(what: &'static str, bytes: &[u8], expected: u64) -> Result<(), QuantError> {
    if bytes.len() as u64 != expected {
        return Err(QuantError::Length {
            what,
            expected,
            found: bytes.len() as u64,
        });
    }
    let (data, crc) = bytes.split_at(bytes.len() - CRC);
    let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let computed = crc32fast::hash(data);
    if stored != computed {
        return Err(QuantError::Checksum {
            what,
            stored,
            computed,
        });
    }
    Ok(())
}

/// Opens a parameter section of `kind`: checks magic, version, kind, the length
/// `PARAMS_HEADER + body(flags, dim) + CRC` and the CRC, then returns the header and a reader
/// positioned at the body (the metric and dim are validated; flags are the codec's to check).
pub(crate) fn open_params<'a>(
    bytes: &'a [u8],
    kind: CodecKind,
    body: impl Fn(u8, usize) -> usize,
) -> Result<(ParamsHeader, Reader<'a>), QuantError> {
    let mut r = Reader {
        what: PARAMS,
        bytes,
        pos: 0,
    };
    check_start(PARAMS, &mut r, PARAMS_MAGIC, kind)?;
    let metric_tag = r.u8()?;
    let flags = r.u8()?;
    let dim = r.u32()? as usize;
    if dim == 0 || dim > crate::MAX_DIM {
        return Err(corrupt(PARAMS, format!("dim is {dim}, expected 1..=65536")));
    }
    check_len_crc(
        PARAMS,
        bytes,
        (PARAMS_HEADER + body(flags, dim) + CRC) as u64,
    )?;
    let metric = Metric::from_tag(metric_tag)
        .ok_or_else(|| corrupt(PARAMS, format!("unknown metric tag {metric_tag}")))?;
    Ok((ParamsHeader { metric, flags, dim }, r))
}

/// Opens a code section of `kind` whose codes are `code_len` bytes: returns the number of codes
/// and the code bytes.
pub(crate) fn open_codes(
    bytes: &[u8],
    kind: CodecKind,
    code_len: usize,
) -> Result<(usize, &[u8]), QuantError> {
    let mut r = Reader {
        what: CODES,
        bytes,
        pos: 0,
    };
    check_start(CODES, &mut r, CODES_MAGIC, kind)?;
    let found_len = r.u32()?;
    if u64::from(found_len) != code_len as u64 {
        return Err(corrupt(
            CODES,
            format!("codes are {found_len} bytes, but the quantizer's codes are {code_len} bytes"),
        ));
    }
    let count = r.u64()?;
    let expected = count
        .checked_mul(code_len as u64)
        .and_then(|n| n.checked_add((CODES_HEADER + CRC) as u64))
        .ok_or_else(|| corrupt(CODES, format!("count {count} overflows")))?;
    check_len_crc(CODES, bytes, expected)?;
    let count = usize::try_from(count)
        .map_err(|_| corrupt(CODES, format!("count {count} does not fit this machine")))?;
    Ok((count, &bytes[CODES_HEADER..bytes.len() - CRC]))
}
