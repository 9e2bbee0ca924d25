//! Reading vectors from `.fvecs`, `.npy` and raw `.f32` files, and id lists from text files.
//!
//! Every reader bounds what it allocates by the file's actual length (never by a count read
//! from the file), never panics on damaged input, and names the file and the problem in its
//! errors.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use crate::error::{CliError, Result};

/// The largest dimension accepted (the facade's limit).
pub(crate) const MAX_DIM: usize = edgevec::quant::MAX_DIM;

/// Row-major f32 vectors read from a file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Vectors {
    /// Dimensions of every row.
    pub(crate) dim: usize,
    /// `rows() × dim` values.
    pub(crate) values: Vec<f32>,
}

impl Vectors {
    /// Number of rows.
    pub(crate) fn rows(&self) -> usize {
        self.values.len().checked_div(self.dim).unwrap_or(0)
    }
}

/// The formats `read_vectors` understands, chosen by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Fvecs,
    Npy,
    RawF32,
}

fn format_of(path: &Path) -> Result<Format> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("fvecs") => Ok(Format::Fvecs),
        Some("npy") => Ok(Format::Npy),
        Some("f32") => Ok(Format::RawF32),
        _ => Err(CliError::new(format!(
            "{}: cannot tell the vector format from the file name; use .fvecs, .npy (float32, \
             2-D) or .f32 (raw little-endian float32, with --dim)",
            path.display()
        ))),
    }
}

/// Reads the vectors of `path`, by extension: `.fvecs`, `.npy` or `.f32` (which needs `dim`).
/// A `dim` given for the other formats must match the file's. The file must hold at least one
/// vector, and every value must be finite.
pub(crate) fn read_vectors(path: &Path, dim: Option<usize>) -> Result<Vectors> {
    let format = format_of(path)?;
    if let Some(d) = dim
        && (d == 0 || d > MAX_DIM)
    {
        return Err(CliError::new(format!(
            "--dim must be between 1 and {MAX_DIM}, got {d}"
        )));
    }
    let file = File::open(path).map_err(|e| CliError::io(path, "cannot open", &e))?;
    let len = file
        .metadata()
        .map_err(|e| CliError::io(path, "cannot read the size of", &e))?
        .len();
    let mut reader = Limited {
        inner: BufReader::with_capacity(1 << 16, file),
        path,
        remaining: len,
    };
    let vectors = match format {
        Format::Fvecs => read_fvecs(&mut reader, len)?,
        Format::Npy => read_npy(&mut reader, len)?,
        Format::RawF32 => {
            let d = dim.ok_or_else(|| {
                CliError::new(format!(
                    "{}: a raw .f32 file has no header; give the number of dimensions with --dim",
                    path.display()
                ))
            })?;
            read_raw(&mut reader, len, d)?
        }
    };
    if let Some(d) = dim
        && d != vectors.dim
    {
        return Err(CliError::new(format!(
            "{}: --dim {d} was given but the file holds {}-dimensional vectors",
            path.display(),
            vectors.dim
        )));
    }
    if vectors.rows() == 0 {
        return Err(CliError::new(format!(
            "{}: the file holds no vectors",
            path.display()
        )));
    }
    check_finite(path, &vectors)?;
    Ok(vectors)
}

/// Rejects NaN and infinite values, naming the row and column.
fn check_finite(path: &Path, v: &Vectors) -> Result<()> {
    if let Some(pos) = v.values.iter().position(|x| !x.is_finite()) {
        return Err(CliError::new(format!(
            "{}: row {} column {} is {}; vectors must hold finite numbers",
            path.display(),
            pos / v.dim,
            pos % v.dim,
            v.values[pos]
        )));
    }
    Ok(())
}

/// A reader that knows how many bytes are left, so every read can be checked against the file
/// length before anything is allocated.
struct Limited<'a, R> {
    inner: R,
    path: &'a Path,
    remaining: u64,
}

