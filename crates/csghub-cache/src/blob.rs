//! Writing blobs: a streaming [`BlobWriter`] (process-unique `.incomplete` temp, verify, rename) and a
//! resumable [`PartialBlob`] (stable name + range sidecar, only usable while holding the blob lock).

use std::fs::{self, File};
use std::io::{self, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::cache::RepoCache;
use crate::error::{CacheError, IoContext, Result};
use crate::fsutil;
use crate::hash::{FileDigests, GitBlobSha1, Sha256Hasher, hash_file, lfs_pointer_git_sha1};
use crate::lock::CacheLock;
use crate::types::{Etag, EtagKind};

/// What a finished blob must match before it becomes visible. Unset fields are not checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expected {
    /// Exact byte length.
    pub size: Option<u64>,
    /// SHA-256 of the content (lower- or upper-case hex).
    pub sha256: Option<String>,
    /// Git blob SHA-1 of the content.
    pub git_sha1: Option<String>,
    /// The content must match the ETag it is named by: SHA-256 for a 64-hex ETag; for a 40-hex ETag,
    /// the git blob SHA-1 of the content or of its git-lfs pointer (CSGHub names LFS files that way).
    pub match_etag: bool,
}

impl Expected {
    /// Check nothing.
    pub fn none() -> Expected {
        Expected::default()
    }

    /// Check the size (if known) and that the content matches the ETag name.
    pub fn etag_and_size(size: Option<u64>) -> Expected {
        Expected {
            size,
            match_etag: true,
            ..Expected::default()
        }
    }
}

/// How a blob's content relates to its ETag name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtagMatch {
    /// SHA-256 of the content equals the 64-hex name.
    Sha256,
    /// Git blob SHA-1 of the content equals the 40-hex name.
    GitSha1,
    /// The 40-hex name is the git blob SHA-1 of the content's git-lfs pointer.
    LfsPointerSha1,
    /// Content does not match the name.
    Mismatch,
    /// The name is not a hash we know; nothing to compare.
    Unverifiable,
}

/// Compare digests with an ETag name.
pub fn match_etag(etag: &Etag, d: &FileDigests) -> EtagMatch {
    let name = etag.as_str().to_ascii_lowercase();
    match etag.kind() {
        EtagKind::Sha256 if d.sha256 == name => EtagMatch::Sha256,
        EtagKind::GitSha1 if d.git_sha1 == name => EtagMatch::GitSha1,
        EtagKind::GitSha1 if lfs_pointer_git_sha1(&d.sha256, d.size) == name => {
            EtagMatch::LfsPointerSha1
        }
        EtagKind::Other => EtagMatch::Unverifiable,
        _ => EtagMatch::Mismatch,
    }
}

/// Check `digests` of the file at `path` against `expected`/`etag`.
pub(crate) fn check_expected(
    path: &Path,
    d: &FileDigests,
    expected: &Expected,
    etag: Option<&Etag>,
) -> Result<()> {
    let mismatch = |what, exp: String, act: String| {
        Err(CacheError::Mismatch {
            what,
            path: path.to_path_buf(),
            expected: exp,
            actual: act,
        })
    };
    if let Some(size) = expected.size
        && size != d.size
    {
        return mismatch("size", size.to_string(), d.size.to_string());
    }
    if let Some(s) = &expected.sha256
        && !s.eq_ignore_ascii_case(&d.sha256)
    {
        return mismatch("sha256", s.clone(), d.sha256.clone());
    }
    if let Some(s) = &expected.git_sha1
        && !s.eq_ignore_ascii_case(&d.git_sha1)
    {
        return mismatch("git blob sha1", s.clone(), d.git_sha1.clone());
    }
    if expected.match_etag
        && let Some(etag) = etag
        && match_etag(etag, d) == EtagMatch::Mismatch
    {
        let actual = match etag.kind() {
            EtagKind::Sha256 => d.sha256.clone(),
            _ => d.git_sha1.clone(),
        };
        return mismatch("etag", etag.to_string(), actual);
    }
    Ok(())
}

