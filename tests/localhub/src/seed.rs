//! Seeds: the users, tokens and repos a fresh hub starts with.
//!
//! Every seed has the same accounts: `alice` (member with write access of org `OpenCSG`), `bob`
//! (no membership) and `admin` (site admin), each with a `git` access token below. Contents are
//! generated deterministically, so commit ids are the same on every run.

use std::collections::BTreeMap;

use crate::LocalHub;
use crate::store::{AccessToken, Change, RepoType, Role, State, StoreError, User};

/// Token of `alice` (writer in `OpenCSG`).
pub const ALICE_TOKEN: &str = "a11ce0000000000000000000000000000000a11c";
/// Token of `bob` (no org membership).
pub const BOB_TOKEN: &str = "b0b0000000000000000000000000000000000b0b";
/// Token of `admin` (site admin).
pub const ADMIN_TOKEN: &str = "ad31000000000000000000000000000000000ad3";
/// A `mirror` (multi-sync) token of alice: accepted on the API, not on git/LFS routes.
pub const ALICE_MIRROR_TOKEN: &str = "313300000000000000000000000000000000a11c";

/// The big interop model of [`interop`].
pub const INTEROP_MODEL: &str = "OpenCSG/interop-model";
/// Size of its LFS file `weights/big.bin` (64 MiB + 13 bytes, so no chunk size divides it).
pub const INTEROP_BIG_SIZE: usize = 64 * 1024 * 1024 + 13;