impl<R: Read> Limited<'_, R> {
    /// Fills `buf`, or fails naming `what` when the file ends first.
    fn exact(&mut self, buf: &mut [u8], what: impl FnOnce() -> String) -> Result<()> {
        if (buf.len() as u64) > self.remaining {
            return Err(CliError::new(format!(
                "{}: the file ends early: {} needs {} bytes but only {} are left",
                self.path.display(),
                what(),
                buf.len(),
                self.remaining
            )));
        }
        self.inner
            .read_exact(buf)
            .map_err(|e| CliError::io(self.path, "cannot read", &e))?;
        self.remaining -= buf.len() as u64;
        Ok(())
    }

    /// Appends `count` little-endian f32 values to `out` (the caller checked they fit).
    fn f32s(&mut self, count: usize, out: &mut Vec<f32>, what: impl Fn() -> String) -> Result<()> {
        let bytes = (count as u64).saturating_mul(4);
        if bytes > self.remaining {
            return Err(CliError::new(format!(
                "{}: the file ends early: {} needs {bytes} bytes but only {} are left",
                self.path.display(),
                what(),
                self.remaining
            )));
        }
        let mut buf = [0u8; 4096];
        let mut left = count;
        while left > 0 {
            let n = left.min(buf.len() / 4);
            self.exact(&mut buf[..n * 4], &what)?;
            out.extend(
                buf[..n * 4]
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            );
            left -= n;
        }
        Ok(())
    }
}

/// Capacity for `rows × dim` values, trusted only because `rows` was derived from the file
/// length.
fn capacity(rows: u64, dim: usize) -> usize {
    usize::try_from(rows)
        .ok()
        .and_then(|r| r.checked_mul(dim))
        .unwrap_or(0)
}

/// `.fvecs`: per row an i32 LE dimension, then that many f32 LE values; every row must have
/// the first row's dimension.
fn read_fvecs<R: Read>(r: &mut Limited<'_, R>, len: u64) -> Result<Vectors> {
    let path = r.path;
    if len == 0 {
        return Err(CliError::new(format!(
            "{}: the file is empty",
            path.display()
        )));
    }
    let mut word = [0u8; 4];
    let mut dim = 0usize;
    let mut values = Vec::new();
    let mut row: u64 = 0;
    while r.remaining > 0 {
        r.exact(&mut word, || format!("the dimension of row {row}"))?;
        let d = i32::from_le_bytes(word);
        if row == 0 {
            dim = usize::try_from(d)
                .ok()
                .filter(|d| (1..=MAX_DIM).contains(d))
                .ok_or_else(|| {
                    CliError::new(format!(
                        "{}: row 0 has dimension {d}; expected between 1 and {MAX_DIM} (is \
                         this an .fvecs file?)",
                        path.display()
                    ))
                })?;
            // Rows of this size fit in the file at most this many times.
            let rows = len / (4 + 4 * dim as u64);
            values.reserve_exact(capacity(rows, dim));
        } else if usize::try_from(d).ok() != Some(dim) {
            return Err(CliError::new(format!(
                "{}: row {row} has dimension {d}, expected {dim}",
                path.display()
            )));
        }
        r.f32s(dim, &mut values, || format!("row {row} ({dim} values)"))?;
        row += 1;
    }
    Ok(Vectors { dim, values })
}

/// Raw little-endian f32 values, `dim` per row.
fn read_raw<R: Read>(r: &mut Limited<'_, R>, len: u64, dim: usize) -> Result<Vectors> {
    let row_bytes = 4 * dim as u64;
    if !len.is_multiple_of(row_bytes) {
        return Err(CliError::new(format!(
            "{}: {len} bytes is not a whole number of {dim}-dimensional float32 rows ({} bytes \
             each; {} bytes left over)",
            r.path.display(),
            row_bytes,
            len % row_bytes
        )));
    }
    let rows = len / row_bytes;
    let count = capacity(rows, dim);
    let mut values = Vec::with_capacity(count);
    r.f32s(count, &mut values, || "the data".to_owned())?;
    Ok(Vectors { dim, values })
}