/// A file being streamed into the cache (or a local dir). Nothing is visible at the destination until
/// [`BlobWriter::finish`] has verified and renamed it; dropping the writer deletes the temp file; a hard
/// kill leaves only the `*.incomplete` temp, which `prune` removes.
#[derive(Debug)]
pub struct BlobWriter {
    file: Option<File>,
    tmp: PathBuf,
    dest: PathBuf,
    etag: Option<Etag>,
    expected: Expected,
    sha256: Sha256Hasher,
    git: Option<GitBlobSha1>,
    written: u64,
    renamed: bool,
    fsync: bool,
}

impl BlobWriter {
    pub(crate) fn create(
        tmp: PathBuf,
        dest: PathBuf,
        etag: Option<Etag>,
        expected: Expected,
    ) -> Result<BlobWriter> {
        let open = || {
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
        };
        // Create the folder only when it is missing (one write per downloaded file).
        let file = match open() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(parent) = tmp.parent() {
                    crate::fsutil::create_dir_all(parent)?;
                }
                open()
            }
            other => other,
        }
        .ctx("create temp file", &tmp)?;
        let git = expected.size.map(GitBlobSha1::new);
        Ok(BlobWriter {
            file: Some(file),
            tmp,
            dest,
            etag,
            expected,
            sha256: Sha256Hasher::new(),
            git,
            written: 0,
            renamed: false,
            fsync: true,
        })
    }

    /// Whether [`BlobWriter::finish`] fsyncs before the rename (default: yes). Without it a
    /// killed process still never exposes a partial file (the rename is atomic); only a power
    /// cut before the kernel writes the data back could leave a short file under the final
    /// name, which `verify` finds. Worth it for many small files, where the fsync is most of
    /// the cost of a download.
    pub fn with_fsync(mut self, fsync: bool) -> BlobWriter {
        self.fsync = fsync;
        self
    }

    /// The `.incomplete` temp file being written.
    pub fn temp_path(&self) -> &Path {
        &self.tmp
    }

    /// Where the file lands on [`BlobWriter::finish`].
    pub fn dest_path(&self) -> &Path {
        &self.dest
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Throw away what was written (also done on drop).
    pub fn abort(mut self) {
        self.cleanup();
    }

    fn cleanup(&mut self) {
        self.file = None;
        if !self.renamed {
            self.renamed = true;
            let _ = fs::remove_file(&self.tmp);
        }
    }

    /// fsync, verify against [`Expected`], then rename onto the destination. On a mismatch the temp file
    /// is deleted and nothing becomes visible.
    pub fn finish(mut self) -> Result<PathBuf> {
        let res = self.finish_inner();
        self.cleanup();
        res
    }

    fn finish_inner(&mut self) -> Result<PathBuf> {
        let Some(mut file) = self.file.take() else {
            return Err(io::Error::other("writer already finished")).ctx("finish", &self.tmp);
        };
        file.flush().ctx("flush", &self.tmp)?;
        if self.fsync {
            file.sync_all().ctx("fsync", &self.tmp)?;
        }
        // Close before renaming: Windows cannot rename an open file.
        drop(file);
        let git_sha1 = match self.git.take().and_then(GitBlobSha1::finalize) {
            Some(g) => g,
            // Size unknown up front (or wrong): the git hash needs the length first, so rehash.
            None => hash_file(&self.tmp)?.git_sha1,
        };
        let digests = FileDigests {
            size: self.written,
            sha256: std::mem::take(&mut self.sha256).finalize(),
            git_sha1,
        };
        check_expected(&self.tmp, &digests, &self.expected, self.etag.as_ref())?;
        fs::rename(&self.tmp, &self.dest).ctx("rename into place", &self.dest)?;
        self.renamed = true;
        Ok(self.dest.clone())
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("writer already finished"))?;
        let n = file.write(buf)?;
        self.sha256.update(&buf[..n]);
        if let Some(g) = self.git.as_mut() {
            g.update(&buf[..n]);
        }
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// The cross-process lock on one blob (`.locks/<repo_folder>/<etag>.lock`), held until dropped.
/// Only its holder may touch the stable resumable partial of that blob.
#[derive(Debug)]
pub struct BlobLock {
    repo: RepoCache,
    etag: Etag,
    lock: CacheLock,
}

impl BlobLock {
    pub(crate) fn new(repo: RepoCache, etag: Etag, lock: CacheLock) -> BlobLock {
        BlobLock { repo, etag, lock }
    }

    /// The repo this blob belongs to.
    pub fn repo(&self) -> &RepoCache {
        &self.repo
    }

    /// The locked ETag.
    pub fn etag(&self) -> &Etag {
        &self.etag
    }

    /// The lock file.
    pub fn lock_path(&self) -> &Path {
        self.lock.path()
    }

    /// `blobs/<etag>`.
    pub fn blob_path(&self) -> PathBuf {
        self.repo.blob_path(&self.etag)
    }

    /// True if another process already finished the blob (check this after the lock is granted).
    pub fn blob_exists(&self) -> bool {
        self.blob_path().is_file()
    }

    /// Start a fresh, process-unique download of this blob.
    pub fn begin(&self, expected: Expected) -> Result<BlobWriter> {
        self.repo.begin_blob(&self.etag, expected)
    }

    /// `blobs/<etag>.csghub.incomplete`: the stable partial name (ends in `.incomplete` so
    /// `hf cache prune` may clean it).
    pub fn partial_path(&self) -> PathBuf {
        self.repo
            .blobs_dir()
            .join(format!("{}.csghub.incomplete", self.etag))
    }

    /// `blobs/<etag>.csghub.json.incomplete`: the sidecar recording completed byte ranges.
    pub fn sidecar_path(&self) -> PathBuf {
        self.repo
            .blobs_dir()
            .join(format!("{}.csghub.json.incomplete", self.etag))
    }

    /// Open (or resume) the stable partial for a blob of `size` bytes. The lock moves into the partial.
    /// A partial whose sidecar is missing, corrupt, or for another size is restarted from zero.
    pub fn open_partial(self, size: u64) -> Result<PartialBlob> {
        PartialBlob::open(self, size)
    }
}

mod sealed {
    pub trait Sealed {}
}

/// What a [`PartialBlob`] belongs to, and where it lands when finished: a cache blob
/// ([`BlobLock`]) or a file of a local dir ([`crate::LocalFileLock`]). Sealed: implemented only
/// by those two lock types, which the partial holds until it is finished or discarded.
pub trait PartialOwner: sealed::Sealed + std::fmt::Debug + Send + Sync + Sized + 'static {
    /// The ETag being downloaded (the sidecar is only trusted for the same one).
    fn etag(&self) -> &Etag;
    /// The stable partial file.
    fn partial_path(&self) -> PathBuf;
    /// The sidecar recording completed ranges.
    fn sidecar_path(&self) -> PathBuf;
    /// Where the verified file is renamed to.
    fn dest_path(&self) -> PathBuf;
    /// Open (or resume) the partial for a file of `size` bytes; the lock moves into it.
    fn open_partial(self, size: u64) -> Result<PartialBlob<Self>> {
        PartialBlob::open(self, size)
    }
}

