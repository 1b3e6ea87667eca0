//! `csghub-transfer`: moving bytes between a CSGHub server and the cache or a local folder.
//!
//! One job: parallel, resumable, verified downloads and uploads, reporting progress through a
//! small trait. It never prints.