/// NumPy `.npy` (format versions 1 to 3): a 2-D, C-order, little-endian float32 array.
fn read_npy<R: Read>(r: &mut Limited<'_, R>, len: u64) -> Result<Vectors> {
    let path = r.path;
    let bad = |why: String| CliError::new(format!("{}: {why}", path.display()));
    let mut magic = [0u8; 8];
    r.exact(&mut magic, || "the .npy magic and version".to_owned())?;
    if &magic[..6] != b"\x93NUMPY" {
        return Err(bad("not a NumPy .npy file (bad magic bytes)".into()));
    }
    let header_len = match magic[6] {
        1 => {
            let mut b = [0u8; 2];
            r.exact(&mut b, || "the header length".to_owned())?;
            u64::from(u16::from_le_bytes(b))
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            r.exact(&mut b, || "the header length".to_owned())?;
            u64::from(u32::from_le_bytes(b))
        }
        v => {
            return Err(bad(format!(
                "unsupported .npy format version {v}.{}",
                magic[7]
            )));
        }
    };
    if header_len > r.remaining {
        return Err(bad(format!(
            "the header claims {header_len} bytes but only {} are left in the file",
            r.remaining
        )));
    }
    let mut header = vec![0u8; header_len as usize];
    r.exact(&mut header, || "the header".to_owned())?;
    // Version 3 headers are UTF-8, versions 1 and 2 latin-1; the fields read here are ASCII.
    let header = String::from_utf8_lossy(&header);
    let header = NpyHeader::parse(&header).map_err(|why| bad(format!("bad header: {why}")))?;
    if header.descr != "<f4" {
        let hint = match header.descr.as_str() {
            "<f8" | ">f8" => " (float64: convert with arr.astype('<f4'))",
            ">f4" => " (big-endian: convert with arr.astype('<f4'))",
            _ => "",
        };
        return Err(bad(format!(
            "dtype '{}' is not supported; expected little-endian float32 '<f4'{hint}",
            header.descr
        )));
    }
    if header.fortran_order {
        return Err(bad(
            "the array is in Fortran (column-major) order; save it with np.ascontiguousarray"
                .into(),
        ));
    }
    let [rows, dim] = header.shape[..] else {
        return Err(bad(format!(
            "the array has shape {:?}; expected 2 dimensions (rows, dimensions)",
            header.shape
        )));
    };
    if dim == 0 || dim > MAX_DIM as u64 {
        return Err(bad(format!(
            "the array has {dim} columns; expected between 1 and {MAX_DIM}"
        )));
    }
    let data_len = rows.checked_mul(dim).and_then(|n| n.checked_mul(4));
    if data_len != Some(r.remaining) {
        return Err(bad(format!(
            "shape ({rows}, {dim}) needs {} bytes of data but the file has {} after the header \
             (file length {len})",
            data_len.map_or_else(|| "too many".to_owned(), |n| n.to_string()),
            r.remaining
        )));
    }
    let dim = dim as usize;
    let count = capacity(rows, dim);
    let mut values = Vec::with_capacity(count);
    r.f32s(count, &mut values, || "the data".to_owned())?;
    Ok(Vectors { dim, values })
}

/// The fields of an `.npy` header dictionary that matter here.
#[derive(Debug, PartialEq, Eq)]
struct NpyHeader {
    descr: String,
    fortran_order: bool,
    shape: Vec<u64>,
}