impl sealed::Sealed for BlobLock {}

impl PartialOwner for BlobLock {
    fn etag(&self) -> &Etag {
        &self.etag
    }
    fn partial_path(&self) -> PathBuf {
        BlobLock::partial_path(self)
    }
    fn sidecar_path(&self) -> PathBuf {
        BlobLock::sidecar_path(self)
    }
    fn dest_path(&self) -> PathBuf {
        self.blob_path()
    }
}

impl sealed::Sealed for crate::LocalFileLock {}

impl PartialOwner for crate::LocalFileLock {
    fn etag(&self) -> &Etag {
        crate::LocalFileLock::etag(self)
    }
    fn partial_path(&self) -> PathBuf {
        crate::LocalFileLock::partial_path(self)
    }
    fn sidecar_path(&self) -> PathBuf {
        crate::LocalFileLock::sidecar_path(self)
    }
    fn dest_path(&self) -> PathBuf {
        crate::LocalFileLock::dest_path(self)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Sidecar {
    format_version: u32,
    etag: String,
    size: u64,
    done: Vec<(u64, u64)>,
}

/// A resumable partial download of one blob (or, with `L` = [`crate::LocalFileLock`], of one
/// local-dir file), with the completed byte ranges persisted in a sidecar. Holds the lock.
/// `write_at` + `commit_range` may be called from several threads.
#[derive(Debug)]
pub struct PartialBlob<L: PartialOwner = BlobLock> {
    lock: L,
    path: PathBuf,
    sidecar: PathBuf,
    file: File,
    size: u64,
    done: Mutex<Vec<Range<u64>>>,
}

impl<L: PartialOwner> PartialBlob<L> {
    pub(crate) fn open(lock: L, size: u64) -> Result<PartialBlob<L>> {
        let path = lock.partial_path();
        let sidecar = lock.sidecar_path();
        if let Some(parent) = path.parent() {
            fsutil::create_dir_all(parent)?;
        }
        let file = fsutil::open_rw_create(&path).ctx("open partial", &path)?;
        let len = file.metadata().ctx("stat", &path)?.len();
        let prior = fs::read(&sidecar)
            .ok()
            .and_then(|b| serde_json::from_slice::<Sidecar>(&b).ok())
            .filter(|s| {
                s.format_version == 1
                    && s.etag == lock.etag().as_str()
                    && s.size == size
                    && len == size
                    && s.done.iter().all(|&(a, b)| a < b && b <= size)
            });
        let done = match prior {
            Some(s) => normalize(s.done.into_iter().map(|(a, b)| a..b).collect()),
            None => {
                // Unknown state: start over so no unverified byte is trusted.
                file.set_len(0).ctx("truncate partial", &path)?;
                file.set_len(size).ctx("size partial", &path)?;
                Vec::new()
            }
        };
        let p = PartialBlob {
            lock,
            path,
            sidecar,
            file,
            size,
            done: Mutex::new(done),
        };
        if fs::metadata(&p.sidecar).is_err() {
            p.save(&p.completed())?;
        }
        Ok(p)
    }

    /// The partial file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The sidecar file.
    pub fn sidecar_path(&self) -> &Path {
        &self.sidecar
    }

    /// Declared blob size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Completed byte ranges, sorted and merged.
    pub fn completed(&self) -> Vec<Range<u64>> {
        self.done.lock().map(|d| d.clone()).unwrap_or_default()
    }

    /// Byte ranges still to fetch.
    pub fn missing(&self) -> Vec<Range<u64>> {
        let mut out = Vec::new();
        let mut pos = 0;
        for r in self.completed() {
            if r.start > pos {
                out.push(pos..r.start);
            }
            pos = r.end;
        }
        if pos < self.size {
            out.push(pos..self.size);
        }
        out
    }

    /// Length of the completed prefix (where a sequential download resumes).
    pub fn resume_offset(&self) -> u64 {
        match self.completed().first() {
            Some(r) if r.start == 0 => r.end,
            _ => 0,
        }
    }

    /// Write `data` at `offset` (does not mark it complete; see [`PartialBlob::commit_range`]).
    pub fn write_at(&self, offset: u64, data: &[u8]) -> Result<()> {
        let end = offset.checked_add(data.len() as u64);
        if end.is_none_or(|e| e > self.size) {
            return Err(CacheError::OutOfRange {
                path: self.path.clone(),
                offset,
                len: data.len() as u64,
                size: self.size,
            });
        }
        write_all_at(&self.file, data, offset).ctx("write partial", &self.path)
    }

    /// Make the bytes of `range` durable and record them as complete in the sidecar (atomically).
    pub fn commit_range(&self, range: Range<u64>) -> Result<()> {
        if range.start >= range.end || range.end > self.size {
            return Err(CacheError::OutOfRange {
                path: self.path.clone(),
                offset: range.start,
                len: range.end.saturating_sub(range.start),
                size: self.size,
            });
        }
        // Data before bookkeeping: the sidecar must never claim bytes that are not on disk.
        self.file.sync_data().ctx("fsync partial", &self.path)?;
        let mut done = self
            .done
            .lock()
            .map_err(|_| io::Error::other("poisoned"))
            .ctx("lock ranges of", &self.path)?;
        let mut v = std::mem::take(&mut *done);
        v.push(range);
        *done = normalize(v);
        self.save(&done)
    }

    fn save(&self, done: &[Range<u64>]) -> Result<()> {
        let s = Sidecar {
            format_version: 1,
            etag: self.lock.etag().to_string(),
            size: self.size,
            done: done.iter().map(|r| (r.start, r.end)).collect(),
        };
        let text = serde_json::to_vec(&s).map_err(|e| CacheError::CorruptMetadata {
            path: self.sidecar.clone(),
            reason: e.to_string(),
        })?;
        fsutil::atomic_write(&self.sidecar, &text, "tmp")
    }

    /// Verify the whole file (size, and [`Expected`] / ETag), fsync and rename it to `blobs/<etag>`
    /// (or the local-dir file). Returns the lock so the caller can link snapshots (or write the
    /// metadata) while still holding it. On a checksum mismatch the partial and sidecar are deleted.
    pub fn finish(self, expected: Expected) -> Result<L> {
        self.finish_inner(expected, None)
    }

    /// Like [`finish`](Self::finish), with digests the caller computed over this partial file's
    /// bytes while they arrived (in order, e.g. following [`completed`](Self::completed)), so the
    /// file is not read a second time. `git_sha1` may be empty when a `sha256` is expected: the
    /// ETag then matches through the LFS pointer. Mismatches delete the partial, as `finish` does.
    pub fn finish_with_digests(self, expected: Expected, digests: FileDigests) -> Result<L> {
        self.finish_inner(expected, Some(digests))
    }

    fn finish_inner(self, expected: Expected, digests: Option<FileDigests>) -> Result<L> {
        let missing: u64 = self.missing().iter().map(|r| r.end - r.start).sum();
        if missing > 0 {
            return Err(CacheError::PartialIncomplete {
                path: self.path.clone(),
                missing,
            });
        }
        self.file.sync_all().ctx("fsync partial", &self.path)?;
        let digests = match digests {
            Some(d) => d,
            None => hash_file(&self.path)?,
        };
        let mut expected = expected;
        expected.size.get_or_insert(self.size);
        if let Err(e) = check_expected(&self.path, &digests, &expected, Some(self.lock.etag())) {
            let _ = fs::remove_file(&self.sidecar);
            let _ = fs::remove_file(&self.path);
            return Err(e);
        }
        let PartialBlob {
            lock,
            path,
            sidecar,
            file,
            ..
        } = self;
        // Close before renaming: Windows cannot rename an open file.
        drop(file);
        let dest = lock.dest_path();
        if let Some(parent) = dest.parent() {
            fsutil::create_dir_all(parent)?;
        }
        fs::rename(&path, &dest).ctx("rename into place", &dest)?;
        let _ = fs::remove_file(&sidecar);
        Ok(lock)
    }

    /// Delete the partial and its sidecar, keeping the lock.
    pub fn discard(self) -> L {
        let PartialBlob {
            lock,
            path,
            sidecar,
            file,
            ..
        } = self;
        drop(file);
        let _ = fs::remove_file(&sidecar);
        let _ = fs::remove_file(&path);
        lock
    }
}

fn normalize(mut v: Vec<Range<u64>>) -> Vec<Range<u64>> {
    v.retain(|r| r.start < r.end);
    v.sort_by_key(|r| r.start);
    let mut out: Vec<Range<u64>> = Vec::with_capacity(v.len());
    for r in v {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

#[cfg(unix)]
fn write_all_at(file: &File, data: &[u8], offset: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.write_all_at(data, offset)
}

#[cfg(windows)]
fn write_all_at(file: &File, mut data: &[u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !data.is_empty() {
        let n = file.seek_write(data, offset)?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        data = &data[n..];
        offset += n as u64;
    }
    Ok(())
}

#[cfg(not(any(unix, windows)))]
fn write_all_at(_file: &File, _data: &[u8], _offset: u64) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_merges_overlaps_and_neighbours() {
        assert_eq!(
            normalize(vec![5..7, 0..2, 2..3, 6..9, 4..4]),
            vec![0..3, 5..9]
        );
    }
}
