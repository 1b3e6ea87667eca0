//! One `.safetensors` file: validated header, memory-mapped data, zero-copy views.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use safetensors::Dtype;
use safetensors::tensor::TensorInfo;
use serde::Deserialize;
use serde::de::{MapAccess, Visitor};

use super::TensorView;
use crate::error::{Error, ExpectedBytes, Result, io_err};

/// The largest header safetensors accepts (same limit as the reference implementation).
pub const MAX_HEADER_LEN: u64 = 100_000_000;

/// Where a file's bytes live.
enum Backing {
    Mmap(Mmap),
    Owned(Vec<u8>),
}

impl Backing {
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Mmap(m) => m,
            Backing::Owned(v) => v,
        }
    }
}

/// A tensor's header entry, with offsets made absolute (from the start of the file).
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    start: usize,
    end: usize,
}

/// One validated safetensors file.
///
/// Opening validates the whole header (length, JSON, every tensor's offsets, sizes and
/// coverage of the data section); afterwards [`tensor`](Self::tensor) hands out byte views of
/// the mapped file without copying.
pub struct SafetensorsFile {
    path: PathBuf,
    backing: Backing,
    header_len: usize,
    metadata: Option<HashMap<String, String>>,
    /// Sorted by data offset.
    entries: Vec<Entry>,
    by_name: HashMap<String, usize>,
}

impl fmt::Debug for SafetensorsFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SafetensorsFile")
            .field("path", &self.path)
            .field("file_len", &self.backing.bytes().len())
            .field("tensors", &self.entries.len())
            .finish()
    }
}

impl SafetensorsFile {
    /// Memory-map and validate a safetensors file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(io_err(&path))?;
        let len = file.metadata().map_err(io_err(&path))?.len();
        if len < 8 {
            return Err(Error::HeaderTooSmall { path, len });
        }
        let map = super::mmap::map_readonly(&file).map_err(io_err(&path))?;
        Self::from_backing(path, Backing::Mmap(map))
    }

    /// Validate a safetensors file held in memory; `label` names it in errors.
    pub fn from_bytes(bytes: Vec<u8>, label: impl Into<PathBuf>) -> Result<Self> {
        Self::from_backing(label.into(), Backing::Owned(bytes))
    }

    fn from_backing(path: PathBuf, backing: Backing) -> Result<Self> {
        let parsed = parse(&path, backing.bytes())?;
        let by_name = parsed
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.name.clone(), i))
            .collect();
        Ok(Self {
            path,
            backing,
            header_len: parsed.header_len,
            metadata: parsed.metadata,
            entries: parsed.entries,
            by_name,
        })
    }

    /// The file this was opened from (or the label given to [`from_bytes`](Self::from_bytes)).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The `__metadata__` string map of the header, if any (e.g. `{"format": "pt"}`).
    pub fn metadata(&self) -> Option<&HashMap<String, String>> {
        self.metadata.as_ref()
    }

    /// Length of the JSON header in bytes (without the 8-byte length prefix).
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the file holds no tensors.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether a tensor of this name is in the file.
    pub fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// Tensor names in file (data offset) order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.name.as_str())
    }

    /// A zero-copy view of one tensor, `None` if the name is not in this file.
    pub fn tensor(&self, name: &str) -> Option<TensorView<'_>> {
        let &i = self.by_name.get(name)?;
        self.view(i)
    }

    /// Views of all tensors, in file order.
    pub fn tensors(&self) -> impl Iterator<Item = TensorView<'_>> {
        (0..self.entries.len()).filter_map(|i| self.view(i))
    }

    fn view(&self, i: usize) -> Option<TensorView<'_>> {
        let e = self.entries.get(i)?;
        // Offsets were validated against the buffer length at open; `get` keeps this
        // panic-free even so.
        let bytes = self.backing.bytes().get(e.start..e.end)?;
        Some(TensorView {
            name: &e.name,
            dtype: e.dtype,
            shape: &e.shape,
            bytes,
        })
    }
}

struct Parsed {
    header_len: usize,
    metadata: Option<HashMap<String, String>>,
    entries: Vec<Entry>,
}

/// The header JSON, read with duplicate-name detection (serde maps silently keep the last).
struct RawHeader {
    metadata: Option<HashMap<String, String>>,
    tensors: Vec<(String, TensorInfo)>,
    duplicate: Option<String>,
}