impl NpyHeader {
    /// Parses a header such as `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`.
    fn parse(text: &str) -> std::result::Result<NpyHeader, String> {
        let value = |key: &str| -> std::result::Result<&str, String> {
            let quoted = [format!("'{key}'"), format!("\"{key}\"")];
            let at = quoted
                .iter()
                .find_map(|q| text.find(q.as_str()).map(|i| i + q.len()))
                .ok_or_else(|| format!("no '{key}' field"))?;
            let rest = text[at..].trim_start();
            rest.strip_prefix(':')
                .map(str::trim_start)
                .ok_or_else(|| format!("no ':' after '{key}'"))
        };
        let descr_raw = value("descr")?;
        let quote = descr_raw
            .chars()
            .next()
            .filter(|c| *c == '\'' || *c == '"')
            .ok_or("the 'descr' field is not a string (structured dtypes are not supported)")?;
        let descr_body = &descr_raw[1..];
        let end = descr_body
            .find(quote)
            .ok_or("unterminated 'descr' string")?;
        let descr = descr_body[..end].to_owned();

        let fortran_raw = value("fortran_order")?;
        let fortran_order = if fortran_raw.starts_with("False") {
            false
        } else if fortran_raw.starts_with("True") {
            true
        } else {
            return Err("'fortran_order' is neither True nor False".into());
        };

        let shape_raw = value("shape")?;
        let inner = shape_raw
            .strip_prefix('(')
            .and_then(|s| s.find(')').map(|end| &s[..end]))
            .ok_or("'shape' is not a tuple")?;
        let shape = inner
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.trim_end_matches('L')
                    .parse::<u64>()
                    .map_err(|_| format!("'shape' has a bad entry {s:?}"))
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(NpyHeader {
            descr,
            fortran_order,
            shape,
        })
    }
}

