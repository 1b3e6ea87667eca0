//! Sharded weights: `model.safetensors.index.json` and the shard files it names.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;
use serde::de::{MapAccess, Visitor};

use super::{SafetensorsFile, TensorView};
use crate::error::{Error, Result, io_err};

/// The parsed `model.safetensors.index.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightIndex {
    /// The index's `metadata` object (usually `{"total_size": N}`), kept as is.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Tensor name → shard file name, relative to the index's directory.
    pub weight_map: BTreeMap<String, String>,
}

impl WeightIndex {
    /// Read and validate an index file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(io_err(path))?;
        Self::from_slice(&bytes, path)
    }

    /// Parse and validate index JSON; `path` names it in errors. Every shard name must be a
    /// plain relative path (no `..`, no absolute paths, no empty or `.` components, no
    /// backslashes), and no tensor may be listed twice.
    pub fn from_slice(bytes: &[u8], path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let invalid = |reason: String| Error::InvalidIndex {
            path: path.to_path_buf(),
            reason,
        };
        let raw: RawIndex = serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
        let weight_map = raw
            .weight_map
            .ok_or_else(|| invalid("no \"weight_map\" object".into()))?;
        if let Some(name) = weight_map.duplicate {
            return Err(invalid(format!(
                "tensor {name:?} is listed twice in weight_map"
            )));
        }
        for shard in weight_map.map.values() {
            if !is_safe_relative(shard) {
                return Err(Error::UnsafeShardName {
                    index: path.to_path_buf(),
                    shard: shard.clone(),
                });
            }
        }
        Ok(Self {
            metadata: raw.metadata.unwrap_or_default(),
            weight_map: weight_map.map,
        })
    }

    /// The distinct shard file names, sorted.
    pub fn shard_names(&self) -> Vec<&str> {
        let set: std::collections::BTreeSet<&str> =
            self.weight_map.values().map(String::as_str).collect();
        set.into_iter().collect()
    }

    /// `metadata.total_size` if present.
    pub fn total_size(&self) -> Option<u64> {
        self.metadata.get("total_size")?.as_u64()
    }
}

#[derive(Deserialize)]
struct RawIndex {
    #[serde(default)]
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
    weight_map: Option<UniqueMap>,
}

/// A string → string JSON object that remembers the first repeated key.
struct UniqueMap {
    map: BTreeMap<String, String>,
    duplicate: Option<String>,
}

impl<'de> Deserialize<'de> for UniqueMap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = UniqueMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of tensor name -> shard file name")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut access: A,
            ) -> std::result::Result<UniqueMap, A::Error> {
                let mut out = UniqueMap {
                    map: BTreeMap::new(),
                    duplicate: None,
                };
                while let Some((k, v)) = access.next_entry::<String, String>()? {
                    if out.map.contains_key(&k) {
                        out.duplicate.get_or_insert_with(|| k.clone());
                    }
                    out.map.insert(k, v);
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

/// A relative path made only of normal components, '/'-separated.
pub(crate) fn is_safe_relative(name: &str) -> bool {
    !name.is_empty()
        && !name.contains('\\')
        && !name.contains('\0')
        && !name.starts_with('/')
        && name
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
        && Path::new(name)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// Weights spread over several safetensors shards named by an index.
#[derive(Debug)]
pub struct ShardedWeights {
    index_path: PathBuf,
    index: WeightIndex,
    shards: Vec<SafetensorsFile>,
    /// Tensor name → position in `shards`.
    location: HashMap<String, usize>,
}

impl ShardedWeights {
    /// Open `model.safetensors.index.json` (or any index file) and every shard it names,
    /// relative to the index's directory.
    ///
    /// Fails if a shard is missing, if a tensor is in two shards, or if the index and the shard
    /// headers disagree (a listed tensor not in its shard, or a shard tensor the index does not
    /// list).
    pub fn open(index_path: impl AsRef<Path>) -> Result<Self> {
        let index_path = index_path.as_ref().to_path_buf();
        let index = WeightIndex::open(&index_path)?;
        let dir = index_path.parent().unwrap_or(Path::new("")).to_path_buf();
        let mut shards = Vec::new();
        let mut shard_pos: HashMap<&str, usize> = HashMap::new();
        for name in index.shard_names() {
            let path = dir.join(name);
            if !path.is_file() {
                return Err(Error::MissingShard {
                    index: index_path.clone(),
                    shard: name.to_owned(),
                    path,
                });
            }
            shard_pos.insert(name, shards.len());
            shards.push(SafetensorsFile::open(&path)?);
        }

        let mut location: HashMap<String, usize> = HashMap::new();
        for (i, shard) in shards.iter().enumerate() {
            for name in shard.names() {
                if let Some(&j) = location.get(name) {
                    return Err(Error::TensorInTwoShards {
                        name: name.to_owned(),
                        first: shards[j].path().to_path_buf(),
                        second: shard.path().to_path_buf(),
                    });
                }
                location.insert(name.to_owned(), i);
            }
        }
        let mismatch = |name: &str, reason: String| Error::IndexMismatch {
            index: index_path.clone(),
            name: name.to_owned(),
            reason,
        };
        for (name, shard) in &index.weight_map {
            let listed = shard_pos.get(shard.as_str()).copied();
            match (location.get(name), listed) {
                (Some(&actual), Some(listed)) if actual == listed => {}
                (Some(&actual), _) => {
                    let reason = format!(
                        "index says {shard:?} but it is in {}",
                        shards[actual].path().display()
                    );
                    return Err(mismatch(name, reason));
                }
                (None, _) => {
                    let reason = format!("index lists it in {shard:?}, which does not contain it");
                    return Err(mismatch(name, reason));
                }
            }
        }
        if location.len() != index.weight_map.len() {
            let seen: HashSet<&str> = index.weight_map.keys().map(String::as_str).collect();
            if let Some((name, &i)) = location.iter().find(|(n, _)| !seen.contains(n.as_str())) {
                let reason = format!(
                    "it is in {} but the index does not list it",
                    shards[i].path().display()
                );
                return Err(mismatch(name, reason));
            }
        }
        Ok(Self {
            index_path,
            index,
            shards,
            location,
        })
    }

    /// The index file.
    pub fn index_path(&self) -> &Path {
        &self.index_path
    }

    /// The parsed index.
    pub fn index(&self) -> &WeightIndex {
        &self.index
    }

    /// The opened shards, sorted by file name.
    pub fn shards(&self) -> &[SafetensorsFile] {
        &self.shards
    }

    /// A zero-copy view of one tensor, from whichever shard holds it.
    pub fn tensor(&self, name: &str) -> Option<TensorView<'_>> {
        let &i = self.location.get(name)?;
        self.shards.get(i)?.tensor(name)
    }

    /// Which shard holds a tensor.
    pub fn shard_of(&self, name: &str) -> Option<&SafetensorsFile> {
        self.shards.get(*self.location.get(name)?)
    }

    /// Number of tensors over all shards.
    pub fn len(&self) -> usize {
        self.location.len()
    }

    /// Whether there are no tensors.
    pub fn is_empty(&self) -> bool {
        self.location.is_empty()
    }

    /// All tensor views, shard by shard in file order.
    pub fn tensors(&self) -> impl Iterator<Item = TensorView<'_>> {
        self.shards.iter().flat_map(SafetensorsFile::tensors)
    }
}
