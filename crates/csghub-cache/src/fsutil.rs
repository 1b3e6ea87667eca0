//! Small filesystem helpers: random suffixes, atomic writes, relative symlinks with a copy fallback.

use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{IoContext, Result};

/// 8 random lower-case hex digits (like Python's `uuid4().hex[:8]`), from std's randomly keyed hasher
/// mixed with the pid and a counter so two calls never repeat in one process.
pub(crate) fn random_hex8() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    format!("{:08x}", h.finish() as u32)
}

/// True if `name` looks like one of our (or huggingface_hub's) temp names `<x>.<8hex>.tmp`.
pub(crate) fn is_temp_name(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".tmp") else {
        return false;
    };
    match stem.rsplit_once('.') {
        Some((_, h)) => h.len() == 8 && h.bytes().all(|b| b.is_ascii_hexdigit()),
        None => false,
    }
}

pub(crate) fn create_dir_all(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).ctx("create directory", dir)
}

/// Sibling temp path `<name>.<8hex>.<suffix>` in the same directory (same filesystem, so rename is atomic).
pub(crate) fn sibling_temp(path: &Path, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!("{name}.{}.{suffix}", random_hex8()))
}

/// Write `data` to `path` atomically: temp file in the same directory, fsync, rename.
pub(crate) fn atomic_write(path: &Path, data: &[u8], suffix: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        create_dir_all(parent)?;
    }
    let tmp = sibling_temp(path, suffix);
    let res = (|| {
        let mut f = File::create(&tmp).ctx("create", &tmp)?;
        f.write_all(data).ctx("write", &tmp)?;
        f.sync_all().ctx("fsync", &tmp)?;
        drop(f);
        fs::rename(&tmp, path).ctx("rename into place", path)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

/// Create `path` with `data` if it does not exist yet (used for CACHEDIR.TAG and .gitignore).
pub(crate) fn write_if_absent(path: &Path, data: &[u8]) -> Result<()> {
    if path.exists() {
        return Ok(());
    }
    atomic_write(path, data, "tmp")
}

/// Relative path from directory `from_dir` to `to`; both must be under a common ancestor and contain
/// no `..` (true for paths we build inside the cache).
pub(crate) fn relative_path(from_dir: &Path, to: &Path) -> PathBuf {
    let from: Vec<_> = from_dir.components().collect();
    let to_c: Vec<_> = to.components().collect();
    let common = from
        .iter()
        .zip(to_c.iter())
        .take_while(|(a, b)| a == b)
        .count();
    let mut rel = PathBuf::new();
    for _ in common..from.len() {
        rel.push("..");
    }
    for c in &to_c[common..] {
        rel.push(c.as_os_str());
    }
    rel
}

#[cfg(unix)]
fn make_symlink(target: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(windows)]
fn make_symlink(target: &Path, link: &Path) -> io::Result<()> {
    std::os::windows::fs::symlink_file(target, link)
}

#[cfg(not(any(unix, windows)))]
fn make_symlink(_target: &Path, _link: &Path) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "no symlinks on this platform",
    ))
}

/// How a snapshot file was materialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// A relative symlink into `blobs/`.
    Symlink,
    /// A full copy (symlinks unsupported or disabled).
    Copy,
}

/// Point `link` at `blob` with a relative symlink, or copy `blob` to `link` when symlinks fail or are
/// disabled. Never leaves a partial file at `link`: a copy goes through a temp file and rename; a symlink
/// to another target is replaced by rename.
pub(crate) fn link_or_copy(blob: &Path, link: &Path, use_symlinks: bool) -> Result<LinkKind> {
    let dir = link.parent().unwrap_or(Path::new("."));
    if use_symlinks {
        let target = relative_path(dir, blob);
        // Link first and create the folder only when it is missing: most links land in a
        // folder that exists, and a download makes one link per file.
        let made = match make_symlink(&target, link) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                create_dir_all(dir)?;
                make_symlink(&target, link)
            }
            other => other,
        };
        match made {
            Ok(()) => return Ok(LinkKind::Symlink),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if fs::read_link(link).is_ok_and(|t| t == target) {
                    return Ok(LinkKind::Symlink);
                }
                // Something else is there: build the link beside it and swap atomically.
                let tmp = sibling_temp(link, "incomplete");
                if make_symlink(&target, &tmp).is_ok() {
                    return match fs::rename(&tmp, link) {
                        Ok(()) => Ok(LinkKind::Symlink),
                        Err(e) => {
                            let _ = fs::remove_file(&tmp);
                            Err(e).ctx("rename symlink into place", link)
                        }
                    };
                }
            }
            // Symlinks not permitted here (Windows without Developer Mode, FAT, some network FS): copy.
            Err(_) => {}
        }
    }
    if !blob.is_file() {
        return Err(crate::CacheError::BlobMissing {
            path: blob.to_path_buf(),
        });
    }
    create_dir_all(dir)?;
    let tmp = sibling_temp(link, "incomplete");
    let res = (|| {
        fs::copy(blob, &tmp).ctx("copy blob to", &tmp)?;
        File::open(&tmp)
            .and_then(|f| f.sync_all())
            .ctx("fsync", &tmp)?;
        // A stale symlink at `link` would make rename follow nothing (rename replaces the link itself).
        fs::rename(&tmp, link).ctx("rename copy into place", link)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res.map(|()| LinkKind::Copy)
}

/// Open (creating) a lock or data file with group-writable permissions like huggingface_hub (0o664).
pub(crate) fn open_rw_create(path: &Path) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o664);
    }
    opts.open(path)
}

/// Size of the file `path` points at, 0 if unreadable.
pub(crate) fn file_len(path: &Path) -> u64 {
    fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}