/// Reads ids separated by whitespace, commas or newlines from a text file.
pub(crate) fn read_ids_file(path: &Path) -> Result<Vec<u64>> {
    let text = std::fs::read(path).map_err(|e| CliError::io(path, "cannot read", &e))?;
    let text = String::from_utf8(text).map_err(|e| {
        CliError::new(format!(
            "{}: not a text file (invalid UTF-8 at byte {})",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })?;
    parse_ids(&text).map_err(|why| CliError::new(format!("{}: {why}", path.display())))
}

/// Parses ids separated by whitespace and/or commas.
fn parse_ids(text: &str) -> std::result::Result<Vec<u64>, String> {
    let mut ids = Vec::new();
    for (line_no, line) in text.lines().enumerate() {
        for token in line
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
        {
            let id = token.parse::<u64>().map_err(|_| {
                format!(
                    "line {}: {token:?} is not an id (a whole number from 0 to {})",
                    line_no + 1,
                    u64::MAX
                )
            })?;
            ids.push(id);
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn fvecs(rows: &[&[f32]]) -> Vec<u8> {
        let mut out = Vec::new();
        for r in rows {
            out.extend_from_slice(&(r.len() as i32).to_le_bytes());
            for x in *r {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        out
    }

    fn npy(header: &str, data: &[f32]) -> Vec<u8> {
        let mut h = header.to_owned();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(h.len() as u16).to_le_bytes());
        out.extend_from_slice(h.as_bytes());
        for x in data {
            out.extend_from_slice(&x.to_le_bytes());
        }
        out
    }

    #[test]
    fn reads_every_format() {
        let dir = tempfile::tempdir().unwrap();
        let want = Vectors {
            dim: 2,
            values: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        };
        let p = write(
            dir.path(),
            "a.fvecs",
            &fvecs(&[&[1.0, 2.0], &[3.0, 4.0], &[5.0, 6.0]]),
        );
        assert_eq!(read_vectors(&p, None).unwrap(), want);
        assert_eq!(read_vectors(&p, Some(2)).unwrap(), want);
        assert!(read_vectors(&p, Some(3)).is_err());
        let p = write(
            dir.path(),
            "a.npy",
            &npy(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }",
                &want.values,
            ),
        );
        assert_eq!(read_vectors(&p, None).unwrap(), want);
        let raw: Vec<u8> = want.values.iter().flat_map(|x| x.to_le_bytes()).collect();
        let p = write(dir.path(), "a.F32", &raw);
        assert_eq!(read_vectors(&p, Some(2)).unwrap(), want);
        assert!(read_vectors(&p, None).is_err());
        assert!(read_vectors(&p, Some(4)).is_err());
    }

    #[test]
    fn rejects_damage_with_messages() {
        let dir = tempfile::tempdir().unwrap();
        let msg = |name: &str, bytes: &[u8], dim: Option<usize>| {
            let p = write(dir.path(), name, bytes);
            read_vectors(&p, dim).unwrap_err().to_string()
        };
        let m = msg("b.fvecs", &fvecs(&[&[1.0, 2.0], &[3.0]]), None);
        assert!(m.contains("row 1 has dimension 1, expected 2"), "{m}");
        let mut cut = fvecs(&[&[1.0, 2.0], &[3.0, 4.0]]);
        cut.pop();
        let m = msg("c.fvecs", &cut, None);
        assert!(m.contains("ends early") && m.contains("row 1"), "{m}");
        let m = msg("d.fvecs", &(-5i32).to_le_bytes(), None);
        assert!(m.contains("dimension -5"), "{m}");
        let m = msg("e.fvecs", &i32::MAX.to_le_bytes(), None);
        assert!(m.contains("row 0 has dimension"), "{m}");
        let m = msg("f.fvecs", &fvecs(&[&[1.0, f32::NAN]]), None);
        assert!(m.contains("row 0 column 1 is NaN"), "{m}");
        let m = msg("g.fvecs", &[], None);
        assert!(m.contains("empty"), "{m}");
        let m = msg("h.txt", b"x", None);
        assert!(m.contains(".fvecs"), "{m}");

        let m = msg(
            "a.npy",
            &npy(
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1), }",
                &[0.0, 0.0],
            ),
            None,
        );
        assert!(m.contains("'<f8' is not supported"), "{m}");
        let m = msg(
            "b.npy",
            &npy(
                "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2), }",
                &[0.0, 0.0],
            ),
            None,
        );
        assert!(m.contains("Fortran"), "{m}");
        let m = msg(
            "c.npy",
            &npy(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 1), }",
                &[0.0, 0.0],
            ),
            None,
        );
        assert!(m.contains("expected 2 dimensions"), "{m}");
        let m = msg(
            "d.npy",
            &npy(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (18446744073709551615, 4000), }",
                &[0.0],
            ),
            None,
        );
        assert!(m.contains("needs"), "{m}");
        let m = msg(
            "e.npy",
            &npy(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }",
                &[],
            ),
            None,
        );
        assert!(m.contains("no vectors"), "{m}");
        let m = msg("f.npy", b"\x93NUMPY\x01\x00\xff\xff{", None);
        assert!(m.contains("header claims"), "{m}");
        let m = msg("g.npy", b"PK\x03\x04", None);
        assert!(m.contains("ends early") || m.contains("magic"), "{m}");
        let m = msg("a.f32", &[0u8; 10], Some(2));
        assert!(m.contains("2 bytes left over"), "{m}");
        let m = msg("b.f32", &[0u8; 8], Some(0));
        assert!(m.contains("--dim"), "{m}");
    }

    #[test]
    fn every_prefix_of_a_file_is_an_error_or_a_prefix_of_the_rows() {
        let dir = tempfile::tempdir().unwrap();
        let good = [
            (
                "x.fvecs",
                fvecs(&[&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]]),
                None,
            ),
            (
                "x.npy",
                npy(
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                    &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                ),
                None,
            ),
        ];
        for (name, bytes, dim) in good {
            for cut in 0..bytes.len() {
                let p = write(dir.path(), name, &bytes[..cut]);
                if let Ok(v) = read_vectors(&p, dim) {
                    assert_eq!(v.values[..], [1.0, 2.0, 3.0][..], "{name} cut {cut}");
                }
            }
        }
    }

    #[test]
    fn npy_headers_parse() {
        let h = NpyHeader::parse(
            "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (10L, 3L)}",
        )
        .unwrap();
        assert_eq!(h.shape, [10, 3]);
        assert!(NpyHeader::parse("{'descr': [('a', '<f4')], 'fortran_order': False}").is_err());
        assert!(NpyHeader::parse("{'descr': '<f4', 'shape': (1,)}").is_err());
        assert!(NpyHeader::parse("").is_err());
    }

    #[test]
    fn ids_parse() {
        assert_eq!(parse_ids("1, 2,3\n 4\t5,,\n").unwrap(), [1, 2, 3, 4, 5]);
        assert!(parse_ids("1\n2 x").unwrap_err().contains("line 2"));
        assert!(parse_ids("-1").is_err());
        assert_eq!(parse_ids("").unwrap(), Vec::<u64>::new());
    }
}