impl<'de> Deserialize<'de> for RawHeader {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawHeader;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of tensor name -> {dtype, shape, data_offsets}")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<RawHeader, A::Error> {
                let mut out = RawHeader {
                    metadata: None,
                    tensors: Vec::new(),
                    duplicate: None,
                };
                let mut seen = HashSet::new();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "__metadata__" {
                        if out.metadata.is_some() {
                            out.duplicate.get_or_insert(key);
                        }
                        out.metadata = map.next_value()?;
                    } else {
                        let info: TensorInfo = map.next_value()?;
                        if !seen.insert(key.clone()) {
                            out.duplicate.get_or_insert_with(|| key.clone());
                        }
                        out.tensors.push((key, info));
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

/// Validate a whole safetensors buffer. Checks, in order: the length prefix, the 100 MB limit,
/// the header fitting in the file, JSON shape, duplicate names, each tensor's offsets within
/// the data section, `shape × dtype` against the byte span, no overlaps or gaps, and full
/// coverage of the data section. The `safetensors` crate's own `read_metadata` does most of
/// these too, but can overflow `usize` on hostile offsets and reports no tensor names; doing it
/// here gives one pass and errors that say which tensor is wrong.
fn parse(path: &Path, buf: &[u8]) -> Result<Parsed> {
    let file_len = buf.len() as u64;
    let Some((prefix, rest)) = buf.split_first_chunk::<8>() else {
        return Err(Error::HeaderTooSmall {
            path: path.to_path_buf(),
            len: file_len,
        });
    };
    let declared = u64::from_le_bytes(*prefix);
    if declared > MAX_HEADER_LEN {
        return Err(Error::HeaderTooLarge {
            path: path.to_path_buf(),
            header_len: declared,
        });
    }
    // declared ≤ 100 MB, so it fits in usize on every supported target.
    let header_len = usize::try_from(declared).map_err(|_| Error::HeaderTooLarge {
        path: path.to_path_buf(),
        header_len: declared,
    })?;
    let (Some(header), Some(data)) = (rest.get(..header_len), rest.get(header_len..)) else {
        return Err(Error::HeaderBeyondFile {
            path: path.to_path_buf(),
            header_len: declared,
            file_len,
        });
    };
    let raw: RawHeader = serde_json::from_slice(header).map_err(|e| Error::InvalidHeader {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    if let Some(name) = raw.duplicate {
        return Err(Error::DuplicateTensor {
            path: path.to_path_buf(),
            name,
        });
    }
    let data_len = data.len();
    let data_start = 8 + header_len;
    let bad_offsets = |name: &str, s: usize, e: usize, reason: String| Error::InvalidOffsets {
        path: path.to_path_buf(),
        name: name.to_owned(),
        start: s as u64,
        end: e as u64,
        reason,
    };

    let mut entries = Vec::with_capacity(raw.tensors.len());
    for (name, info) in raw.tensors {
        let (s, e) = info.data_offsets;
        if s > e {
            return Err(bad_offsets(&name, s, e, "start is after end".into()));
        }
        if e > data_len {
            return Err(bad_offsets(
                &name,
                s,
                e,
                format!("past the end of the {data_len}-byte data section"),
            ));
        }
        let expected = expected_bytes(info.dtype, &info.shape);
        if expected != ExpectedBytes::Bytes((e - s) as u64) {
            return Err(Error::SizeMismatch {
                path: path.to_path_buf(),
                name,
                dtype: info.dtype.to_string(),
                shape: info.shape,
                expected,
                actual: (e - s) as u64,
            });
        }
        // Both offsets are ≤ data_len, so adding the data start cannot overflow the buffer.
        entries.push(Entry {
            name,
            dtype: info.dtype,
            shape: info.shape,
            start: data_start + s,
            end: data_start + e,
        });
    }
    entries.sort_by_key(|e| (e.start, e.end));
    let mut cursor = data_start;
    let mut prev: Option<&str> = None;
    for e in &entries {
        let (s, end) = (e.start - data_start, e.end - data_start);
        let c = cursor - data_start;
        if s < c {
            let reason = format!("overlaps tensor {:?}", prev.unwrap_or_default());
            return Err(bad_offsets(&e.name, s, end, reason));
        }
        if s > c {
            let reason = format!("leaves {} unused bytes before it", s - c);
            return Err(bad_offsets(&e.name, s, end, reason));
        }
        cursor = e.end;
        prev = Some(&e.name);
    }
    let covered = (cursor - data_start) as u64;
    if covered != data_len as u64 {
        return Err(Error::IncompleteData {
            path: path.to_path_buf(),
            covered,
            data_len: data_len as u64,
        });
    }
    Ok(Parsed {
        header_len,
        metadata: raw.metadata,
        entries,
    })
}

/// Bytes that `shape` elements of `dtype` take.
pub(crate) fn expected_bytes(dtype: Dtype, shape: &[usize]) -> ExpectedBytes {
    let Some(bits) = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .and_then(|n| n.checked_mul(dtype.bitsize()))
    else {
        return ExpectedBytes::Overflow;
    };
    if bits % 8 != 0 {
        return ExpectedBytes::NotWholeBytes;
    }
    ExpectedBytes::Bytes((bits / 8) as u64)
}