/// Deterministic pseudo-random bytes (xorshift64*), seeded by `seed`.
pub fn pseudo_random(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn accounts(st: &mut State) {
    for (name, admin) in [("alice", false), ("bob", false), ("admin", true)] {
        st.users.insert(
            name.to_string(),
            User {
                username: name.to_string(),
                email: format!("{name}@localhub.test"),
                uuid: format!("uuid-{name}"),
                admin,
            },
        );
    }
    for (tok, user, app) in [
        (ALICE_TOKEN, "alice", "git"),
        (BOB_TOKEN, "bob", "git"),
        (ADMIN_TOKEN, "admin", "git"),
        (ALICE_MIRROR_TOKEN, "alice", "mirror"),
    ] {
        st.tokens.insert(
            tok.to_string(),
            AccessToken {
                user: user.to_string(),
                application: app.to_string(),
                name: format!("{user}-{app}"),
                expire_at: "0001-01-01T00:00:00Z".to_string(),
            },
        );
    }
    st.orgs.insert(
        "OpenCSG".to_string(),
        BTreeMap::from([("alice".to_string(), Role::Write)]),
    );
}

/// Only the accounts.
pub fn empty(hub: &LocalHub) -> Result<(), StoreError> {
    let store = hub.store();
    let mut st = store.lock();
    accounts(&mut st);
    store.save(&st)
}

/// Create `ns/name` of type `t` (if missing) and commit `files` onto `main` in one commit.
pub fn repo_with_files(
    hub: &LocalHub,
    t: RepoType,
    repo: &str,
    private: bool,
    files: Vec<(String, Vec<u8>)>,
    message: &str,
) -> Result<String, StoreError> {
    let (ns, name) = repo
        .split_once('/')
        .ok_or_else(|| StoreError::Invalid(format!("repo id {repo:?} is not ns/name")))?;
    let store = hub.store();
    let mut st = store.lock();
    if st.users.is_empty() {
        accounts(&mut st);
    }
    if st.repo(t, ns, name).is_none() {
        store.create_repo(&mut st, t, ns, name, private, "alice")?;
    }
    let changes = files.into_iter().map(|(p, b)| Change::Put(p, b)).collect();
    let id = store.commit(
        &mut st, t, ns, name, "main", None, changes, message, "alice",
    )?;
    store.save(&st)?;
    Ok(id)
}

/// The files of the interop model: an LFS file of 64 MiB+, 120 small files in nested folders, a
/// non-ASCII name, a name with a space, a 3 MiB regular file, a small safetensors-named LFS file.
pub fn interop_files() -> Vec<(String, Vec<u8>)> {
    let mut files = vec![
        (
            "README.md".to_string(),
            b"---\nlicense: apache-2.0\n---\n# interop-model\nSeeded by csghub-localhub.\n"
                .to_vec(),
        ),
        (
            "config.json".to_string(),
            br#"{"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":64}"#
                .to_vec(),
        ),
        (
            "weights/big.bin".to_string(),
            pseudo_random(1, INTEROP_BIG_SIZE),
        ),
        ("model.safetensors".to_string(), pseudo_random(2, 1 << 20)),
        (
            "data/medium.jsonl".to_string(),
            pseudo_random(3, 3 * 1024 * 1024 + 7),
        ),
        (
            "文档/说明.txt".to_string(),
            "非 ASCII 文件名\n".as_bytes().to_vec(),
        ),
        (
            "docs/read me.md".to_string(),
            b"a file name with a space\n".to_vec(),
        ),
        ("data/a+b=c.txt".to_string(), b"plus and equals\n".to_vec()),
        ("empty.txt".to_string(), Vec::new()),
    ];
    for i in 0..120u64 {
        let path = format!("data/shard-{:02}/part/file-{i:03}.txt", i / 10);
        let mut body = format!("file {i}\n").into_bytes();
        body.extend(pseudo_random(100 + i, (i as usize * 37) % 2000));
        files.push((path, body));
    }
    files
}

/// The interop seed: accounts, [`INTEROP_MODEL`] with [`interop_files`] (two commits on `main`, a
/// `dev` branch and a `v1.0` tag), and a public dataset `OpenCSG/interop-dataset`.
pub fn interop(hub: &LocalHub) -> Result<(), StoreError> {
    empty(hub)?;
    let mut files = interop_files();
    let second = files.split_off(3);
    let first_commit = repo_with_files(
        hub,
        RepoType::Model,
        INTEROP_MODEL,
        false,
        files,
        "add weights",
    )?;
    repo_with_files(
        hub,
        RepoType::Model,
        INTEROP_MODEL,
        false,
        second,
        "add data",
    )?;
    {
        let store = hub.store();
        let mut st = store.lock();
        if let Some(repo) = st.repo_mut(RepoType::Model, "OpenCSG", "interop-model") {
            repo.tags.insert("v1.0".into(), first_commit.clone());
            repo.branches.insert("dev".into(), first_commit);
        }
        store.save(&st)?;
    }
    repo_with_files(
        hub,
        RepoType::Dataset,
        "OpenCSG/interop-dataset",
        false,
        vec![
            (
                "data/train-00000.jsonl".into(),
                b"{\"text\":\"a\"}\n".to_vec(),
            ),
            (
                "data/test-00000.jsonl".into(),
                b"{\"text\":\"b\"}\n".to_vec(),
            ),
        ],
        "add data",
    )?;
    Ok(())
}

/// The files of the demo model: a tiny Llama-shaped model (config, generation config,
/// tokenizer, two safetensors shards and their index) from csghub-reader's generator.
pub fn demo_model_files() -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    let dir = tempfile_dir()?;
    let names = csghub_reader::demo::write_demo_llama(&dir)
        .map_err(|e| StoreError::Invalid(format!("demo model: {e}")))?;
    let mut files = Vec::new();
    for name in names {
        let bytes = std::fs::read(dir.join(&name))?;
        files.push((name, bytes));
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(files)
}

fn tempfile_dir() -> Result<std::path::PathBuf, StoreError> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "csghub-localhub-demo-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The demo seed: accounts, the tiny Llama model `OpenCSG/demo-model` ([`demo_model_files`]; also
/// as `OpenCSG/csg-wukong-1B`, the id of pycsghub's documented examples), a
/// dataset, and one repo of every other type so listings of all six kinds have something to show.
pub fn demo(hub: &LocalHub) -> Result<(), StoreError> {
    empty(hub)?;
    let model = demo_model_files()?;
    repo_with_files(
        hub,
        RepoType::Model,
        "OpenCSG/demo-model",
        false,
        model.clone(),
        "add demo model",
    )?;
    // The repo id pycsghub's documentation uses in its examples, so they run unchanged.
    repo_with_files(
        hub,
        RepoType::Model,
        "OpenCSG/csg-wukong-1B",
        false,
        model,
        "add demo model",
    )?;
    repo_with_files(
        hub,
        RepoType::Dataset,
        "OpenCSG/demo-dataset",
        false,
        vec![(
            "data/train.jsonl".into(),
            b"{\"text\":\"hello\"}\n".to_vec(),
        )],
        "add data",
    )?;
    for t in [
        RepoType::Space,
        RepoType::Code,
        RepoType::Mcp,
        RepoType::Skill,
    ] {
        let id = format!("OpenCSG/demo-{}", t.internal());
        repo_with_files(
            hub,
            t,
            &id,
            false,
            vec![("README.md".into(), format!("# {id}\n").into_bytes())],
            "add readme",
        )?;
    }
    Ok(())
}

/// Apply a seed by name (`empty`, `demo`, `interop`).
pub fn by_name(hub: &LocalHub, name: &str) -> Result<(), StoreError> {
    match name {
        "empty" => empty(hub),
        "demo" => demo(hub),
        "interop" => interop(hub),
        other => Err(StoreError::Invalid(format!(
            "unknown seed {other:?}: use empty, demo or interop"
        ))),
    }
}
