//! The crate's only `unsafe`: mapping a weights file read-only.
#![allow(unsafe_code)]

use std::fs::File;

use memmap2::Mmap;

/// Map `file` read-only.
///
/// The mapping's bytes are only ever read through bounds-checked slices after the header has
/// been validated, so a hostile file cannot cause out-of-bounds reads.
pub(crate) fn map_readonly(file: &File) -> std::io::Result<Mmap> {
    // SAFETY: `Mmap::map` is unsafe because another process could truncate or rewrite the file
    // while it is mapped, which Rust cannot guard against. Model files in a snapshot are
    // written once (temp file + rename) and never modified in place, which is the same
    // assumption `safetensors`, candle and transformers make when they mmap weights. A file
    // truncated under us raises SIGBUS rather than reading foreign memory.
    unsafe { Mmap::map(file) }
}
