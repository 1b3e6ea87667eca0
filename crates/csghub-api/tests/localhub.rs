//! Every endpoint constructor, `Client::tree_pages`, `Client::resolve_url` + `request`/`send` and
//! the blocking facade, run once against a real in-process local hub (`tests/localhub`, which
//! reproduces SERVER.md). Values are cross-checked between routes: the commit id one route
//! reports must be the one another route reports.

use std::collections::BTreeMap;

use base64::Engine as _;
use csghub_api::dto::{BatchRequest, CompleteMultipartBody, CompletePart, HfCommitLine, LfsObject};
use csghub_api::endpoints::{self, UploadFile};
use csghub_api::generated::{
    Code, CommitAction, CommitFileReq, CommitFilesReq, CreateDatasetReq, CreateFileReq,
    CreateModelReq, CreateRepoReq, CreateSpaceReq, Dataset, DeleteFileReq, File, McpServer, Model,
    ModelRunReq, PreuploadFile, PreuploadReq, Skill, Space, SpaceResource, UpdateFileReq,
    UpdateRepoReq, UploadMode,
};
use csghub_api::{Client, ClientConfig, Error, Method, NotFoundMeans, RepoId, RepoType, Token};
use csghub_localhub::seed::{self, ADMIN_TOKEN, ALICE_TOKEN, BOB_TOKEN, INTEROP_MODEL};
use csghub_localhub::{HubConfig, LocalHub};
use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_RANGE, ETAG, LOCATION, RANGE};
use sha2::Digest as _;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

struct Hub {
    hub: LocalHub,
    _dir: tempfile::TempDir,
}

async fn start(seed_name: &str) -> Hub {
    start_with(seed_name, |_| {}).await
}

async fn start_with(seed_name: &str, f: impl FnOnce(&mut HubConfig)) -> Hub {
    let dir = tempfile::tempdir().unwrap();
    let mut config = HubConfig::new(dir.path());
    f(&mut config);
    let hub = LocalHub::start(config).await.unwrap();
    seed::by_name(&hub, seed_name).unwrap();
    Hub { hub, _dir: dir }
}

impl Hub {
    fn config(&self, token: Option<&str>) -> ClientConfig {
        ClientConfig::new(self.hub.url())
            .unwrap()
            .with_proxy_from_env(false)
            .with_token(token.map(|t| Token::new(t).unwrap()))
    }

    fn client(&self, token: Option<&str>) -> Client {
        Client::new(self.config(token)).unwrap()
    }
}

fn interop() -> RepoId {
    INTEROP_MODEL.parse().unwrap()
}

fn demo() -> RepoId {
    "OpenCSG/demo-model".parse().unwrap()
}

fn seed_file(path: &str) -> Vec<u8> {
    seed::interop_files()
        .into_iter()
        .find(|(p, _)| p == path)
        .unwrap_or_else(|| panic!("{path} is not in the interop seed"))
        .1
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&sha2::Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn pointer(oid: &str, size: usize) -> String {
    format!("version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n")
}

fn paths(files: &[File]) -> Vec<&str> {
    files.iter().map(|f| f.path.as_str()).collect()
}

/// The server's code of an error that came from an HTTP answer.
fn code(e: &Error) -> Option<&str> {
    e.info().and_then(|i| i.code.as_deref())
}

/// GET through `resolve_url` → `request` → `send`, returning status, headers and body.
async fn fetch(
    c: &Client,
    url: &url::Url,
    range: Option<&str>,
) -> Result<(StatusCode, reqwest::header::HeaderMap, Vec<u8>), Error> {
    let mut rb = c.request(Method::GET, url.clone());
    if let Some(r) = range {
        rb = rb.header(RANGE, r);
    }
    let resp = c.send(rb, url, NotFoundMeans::Entry).await?;
    let (status, headers) = (resp.status(), resp.headers().clone());
    Ok((status, headers, resp.bytes().await.unwrap().to_vec()))
}

// ------------------------------------------------------------------------------------------
// Repo info, refs, commits (SERVER.md §5, §8.1)

#[tokio::test]
async fn repo_info_refs_and_commits_agree_with_each_other() {
    let t = start("interop").await;
    let c = t.client(None);
    let repo = interop();

    let model = c
        .execute(endpoints::repo_detail::<Model>(&repo))
        .await
        .unwrap();
    assert_eq!(model.path, INTEROP_MODEL);
    assert_eq!(model.name, "interop-model");
    assert_eq!(model.default_branch, "main");
    assert!(!model.private);
    let ns = model.namespace.as_ref().expect("namespace object");
    assert_eq!(
        (ns.path.as_str(), ns.kind.as_str()),
        ("OpenCSG", "organization")
    );
    assert!(
        model
            .repository
            .as_ref()
            .unwrap()
            .http_clone_url
            .ends_with("models/OpenCSG/interop-model.git")
    );

    // Branches: `main` and `dev`; `dev` points at the first seeded commit.
    let branches = c
        .execute(endpoints::branches(RepoType::Model, &repo))
        .await
        .unwrap();
    let tips: BTreeMap<&str, &str> = branches
        .iter()
        .map(|b| (b.name.as_str(), b.commit.as_ref().unwrap().id.as_str()))
        .collect();
    assert_eq!(tips.keys().copied().collect::<Vec<_>>(), ["dev", "main"]);
    let (main_tip, dev_tip) = (tips["main"].to_owned(), tips["dev"].to_owned());
    assert_ne!(main_tip, dev_tip);
    assert_eq!(main_tip.len(), 40);
    let main_branch = branches.iter().find(|b| b.name == "main").unwrap();
    assert_eq!(main_branch.message, "add data");

    // Commits, paged one per page: newest first, same ids as the branch tips.
    let page1 = c
        .execute(endpoints::commits(RepoType::Model, &repo, "main", 1, 1).unwrap())
        .await
        .unwrap();
    assert_eq!((page1.total, page1.page_count), (3, 3));
    assert_eq!(page1.commits.len(), 1);
    assert_eq!(page1.commits[0].id, main_tip);
    assert_eq!(page1.commits[0].message, "add data");
    assert_eq!(page1.commits[0].author_name, "alice");
    let page2 = c
        .execute(endpoints::commits(RepoType::Model, &repo, "main", 1, 2).unwrap())
        .await
        .unwrap();
    assert_eq!(page2.commits[0].id, dev_tip);
    assert_eq!(page2.commits[0].message, "add weights");
    let all = c
        .execute(endpoints::commits(RepoType::Model, &repo, "dev", 50, 1).unwrap())
        .await
        .unwrap();
    assert_eq!(all.total, 2, "dev lacks the `add data` commit");

    // last_commit by branch and by tag.
    for (rev, want) in [("main", &main_tip), ("dev", &dev_tip), ("v1.0", &dev_tip)] {
        let last = c
            .execute(endpoints::last_commit(RepoType::Model, &repo, rev).unwrap())
            .await
            .unwrap();
        assert_eq!(&last.id, want, "last_commit {rev}");
    }
    // Unknown ref: 200 with an all-empty commit (§5.5), which callers must check.
    let none = c
        .execute(endpoints::last_commit(RepoType::Model, &repo, "no-such-ref").unwrap())
        .await
        .unwrap();
    assert_eq!(none.id, "");

    // One commit with its diff: parent = dev, 126 files added in `add data`.
    let detail = c
        .execute(endpoints::commit_detail(RepoType::Model, &repo, &main_tip).unwrap())
        .await
        .unwrap();
    assert_eq!(detail.id, main_tip);
    assert_eq!(detail.parents.len(), 1);
    assert_eq!(detail.parents[0].sha, dev_tip);
    let second_commit_files = seed::interop_files().len() - 3;
    assert_eq!(detail.files.len(), second_commit_files);
    assert!(detail.files.iter().any(|f| f == "data/medium.jsonl"));
    assert_eq!(
        detail.stats.as_ref().unwrap().additions,
        second_commit_files as i64
    );
    let diff = String::from_utf8(B64.decode(&detail.diff).unwrap()).unwrap();
    assert!(diff.contains("diff --git a/data/medium.jsonl"), "{diff}");

    // Metadata tags (not git tags): the license, as the detail reports it.
    let tags = c
        .execute(endpoints::tags(RepoType::Model, &repo))
        .await
        .unwrap();
    assert!(
        tags.iter()
            .any(|t| t.category == "license" && t.name == model.license),
        "{tags:?}"
    );

    // HF model info: sha = commit at the revision, siblings recursive with LFS details.
    let info = c
        .execute(endpoints::hf_repo_info(RepoType::Model, &repo, Some("main"), true).unwrap())
        .await
        .unwrap();
    assert_eq!(info.id, INTEROP_MODEL);
    assert_eq!(info.sha, main_tip);
    // The seeded files plus the `.gitattributes` the hub creates with the repo.
    assert_eq!(info.siblings.len(), seed::interop_files().len() + 1);
    let big = info
        .siblings
        .iter()
        .find(|s| s.rfilename == "weights/big.bin")
        .unwrap();
    assert_eq!(big.size, Some(seed::INTEROP_BIG_SIZE as i64));
    let lfs = big.lfs.as_ref().expect("big.bin is LFS");
    assert_eq!(lfs.sha256, sha256_hex(&seed_file("weights/big.bin")));
    assert_eq!(lfs.size, seed::INTEROP_BIG_SIZE as i64);
    let at_dev = c
        .execute(endpoints::hf_repo_info(RepoType::Model, &repo, Some("dev"), false).unwrap())
        .await
        .unwrap();
    assert_eq!(at_dev.sha, dev_tip);
    assert!(at_dev.siblings.iter().all(|s| s.size.is_none()));
    assert!(
        !at_dev
            .siblings
            .iter()
            .any(|s| s.rfilename == "data/medium.jsonl")
    );
    let no_rev = c
        .execute(endpoints::hf_repo_info(RepoType::Model, &repo, None, false).unwrap())
        .await
        .unwrap();
    assert_eq!(no_rev.sha, main_tip);

    // Datasets: `sha` is the default branch NAME (§0.9).
    let ds: RepoId = "OpenCSG/interop-dataset".parse().unwrap();
    let ds_info = c
        .execute(endpoints::hf_repo_info(RepoType::Dataset, &ds, Some("main"), false).unwrap())
        .await
        .unwrap();
    assert_eq!(ds_info.sha, "main");
    let mut names: Vec<_> = ds_info
        .siblings
        .iter()
        .map(|s| s.rfilename.as_str())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ".gitattributes",
            "data/test-00000.jsonl",
            "data/train-00000.jsonl"
        ]
    );
    assert!(matches!(
        endpoints::hf_repo_info(RepoType::Prompt, &ds, None, false),
        Err(Error::InvalidInput { .. })
    ));

    // Missing repo / revision / commit map to their variants.
    let missing: RepoId = "OpenCSG/no-such-model".parse().unwrap();
    let e = c
        .execute(endpoints::repo_detail::<Model>(&missing))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::RepoNotFound(_)), "{e:?}");
    assert_eq!(code(&e), Some("SYS-ERR-3"));
    let e = c
        .execute(endpoints::branches(RepoType::Model, &missing))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::RepoNotFound(_)), "{e:?}");
    let e = c
        .execute(endpoints::commits(RepoType::Model, &repo, "no-such-ref", 10, 1).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::RevisionNotFound(_)), "{e:?}");
    let e = c
        .execute(endpoints::commit_detail(RepoType::Model, &repo, &"0".repeat(40)).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::RevisionNotFound(_)), "{e:?}");
    assert_eq!(code(&e), Some("GIT-ERR-6"));
    // Model info of a missing repo is a 500 with SYS-ERR-3 (§8.1), still "repo not found".
    let e = c
        .execute(endpoints::hf_repo_info(RepoType::Model, &missing, None, false).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::RepoNotFound(_)), "{e:?}");
    assert!(!e.is_transient());
}

// ------------------------------------------------------------------------------------------
// Listing (SERVER.md §6)

#[tokio::test]
async fn listings_page_recurse_and_report_lfs_details() {
    let t = start("interop").await;
    let c = t.client(None);
    let repo = interop();

    // Root: directories first, then files; one page, no cursor.
    let root = c
        .execute(endpoints::tree_page(RepoType::Model, &repo, "main", "", None, None).unwrap())
        .await
        .unwrap();
    assert_eq!(root.cursor, "");
    assert_eq!(
        paths(&root.files),
        [
            "data",
            "docs",
            "weights",
            "文档",
            ".gitattributes",
            "README.md",
            "config.json",
            "empty.txt",
            "model.safetensors"
        ]
    );
    assert!(root.files[..4].iter().all(|f| f.kind == "dir"));
    let st = root
        .files
        .iter()
        .find(|f| f.path == "model.safetensors")
        .unwrap();
    let st_bytes = seed_file("model.safetensors");
    assert_eq!(
        st.size,
        st_bytes.len() as i64,
        "LFS size is the object size"
    );
    assert!(st.lfs);
    let oid = sha256_hex(&st_bytes);
    assert_eq!(st.lfs_sha256, oid);
    assert_eq!(
        st.lfs_relative_path,
        format!("{}/{}/{}", &oid[..2], &oid[2..4], &oid[4..])
    );
    assert_eq!(
        st.lfs_pointer_size,
        pointer(&oid, st_bytes.len()).len() as i64
    );
    let empty = root.files.iter().find(|f| f.path == "empty.txt").unwrap();
    assert_eq!((empty.size, empty.lfs), (0, false));

    // tree_pages follows the cursor: 10 files in pages of 3.
    let dir = "data/shard-00/part";
    let pages: Vec<Vec<File>> = c
        .tree_pages(RepoType::Model, &repo, "main", dir, Some(3))
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 3, 1]);
    let listed: Vec<File> = pages.into_iter().flatten().collect();
    for (i, f) in listed.iter().enumerate() {
        let want = format!("{dir}/file-{i:03}.txt");
        assert_eq!(f.path, want);
        assert_eq!(f.size, seed_file(&want).len() as i64);
        assert_eq!(f.kind, "file");
    }
    // One page when the limit is large enough.
    let one: Vec<_> = c
        .tree_pages(RepoType::Model, &repo, "main", dir, None)
        .collect()
        .await;
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].as_ref().unwrap().len(), 10);

    // Missing directory or ref: the server answers 200 with an EMPTY body (§6.2) ...
    let raw_url = c
        .url("/api/v1/models/OpenCSG/interop-model/refs/main/tree/no-such-dir")
        .unwrap();
    let resp = c
        .send(
            c.request(Method::GET, raw_url.clone()),
            &raw_url,
            NotFoundMeans::Entry,
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.bytes().await.unwrap().is_empty());
    // ... which the endpoint reads as an empty page, and the stream as one empty page.
    for (rev, d) in [("main", "no-such-dir"), ("no-such-ref", "")] {
        let page = c
            .execute(endpoints::tree_page(RepoType::Model, &repo, rev, d, None, None).unwrap())
            .await
            .unwrap();
        assert!(page.files.is_empty() && page.cursor.is_empty(), "{rev} {d}");
    }
    let pages: Vec<_> = c
        .tree_pages(RepoType::Model, &repo, "main", "no-such-dir", None)
        .collect()
        .await;
    assert_eq!(pages.len(), 1);
    assert!(pages[0].as_ref().unwrap().is_empty());
    let missing: RepoId = "OpenCSG/no-such-model".parse().unwrap();
    // The stream is not `Unpin`: pin it to poll it by hand.
    let mut stream = std::pin::pin!(c.tree_pages(RepoType::Model, &missing, "main", "", None));
    let first = stream.next().await.unwrap();
    assert!(matches!(first, Err(Error::RepoNotFound(_))), "{first:?}");

    // Legacy tree: entries with the last commit touching them.
    let tips = c
        .execute(endpoints::branches(RepoType::Model, &repo))
        .await
        .unwrap();
    let tip = |name: &str| {
        tips.iter()
            .find(|b| b.name == name)
            .unwrap()
            .commit
            .clone()
            .unwrap()
            .id
    };
    let legacy = c
        .execute(endpoints::legacy_tree(RepoType::Model, &repo, "main", "").unwrap())
        .await
        .unwrap();
    let by_path: BTreeMap<&str, &File> = legacy.iter().map(|f| (f.path.as_str(), f)).collect();
    assert_eq!(by_path["data"].last_commit_sha, tip("main"));
    assert_eq!(by_path["weights"].last_commit_sha, tip("dev"));
    assert_eq!(
        by_path["config.json"].commit.as_ref().unwrap().id,
        tip("dev")
    );
    let legacy_v1 = c
        .execute(endpoints::legacy_tree(RepoType::Model, &repo, "v1.0", "/").unwrap())
        .await
        .unwrap();
    assert!(!legacy_v1.iter().any(|f| f.path == "data"));
    assert!(legacy_v1.iter().any(|f| f.path == "weights"));

    // HF tree: recursive = files only, below the directory; oid = git blob SHA-1.
    let rec = c
        .execute(endpoints::hf_tree(RepoType::Model, &repo, "main", "data/shard-01", true).unwrap())
        .await
        .unwrap();
    assert_eq!(rec.len(), 10);
    assert!(rec.iter().all(|e| e.kind == "file"));
    assert_eq!(rec[0].path, "data/shard-01/part/file-010.txt");
    let blob_sha = c
        .execute(
            endpoints::tree_page(
                RepoType::Model,
                &repo,
                "main",
                "data/shard-01/part",
                Some(1),
                None,
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .files[0]
        .sha
        .clone();
    assert_eq!(rec[0].oid, blob_sha);
    let flat = c
        .execute(endpoints::hf_tree(RepoType::Model, &repo, "main", "data", false).unwrap())
        .await
        .unwrap();
    assert!(
        flat.iter()
            .any(|e| e.kind == "dir" && e.path == "data/shard-00")
    );
    assert!(flat.iter().any(|e| e.path == "data/medium.jsonl"));
    assert!(!flat.iter().any(|e| e.path.contains("/part/")));
    let ds: RepoId = "OpenCSG/interop-dataset".parse().unwrap();
    let ds_tree = c
        .execute(endpoints::hf_tree(RepoType::Dataset, &ds, "main", "data", true).unwrap())
        .await
        .unwrap();
    assert_eq!(ds_tree.len(), 2);
    assert!(matches!(
        endpoints::hf_tree(RepoType::Space, &ds, "main", "", true),
        Err(Error::InvalidInput { .. })
    ));

    // Blob: metadata, content, last commit.
    let cfg = c
        .execute(endpoints::blob(RepoType::Model, &repo, "main", "config.json").unwrap())
        .await
        .unwrap();
    assert_eq!(B64.decode(&cfg.content).unwrap(), seed_file("config.json"));
    assert_eq!(cfg.size, seed_file("config.json").len() as i64);
    assert_eq!(cfg.commit.as_ref().unwrap().id, tip("dev"));
    let odd = c
        .execute(endpoints::blob(RepoType::Model, &repo, "main", "文档/说明.txt").unwrap())
        .await
        .unwrap();
    assert_eq!(
        B64.decode(&odd.content).unwrap(),
        seed_file("文档/说明.txt")
    );
    let big = c
        .execute(endpoints::blob(RepoType::Model, &repo, "main", "weights/big.bin").unwrap())
        .await
        .unwrap();
    assert!(big.lfs);
    assert_eq!(big.size, seed::INTEROP_BIG_SIZE as i64);
    let big_oid = sha256_hex(&seed_file("weights/big.bin"));
    assert_eq!(big.lfs_sha256, big_oid);
    assert_eq!(
        String::from_utf8(B64.decode(&big.content).unwrap()).unwrap(),
        pointer(&big_oid, seed::INTEROP_BIG_SIZE),
        "LFS blob content is the pointer text"
    );
    let e = c
        .execute(endpoints::blob(RepoType::Model, &repo, "main", "no-such-file.txt").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::EntryNotFound(_)), "{e:?}");
    assert_eq!(code(&e), Some("GIT-ERR-15"));
    let e = c
        .execute(endpoints::blob(RepoType::Model, &repo, "no-such-ref", "config.json").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::RevisionNotFound(_)), "{e:?}");
    assert!(matches!(
        endpoints::blob(RepoType::Model, &repo, "main", "/"),
        Err(Error::InvalidInput { .. })
    ));
}

// ------------------------------------------------------------------------------------------
// Downloads (SERVER.md §7)

#[tokio::test]
async fn downloads_stream_ranges_and_redirect_lfs_without_auth() {
    let t = start("interop").await;
    let c = t.client(Some(ALICE_TOKEN));
    let anon = t.client(None);
    let repo = interop();
    let main_tip = c
        .execute(endpoints::last_commit(RepoType::Model, &repo, "main").unwrap())
        .await
        .unwrap()
        .id;

    // Regular files: streamed, names with spaces and non-ASCII encoded correctly.
    for path in [
        "docs/read me.md",
        "文档/说明.txt",
        "data/a+b=c.txt",
        "config.json",
    ] {
        let url = anon
            .resolve_url(RepoType::Model, &repo, "main", path)
            .unwrap();
        assert!(
            url.path()
                .starts_with("/hf/OpenCSG/interop-model/resolve/main/")
        );
        let (status, _, body) = fetch(&anon, &url, None).await.unwrap();
        assert_eq!(status, 200, "{path}");
        assert_eq!(body, seed_file(path), "{path}");
    }

    // One range → 206 with Content-Range.
    let medium = seed_file("data/medium.jsonl");
    let url = c
        .resolve_url(RepoType::Model, &repo, "main", "data/medium.jsonl")
        .unwrap();
    let (status, headers, body) = fetch(&c, &url, Some("bytes=100-199")).await.unwrap();
    assert_eq!(status, 206);
    assert_eq!(body, &medium[100..200]);
    assert_eq!(
        headers[CONTENT_RANGE],
        format!("bytes 100-199/{}", medium.len()).as_str()
    );

    // HEAD: size, ETag = git blob SHA-1 (as the tree says), X-Repo-Commit = tip of the ref.
    let big_url = c
        .resolve_url(RepoType::Model, &repo, "main", "weights/big.bin")
        .unwrap();
    let head = c
        .send(
            c.request(Method::HEAD, big_url.clone()),
            &big_url,
            NotFoundMeans::Entry,
        )
        .await
        .unwrap();
    let big_entry = c
        .execute(endpoints::blob(RepoType::Model, &repo, "main", "weights/big.bin").unwrap())
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"],
        seed::INTEROP_BIG_SIZE.to_string().as_str()
    );
    assert_eq!(
        head.headers()[ETAG],
        format!("\"{}\"", big_entry.sha).as_str()
    );
    assert_eq!(head.headers()["x-repo-commit"], main_tip.as_str());

    // LFS: 302 to the object store; following WITH Authorization is refused there, so the
    // redirect must be followed with request_without_auth.
    let resp = c
        .send(
            c.request(Method::GET, big_url.clone()),
            &big_url,
            NotFoundMeans::Entry,
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let location = url::Url::parse(resp.headers()[LOCATION].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(t.hub.objects_url()));
    let refused = c
        .send(
            c.request(Method::GET, location.clone()),
            &location,
            NotFoundMeans::Entry,
        )
        .await;
    assert!(
        refused.is_err(),
        "the object store must refuse Authorization"
    );
    let obj = c
        .send(
            c.request_without_auth(Method::GET, location.clone()),
            &location,
            NotFoundMeans::Entry,
        )
        .await
        .unwrap();
    assert_eq!(obj.status(), 200);
    let mut hasher = sha2::Sha256::new();
    let mut n = 0usize;
    let mut stream = obj.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        n += chunk.len();
        hasher.update(&chunk);
    }
    assert_eq!(n, seed::INTEROP_BIG_SIZE);
    assert_eq!(hex(&hasher.finalize()), big_entry.lfs_sha256);

    // Missing file, and missing repo, on the HF resolve route: 404 → what the caller says.
    let url = c
        .resolve_url(RepoType::Model, &repo, "main", "no-such-file")
        .unwrap();
    let e = fetch(&c, &url, None).await.unwrap_err();
    assert!(matches!(e, Error::EntryNotFound(_)), "{e:?}");
    let missing: RepoId = "OpenCSG/no-such-model".parse().unwrap();
    let url = c
        .resolve_url(RepoType::Model, &missing, "main", "config.json")
        .unwrap();
    let e = c
        .send(
            c.request(Method::GET, url.clone()),
            &url,
            NotFoundMeans::Repo,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::RepoNotFound(_)), "{e:?}");

    // A branch with `/` cannot be routed in a path segment: resolve_url switches to the REST
    // resolve route with `?ref=`. Create such a branch first (create_file + new_branch, §9.3).
    c.execute(
        endpoints::create_file(
            RepoType::Model,
            &repo,
            "only-on-feature.txt",
            &CreateFileReq {
                message: "feature file".into(),
                branch: "main".into(),
                new_branch: Some("feature/x".into()),
                content: Some(B64.encode(b"feature content\n")),
                ..Default::default()
            },
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let url = c
        .resolve_url(RepoType::Model, &repo, "feature/x", "only-on-feature.txt")
        .unwrap();
    assert_eq!(
        url.path(),
        "/api/v1/models/OpenCSG/interop-model/resolve/only-on-feature.txt"
    );
    assert_eq!(url.query(), Some("ref=feature%2Fx"));
    let (status, _, body) = fetch(&c, &url, None).await.unwrap();
    assert_eq!(
        (status.as_u16(), body.as_slice()),
        (200, &b"feature content\n"[..])
    );
    // Not on main.
    let url = c
        .resolve_url(RepoType::Model, &repo, "main", "only-on-feature.txt")
        .unwrap();
    assert!(matches!(
        fetch(&c, &url, None).await,
        Err(Error::EntryNotFound(_))
    ));
    // The branch list reports only the last path element (§5.2 bug).
    let branches = c
        .execute(endpoints::branches(RepoType::Model, &repo))
        .await
        .unwrap();
    assert!(branches.iter().any(|b| b.name == "x"), "{branches:?}");

    // The `/csg` twin of the HF resolve route (what pycsghub uses), for a dataset.
    let csg = c
        .url(
            &endpoints::hf_resolve_path(
                "csg",
                RepoType::Dataset,
                &"OpenCSG/interop-dataset".parse().unwrap(),
                "main",
                "data/test-00000.jsonl",
            )
            .unwrap(),
        )
        .unwrap();
    assert_eq!(
        csg.path(),
        "/csg/datasets/OpenCSG/interop-dataset/resolve/main/data/test-00000.jsonl"
    );
    let (_, _, body) = fetch(&anon, &csg, None).await.unwrap();
    assert_eq!(body, b"{\"text\":\"b\"}\n");

    // REST resolve of a dataset needs login (§4); with a token it streams.
    let ds: RepoId = "OpenCSG/interop-dataset".parse().unwrap();
    let url = anon
        .rest_resolve_url(RepoType::Dataset, &ds, "main", "data/train-00000.jsonl")
        .unwrap();
    let e = fetch(&anon, &url, None).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Unauthorized {
                bad_token: false,
                ..
            }
        ),
        "{e:?}"
    );
    let (_, _, body) = fetch(&c, &url, None).await.unwrap();
    assert_eq!(body, b"{\"text\":\"a\"}\n");
}

// ------------------------------------------------------------------------------------------
// Auth, account, permissions (SERVER.md §2, §10, §12.3)

#[tokio::test]
async fn auth_account_and_permissions() {
    let t = start("demo").await;
    let alice = t.client(Some(ALICE_TOKEN));
    let bob = t.client(Some(BOB_TOKEN));
    let anon = t.client(None);
    let bad = t.client(Some("not-a-known-token"));
    let repo = demo();

    let me = alice.execute(endpoints::whoami()).await.unwrap();
    assert_eq!(me.name, "alice");
    let auth = me.auth.unwrap();
    assert_eq!(auth.kind, "Bearer");
    assert_eq!(auth.access_token.unwrap().display_name, "alice");
    let e = anon.execute(endpoints::whoami()).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Unauthorized {
                bad_token: false,
                ..
            }
        ),
        "{e:?}"
    );

    // A bad token is 401 AUTH-ERR-5 even on a public repo (§0.2).
    let e = bad
        .execute(endpoints::repo_detail::<Model>(&repo))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Unauthorized {
                bad_token: true,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(code(&e), Some("AUTH-ERR-5"));
    assert!(!e.to_string().contains("not-a-known-token"));
    let e = bad.execute(endpoints::whoami()).await.unwrap_err();
    assert!(matches!(
        e,
        Error::Unauthorized {
            bad_token: true,
            ..
        }
    ));

    // Token check: sent without Authorization, so even the bad-token client can ask.
    let bob_token = Token::new(BOB_TOKEN).unwrap();
    let info = bad
        .execute(endpoints::token_info(&bob_token))
        .await
        .unwrap();
    assert_eq!(info.user_name, "bob");
    assert_eq!(info.application, "git");
    assert_eq!(info.expire_at, "0001-01-01T00:00:00Z");
    assert!(!format!("{info:?}").contains(BOB_TOKEN));
    let unknown = Token::new("0123456789abcdef").unwrap();
    let e = anon
        .execute(endpoints::token_info(&unknown))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "{e:?}");
    assert!(!e.to_string().contains("0123456789abcdef"));

    // A private repo of alice.
    let secret = alice
        .execute(endpoints::create_model(&CreateModelReq {
            namespace: Some("alice".into()),
            name: "secret-model".into(),
            private: Some(true),
            ..Default::default()
        }))
        .await
        .unwrap();
    assert!(secret.private);
    let secret_id: RepoId = secret.path.parse().unwrap();
    assert_eq!(secret_id.to_string(), "alice/secret-model");
    let readme = alice
        .resolve_url(RepoType::Model, &secret_id, "main", "README.md")
        .unwrap();
    let (status, _, _) = fetch(&alice, &readme, None).await.unwrap();
    assert_eq!(status, 200);
    // Admin reads everything.
    let admin = t.client(Some(ADMIN_TOKEN));
    assert!(
        admin
            .execute(endpoints::repo_detail::<Model>(&secret_id))
            .await
            .unwrap()
            .private
    );

    // bob: Forbidden, whether the route answers 403 or 500 + AUTH-ERR-2.
    let e = bob
        .execute(endpoints::repo_detail::<Model>(&secret_id))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)), "{e:?}");
    assert_eq!(e.info().unwrap().status, 403);
    let e = bob
        .execute(endpoints::branches(RepoType::Model, &secret_id))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)), "{e:?}");
    assert_eq!(e.info().unwrap().status, 500);
    assert!(!e.is_transient(), "a permission 500 is not retried");
    let e = fetch(&bob, &readme, None).await.unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)), "{e:?}");
    let e = bob
        .execute(endpoints::tree_page(RepoType::Model, &secret_id, "main", "", None, None).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)), "{e:?}");
    // Anonymous: resolve → 401 AUTH-ERR-1; HF model info → 500 AUTH-ERR-0 (§8.1).
    let e = fetch(&anon, &readme, None).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Unauthorized {
                bad_token: false,
                ..
            }
        ),
        "{e:?}"
    );
    let e = anon
        .execute(endpoints::hf_repo_info(RepoType::Model, &secret_id, None, false).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Unauthorized { .. }), "{e:?}");
    assert_eq!(code(&e), Some("AUTH-ERR-0"));
    // Listings hide it from others.
    let bobs_view = bob
        .execute(endpoints::user_repos::<Model>("alice", 50, 1).unwrap())
        .await
        .unwrap();
    assert_eq!(bobs_view.total, 0);
    let alices_view = alice
        .execute(endpoints::user_repos::<Model>("alice", 50, 1).unwrap())
        .await
        .unwrap();
    assert_eq!(alices_view.total, 1);
    assert_eq!(alices_view.items[0].path, "alice/secret-model");
}

// ------------------------------------------------------------------------------------------
// Repo management and lists (SERVER.md §5.1, §9.1, §3.1)

#[tokio::test]
async fn repo_management_and_the_three_list_envelopes() {
    let t = start("demo").await;
    let alice = t.client(Some(ALICE_TOKEN));
    let bob = t.client(Some(BOB_TOKEN));
    let anon = t.client(None);
    let id = |s: &str| -> RepoId { s.parse().unwrap() };

    // Detail of every kind (spaces need login).
    let ds = anon
        .execute(endpoints::repo_detail::<Dataset>(&id(
            "OpenCSG/demo-dataset",
        )))
        .await
        .unwrap();
    assert_eq!(ds.path, "OpenCSG/demo-dataset");
    let code_repo = anon
        .execute(endpoints::repo_detail::<Code>(&id("OpenCSG/demo-code")))
        .await
        .unwrap();
    assert_eq!(code_repo.path, "OpenCSG/demo-code");
    let mcp = anon
        .execute(endpoints::repo_detail::<McpServer>(&id(
            "OpenCSG/demo-mcpserver",
        )))
        .await
        .unwrap();
    assert_eq!(mcp.path, "OpenCSG/demo-mcpserver");
    let skill = anon
        .execute(endpoints::repo_detail::<Skill>(&id("OpenCSG/demo-skill")))
        .await
        .unwrap();
    assert_eq!(skill.path, "OpenCSG/demo-skill");
    let e = anon
        .execute(endpoints::repo_detail::<Space>(&id("OpenCSG/demo-space")))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Unauthorized { .. }), "{e:?}");
    let space = alice
        .execute(endpoints::repo_detail::<Space>(&id("OpenCSG/demo-space")))
        .await
        .unwrap();
    assert_eq!(space.path, "OpenCSG/demo-space");
    assert!(space.can_write);

    // Create one repo of every kind in the org.
    let model = alice
        .execute(endpoints::create_model(&CreateModelReq {
            namespace: Some("OpenCSG".into()),
            name: "new-model".into(),
            description: Some("made by a test".into()),
            ..Default::default()
        }))
        .await
        .unwrap();
    assert_eq!(
        (model.path.as_str(), model.description.as_str()),
        ("OpenCSG/new-model", "made by a test")
    );
    let dataset = alice
        .execute(endpoints::create_dataset(&CreateDatasetReq {
            namespace: Some("OpenCSG".into()),
            name: "new-dataset".into(),
            kind: Some(0),
            ..Default::default()
        }))
        .await
        .unwrap();
    assert_eq!(dataset.path, "OpenCSG/new-dataset");
    let req = |name: &str| CreateRepoReq {
        namespace: Some("OpenCSG".into()),
        name: name.into(),
        ..Default::default()
    };
    let code_new = alice
        .execute(endpoints::create_repo::<Code>(&req("new-code")))
        .await
        .unwrap();
    assert_eq!(code_new.path, "OpenCSG/new-code");
    let mcp_new = alice
        .execute(endpoints::create_repo::<McpServer>(&req("new-mcp")))
        .await
        .unwrap();
    assert_eq!(mcp_new.path, "OpenCSG/new-mcp");
    let skill_new = alice
        .execute(endpoints::create_repo::<Skill>(&req("new-skill")))
        .await
        .unwrap();
    assert_eq!(skill_new.path, "OpenCSG/new-skill");
    // Spaces need a resource: listed without a token, as pycsghub asks.
    let resources = anon.execute(endpoints::space_resources(0)).await.unwrap();
    assert!(resources.len() >= 2, "{resources:?}");
    let first = SpaceResource::choose(&resources, None).unwrap();
    assert!(first.id > 0 && !first.cluster_id.is_empty() && first.is_available);
    assert_eq!(
        SpaceResource::choose(&resources, Some(resources[1].id)).map(|r| r.id),
        Some(resources[1].id)
    );
    assert!(SpaceResource::choose(&resources, Some(999_999)).is_none());
    let space_new = alice
        .execute(endpoints::create_space(&CreateSpaceReq::new(
            &req("new-space"),
            "gradio",
            first,
        )))
        .await
        .unwrap();
    assert_eq!(space_new.path, "OpenCSG/new-space");
    // Without a resource the server refuses the body (gin's `required`).
    let e = alice
        .execute(endpoints::create_repo_json::<Space>(&serde_json::json!({
            "namespace": "OpenCSG", "name": "no-resource", "sdk": "gradio",
        })))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("REQ-ERR-1") && e.to_string().contains("'required' tag"),
        "{e}"
    );
    // The new repos are readable through other routes.
    let created_code = alice
        .execute(endpoints::repo_detail::<Code>(&id("OpenCSG/new-code")))
        .await
        .unwrap();
    assert_eq!(created_code.id, code_new.id);

    // Errors: exists → Conflict; invalid name → REPO-ERR-1; bob in the org → Forbidden.
    let e = alice
        .execute(endpoints::create_model(&CreateModelReq {
            namespace: Some("OpenCSG".into()),
            name: "new-model".into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e:?}");
    let e = alice
        .execute(endpoints::create_model(&CreateModelReq {
            name: "x--bad".into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some("REPO-ERR-1"), "{e:?}");
    let e = bob
        .execute(endpoints::create_model(&CreateModelReq {
            namespace: Some("OpenCSG".into()),
            name: "bobs-model".into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)), "{e:?}");

    // Update: the answer and a fresh read agree.
    let new_model = id("OpenCSG/new-model");
    let updated = alice
        .execute(endpoints::update_repo::<Model>(
            &new_model,
            &UpdateRepoReq {
                nickname: Some("Shiny".into()),
                private: Some(true),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    assert_eq!(
        (updated.nickname.as_str(), updated.private),
        ("Shiny", true)
    );
    let reread = alice
        .execute(endpoints::repo_detail::<Model>(&new_model))
        .await
        .unwrap();
    assert_eq!((reread.nickname.as_str(), reread.private), ("Shiny", true));
    let e = bob
        .execute(endpoints::update_repo::<Model>(
            &new_model,
            &UpdateRepoReq {
                private: Some(false),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)), "{e:?}");

    // Lists, envelope 1: `{message, data, total}` (user and org lists).
    let org_models = anon
        .execute(endpoints::org_repos::<Model>("OpenCSG", 50, 1).unwrap())
        .await
        .unwrap();
    // demo-model and csg-wukong-1B (pycsghub's example id) are public.
    assert_eq!(org_models.total, 2, "the private new-model is hidden");
    let mut org_paths: Vec<_> = org_models.items.iter().map(|m| m.path.as_str()).collect();
    org_paths.sort();
    assert_eq!(org_paths, ["OpenCSG/csg-wukong-1B", "OpenCSG/demo-model"]);
    let org_models_alice = alice
        .execute(endpoints::org_repos::<Model>("OpenCSG", 1, 2).unwrap())
        .await
        .unwrap();
    assert_eq!(org_models_alice.total, 3);
    assert_eq!(org_models_alice.items.len(), 1, "page 2 of per=1");
    let user_ds = alice
        .execute(endpoints::user_repos::<Dataset>("alice", 50, 1).unwrap())
        .await
        .unwrap();
    assert_eq!(user_ds.total, 0);
    // Envelope 2: nested `{msg, data: {data, total}}` (MCP lists).
    let org_mcps = anon
        .execute(endpoints::org_repos::<McpServer>("OpenCSG", 50, 1).unwrap())
        .await
        .unwrap();
    let mut mcp_paths: Vec<_> = org_mcps.items.iter().map(|m| m.path.as_str()).collect();
    mcp_paths.sort();
    assert_eq!(mcp_paths, ["OpenCSG/demo-mcpserver", "OpenCSG/new-mcp"]);
    assert_eq!(org_mcps.total, 2);
    // Envelope 3: `{msg, data, total}` (the public catalogue).
    let catalogue = anon
        .execute(endpoints::repo_list::<Dataset>(None, 50, 1))
        .await
        .unwrap();
    let mut ds_paths: Vec<_> = catalogue.items.iter().map(|d| d.path.as_str()).collect();
    ds_paths.sort();
    assert_eq!(ds_paths, ["OpenCSG/demo-dataset", "OpenCSG/new-dataset"]);
    assert_eq!(catalogue.total, 2);
    let searched = anon
        .execute(endpoints::repo_list::<Code>(Some("NEW"), 50, 1))
        .await
        .unwrap();
    assert_eq!(searched.total, 1);
    assert_eq!(searched.items[0].path, "OpenCSG/new-code");
    let mcp_catalogue = anon
        .execute(endpoints::repo_list::<McpServer>(None, 1, 1))
        .await
        .unwrap();
    assert_eq!((mcp_catalogue.total, mcp_catalogue.items.len()), (2, 1));

    // Delete needs admin rights (§12.2): org writer alice and outsider bob may not; the site
    // admin may; then it is gone.
    for who in [&bob, &alice] {
        let e = who
            .execute(endpoints::delete_repo(
                RepoType::Skill,
                &id("OpenCSG/new-skill"),
            ))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Forbidden(_)), "{e:?}");
    }
    t.client(Some(ADMIN_TOKEN))
        .execute(endpoints::delete_repo(
            RepoType::Skill,
            &id("OpenCSG/new-skill"),
        ))
        .await
        .unwrap();
    let e = alice
        .execute(endpoints::repo_detail::<Skill>(&id("OpenCSG/new-skill")))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::RepoNotFound(_)), "{e:?}");
}

// ------------------------------------------------------------------------------------------
// Uploads and commits (SERVER.md §9)

#[tokio::test]
async fn file_writes_commits_and_preupload() {
    let t = start("demo").await;
    let alice = t.client(Some(ALICE_TOKEN));
    let bob = t.client(Some(BOB_TOKEN));
    let repo = demo();
    let read = |path: &'static str| {
        let alice = alice.clone();
        let repo = repo.clone();
        async move {
            alice
                .execute(endpoints::blob(RepoType::Model, &repo, "main", path).unwrap())
                .await
                .map(|f| B64.decode(f.content).unwrap())
        }
    };

    // Preupload: mode by .gitattributes or size, oid of existing files.
    let cfg = alice
        .execute(endpoints::blob(RepoType::Model, &repo, "main", "config.json").unwrap())
        .await
        .unwrap();
    let st = alice
        .execute(
            endpoints::blob(
                RepoType::Model,
                &repo,
                "main",
                "model-00001-of-00002.safetensors",
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let file = |path: &str, size: i64| PreuploadFile {
        path: path.into(),
        size,
        ..Default::default()
    };
    let pre = alice
        .execute(
            endpoints::preupload(
                RepoType::Model,
                &repo,
                "main",
                &PreuploadReq {
                    files: vec![
                        file("config.json", 10),
                        file("model-00001-of-00002.safetensors", 100),
                        file("notes.txt", 10),
                        file("huge.txt", 30 << 20),
                    ],
                },
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let modes: Vec<_> = pre
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.upload_mode, f.oid.as_str()))
        .collect();
    assert_eq!(
        modes,
        [
            ("config.json", Some(UploadMode::Regular), cfg.sha.as_str()),
            (
                "model-00001-of-00002.safetensors",
                Some(UploadMode::Lfs),
                st.lfs_sha256.as_str()
            ),
            ("notes.txt", Some(UploadMode::Regular), ""),
            ("huge.txt", Some(UploadMode::Lfs), ""),
        ]
    );
    let e = bob
        .execute(
            endpoints::preupload(RepoType::Model, &repo, "main", &PreuploadReq::default()).unwrap(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)), "{e:?}");

    // JSON commit: create, then `delete` of an existing file only empties it (§9.6).
    let commit = |files: Vec<CommitFileReq>| CommitFilesReq {
        message: "batch".into(),
        files,
    };
    let entry = |path: &str, action: CommitAction, content: &[u8]| CommitFileReq {
        path: path.into(),
        action,
        content: Some(B64.encode(content)),
    };
    alice
        .execute(
            endpoints::commit(
                RepoType::Model,
                &repo,
                "main",
                &commit(vec![
                    entry("notes.txt", CommitAction::Create, b"hello notes\n"),
                    entry("sub/other.txt", CommitAction::Create, b"other\n"),
                ]),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(read("notes.txt").await.unwrap(), b"hello notes\n");
    let last = alice
        .execute(endpoints::last_commit(RepoType::Model, &repo, "main").unwrap())
        .await
        .unwrap();
    assert_eq!(last.message, "batch");
    alice
        .execute(
            endpoints::commit(
                RepoType::Model,
                &repo,
                "main",
                &commit(vec![entry("notes.txt", CommitAction::Delete, b"")]),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        read("notes.txt").await.unwrap(),
        b"",
        "truncated, not removed"
    );
    let e = alice
        .execute(
            endpoints::commit(
                RepoType::Model,
                &repo,
                "no-such-branch",
                &commit(vec![entry("x.txt", CommitAction::Create, b"x")]),
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.info().unwrap().status, 500, "{e:?}");
    assert!(
        e.info().unwrap().message.contains("no-such-branch"),
        "{e:?}"
    );
    let e = bob
        .execute(
            endpoints::commit(
                RepoType::Model,
                &repo,
                "main",
                &commit(vec![entry("x.txt", CommitAction::Create, b"x")]),
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert!(e.info().unwrap().message.contains("permission"), "{e:?}");

    // Single-file routes: DELETE removes for real; create, update, move.
    alice
        .execute(
            endpoints::delete_file(
                RepoType::Model,
                &repo,
                "notes.txt",
                &DeleteFileReq {
                    message: "remove notes".into(),
                    branch: "main".into(),
                    ..Default::default()
                },
            )
            .unwrap(),
        )
        .await
        .unwrap();
    assert!(matches!(
        read("notes.txt").await,
        Err(Error::EntryNotFound(_))
    ));
    let create = CreateFileReq {
        message: "create".into(),
        branch: "main".into(),
        content: Some(B64.encode(b"v1\n")),
        ..Default::default()
    };
    alice
        .execute(
            endpoints::create_file(RepoType::Model, &repo, "dir one/a#1.txt", &create).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(read("dir one/a#1.txt").await.unwrap(), b"v1\n");
    let e = alice
        .execute(
            endpoints::create_file(RepoType::Model, &repo, "dir one/a#1.txt", &create).unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some("GIT-ERR-22"), "{e:?}");
    let e = bob
        .execute(endpoints::create_file(RepoType::Model, &repo, "bob.txt", &create).unwrap())
        .await
        .unwrap_err();
    // 500 AUTH-ERR-0 to a logged-in user without write access: the client says Forbidden, not
    // "log in".
    assert!(matches!(e, Error::Forbidden(_)), "500 AUTH-ERR-0: {e:?}");
    assert_eq!(code(&e), Some("AUTH-ERR-0"));
    alice
        .execute(
            endpoints::update_file(
                RepoType::Model,
                &repo,
                "dir one/a#1.txt",
                &UpdateFileReq {
                    message: "update".into(),
                    branch: "main".into(),
                    content: Some(B64.encode(b"v2\n")),
                    ..Default::default()
                },
            )
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(read("dir one/a#1.txt").await.unwrap(), b"v2\n");
    alice
        .execute(
            endpoints::update_file(
                RepoType::Model,
                &repo,
                "moved.txt",
                &UpdateFileReq {
                    message: "move".into(),
                    branch: "main".into(),
                    content: Some(B64.encode(b"v3\n")),
                    origin_path: Some("dir one/a#1.txt".into()),
                    ..Default::default()
                },
            )
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(read("moved.txt").await.unwrap(), b"v3\n");
    assert!(matches!(
        read("dir one/a#1.txt").await,
        Err(Error::EntryNotFound(_))
    ));

    // upload_file form: several files, LFS decided by .gitattributes.
    let weights = seed::pseudo_random(9, 3000);
    alice
        .execute(
            endpoints::upload_file(
                RepoType::Model,
                &repo,
                "main",
                "form upload",
                &[
                    UploadFile {
                        path: "form/a.txt".into(),
                        data: bytes::Bytes::from_static(b"form a\n"),
                    },
                    UploadFile {
                        path: "form/w.bin".into(),
                        data: bytes::Bytes::from(weights.clone()),
                    },
                ],
            )
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(read("form/a.txt").await.unwrap(), b"form a\n");
    let w = alice
        .execute(endpoints::blob(RepoType::Model, &repo, "main", "form/w.bin").unwrap())
        .await
        .unwrap();
    assert!(w.lfs);
    assert_eq!(
        (w.size, w.lfs_sha256.as_str()),
        (3000, sha256_hex(&weights).as_str())
    );
    let e = bob
        .execute(endpoints::upload_file(RepoType::Model, &repo, "main", "m", &[]).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)), "{e:?}");

    // HF NDJSON commit: header + regular file (+ emptying delete).
    let resp = alice
        .execute(
            endpoints::hf_commit(
                RepoType::Model,
                &repo,
                "main",
                &[
                    HfCommitLine::Header {
                        summary: "ndjson commit".into(),
                        description: String::new(),
                    },
                    HfCommitLine::File {
                        path: "nd/file.txt".into(),
                        content: B64.encode(b"from ndjson\n"),
                        encoding: "base64".into(),
                    },
                    HfCommitLine::DeletedFile {
                        path: "form/a.txt".into(),
                    },
                ],
            )
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.commit_url, "OpenCSG/demo-model");
    assert_eq!(resp.commit_oid, "", "the server sends no oid");
    assert_eq!(read("nd/file.txt").await.unwrap(), b"from ndjson\n");
    assert_eq!(read("form/a.txt").await.unwrap(), b"");
    let last = alice
        .execute(endpoints::last_commit(RepoType::Model, &repo, "main").unwrap())
        .await
        .unwrap();
    assert_eq!(last.message, "ndjson commit");
    assert!(matches!(
        endpoints::hf_commit(RepoType::Code, &repo, "main", &[]),
        Err(Error::InvalidInput { .. })
    ));
}

#[tokio::test]
async fn lfs_basic_and_multipart_uploads_end_to_end() {
    let t = start_with("demo", |c| c.min_multipart_size = 1024).await;
    let alice = t.client(Some(ALICE_TOKEN));
    let bob = t.client(Some(BOB_TOKEN));
    let anon = t.client(None);
    let repo = demo();
    let upload = |objects: Vec<LfsObject>, transfers: &[&str]| BatchRequest {
        operation: "upload".into(),
        transfers: transfers.iter().map(|s| s.to_string()).collect(),
        objects,
        hash_algo: Some("sha256".into()),
        ..Default::default()
    };

    // Basic: PUT through the server, then verify.
    let data = seed::pseudo_random(42, 5000);
    let obj = LfsObject {
        oid: sha256_hex(&data),
        size: 5000,
    };
    let e = anon
        .execute(endpoints::lfs_batch(
            RepoType::Model,
            &repo,
            &upload(vec![obj.clone()], &["basic"]),
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Unauthorized { .. }), "{e:?}");
    let e = bob
        .execute(endpoints::lfs_batch(
            RepoType::Model,
            &repo,
            &upload(vec![obj.clone()], &["basic"]),
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)), "{e:?}");
    let batch = alice
        .execute(endpoints::lfs_batch(
            RepoType::Model,
            &repo,
            &upload(vec![obj.clone()], &["basic"]),
        ))
        .await
        .unwrap();
    assert_eq!(batch.transfer, "basic");
    let actions = batch.objects[0].actions.clone().unwrap();
    let up = actions.upload.unwrap();
    assert!(up.wants_auth());
    assert!(up.multipart_parts().is_none());
    assert!(
        !format!("{up:?}").contains(ALICE_TOKEN),
        "Debug hides the echo"
    );
    let href = url::Url::parse(&up.href).unwrap();
    assert_eq!(
        href.path(),
        format!(
            "/models/OpenCSG/demo-model.git/info/lfs/objects/{}/5000",
            obj.oid
        )
    );
    let put = alice
        .send(
            alice.request(Method::PUT, href.clone()).body(data.clone()),
            &href,
            NotFoundMeans::Entry,
        )
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let verify = actions.verify.unwrap();
    let e = alice
        .execute(
            endpoints::lfs_verify(
                &verify,
                &LfsObject {
                    oid: obj.oid.clone(),
                    size: 4999,
                },
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.info().unwrap().status, 400, "size mismatch: {e:?}");
    alice
        .execute(endpoints::lfs_verify(&verify, &obj).unwrap())
        .await
        .unwrap();
    // Registered: a second batch returns the object without actions.
    let again = alice
        .execute(endpoints::lfs_batch(
            RepoType::Model,
            &repo,
            &upload(vec![obj.clone()], &["basic"]),
        ))
        .await
        .unwrap();
    assert!(again.objects[0].actions.is_none());

    // Multipart: presigned part PUTs without auth, complete_multipart, verify.
    let data2 = seed::pseudo_random(43, 2500);
    let obj2 = LfsObject {
        oid: sha256_hex(&data2),
        size: 2500,
    };
    let batch = alice
        .execute(endpoints::lfs_batch(
            RepoType::Model,
            &repo,
            &upload(vec![obj2.clone()], &["basic", "multipart"]),
        ))
        .await
        .unwrap();
    assert_eq!(batch.transfer, "multipart");
    let actions = batch.objects[0].actions.clone().unwrap();
    let up = actions.upload.unwrap();
    let (chunk, part_urls) = up.multipart_parts().unwrap();
    assert_eq!(chunk, 1024);
    assert_eq!(
        part_urls.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let mut parts = Vec::new();
    for (n, part_url) in &part_urls {
        let part_url = url::Url::parse(part_url).unwrap();
        assert!(part_url.as_str().starts_with(t.hub.objects_url()));
        let start = (*n as usize - 1) * chunk as usize;
        let end = (start + chunk as usize).min(data2.len());
        let resp = alice
            .send(
                alice
                    .request_without_auth(Method::PUT, part_url.clone())
                    .body(data2[start..end].to_vec()),
                &part_url,
                NotFoundMeans::Other,
            )
            .await
            .unwrap();
        parts.push(CompletePart {
            part_number: *n,
            etag: resp.headers()[ETAG].to_str().unwrap().to_owned(),
        });
    }
    let body = CompleteMultipartBody {
        oid: obj2.oid.clone(),
        parts,
    };
    // A bad signature is answered with HTTP 200 and a body: still an error.
    let tampered = up.href.replace("signature=", "signature=00");
    let e = alice
        .execute(endpoints::complete_multipart(&tampered, &body).unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.info().unwrap().status, 200, "{e:?}");
    assert!(e.info().unwrap().message.contains("invalid signature"));
    assert!(e.info().unwrap().url.contains("signature=***"), "{e:?}");
    alice
        .execute(endpoints::complete_multipart(&up.href, &body).unwrap())
        .await
        .unwrap();
    alice
        .execute(endpoints::lfs_verify(&actions.verify.unwrap(), &obj2).unwrap())
        .await
        .unwrap();

    // Commit both pointers through the HF NDJSON route (`lfsFile`) and the JSON route.
    alice
        .execute(
            endpoints::hf_commit(
                RepoType::Model,
                &repo,
                "main",
                &[
                    HfCommitLine::Header {
                        summary: "lfs".into(),
                        description: String::new(),
                    },
                    HfCommitLine::LfsFile {
                        path: "weights/basic.bin".into(),
                        algo: "sha256".into(),
                        oid: obj.oid.clone(),
                        size: obj.size,
                    },
                ],
            )
            .unwrap(),
        )
        .await
        .unwrap();
    alice
        .execute(
            endpoints::commit(
                RepoType::Model,
                &repo,
                "main",
                &CommitFilesReq {
                    message: "pointer".into(),
                    files: vec![CommitFileReq {
                        path: "weights/multi.bin".into(),
                        action: CommitAction::Create,
                        content: Some(B64.encode(pointer(&obj2.oid, 2500))),
                    }],
                },
            )
            .unwrap(),
        )
        .await
        .unwrap();
    // Both come back byte-identical: listing → resolve 302 → object store without auth.
    for (path, want) in [("weights/basic.bin", &data), ("weights/multi.bin", &data2)] {
        let f = alice
            .execute(endpoints::blob(RepoType::Model, &repo, "main", path).unwrap())
            .await
            .unwrap();
        assert!(f.lfs, "{path}");
        assert_eq!(f.lfs_sha256, sha256_hex(want));
        let url = alice
            .resolve_url(RepoType::Model, &repo, "main", path)
            .unwrap();
        let (status, headers, _) = fetch(&alice, &url, None).await.unwrap();
        assert_eq!(status, 302);
        let loc = url::Url::parse(headers[LOCATION].to_str().unwrap()).unwrap();
        let got = alice
            .send(
                alice.request_without_auth(Method::GET, loc.clone()),
                &loc,
                NotFoundMeans::Entry,
            )
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(&got[..], &want[..], "{path}");
    }

    // Download batch: registered objects get a presigned URL, unknown ones a 404 error.
    let unknown = LfsObject {
        oid: "0".repeat(64),
        size: 1,
    };
    let dl = alice
        .execute(endpoints::lfs_batch(
            RepoType::Model,
            &repo,
            &BatchRequest {
                operation: "download".into(),
                transfers: vec!["basic".into()],
                objects: vec![obj2.clone(), unknown],
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    let href = dl.objects[0]
        .actions
        .as_ref()
        .unwrap()
        .download
        .as_ref()
        .unwrap()
        .href
        .clone();
    let href = url::Url::parse(&href).unwrap();
    let got = anon
        .send(
            anon.request_without_auth(Method::GET, href.clone()),
            &href,
            NotFoundMeans::Entry,
        )
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&got[..], &data2[..]);
    assert_eq!(dl.objects[1].error.as_ref().unwrap().code, 404);

    // Hrefs must be absolute http(s) URLs.
    assert!(matches!(
        endpoints::complete_multipart("/api/v1/complete_multipart?x=1", &body),
        Err(Error::InvalidInput { .. })
    ));
}

// ------------------------------------------------------------------------------------------
// Inference and fine-tune (SERVER.md §11)

#[tokio::test]
async fn inference_and_finetune_instances() {
    let t = start("demo").await;
    let alice = t.client(Some(ALICE_TOKEN));
    let bob = t.client(Some(BOB_TOKEN));
    let repo = demo();

    let created = alice
        .execute(endpoints::inference_create(
            &repo,
            &ModelRunReq {
                deploy_name: Some("my-infer".into()),
                resource_id: Some(1),
                runtime_framework_id: Some(1),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    let id = created.deploy_id;
    assert!(id > 0);
    let list = alice
        .execute(endpoints::inference_list("alice", 20, 1).unwrap())
        .await
        .unwrap();
    assert_eq!(list.total, 1);
    assert_eq!(list.items[0].deploy_id, id);
    assert_eq!(list.items[0].deploy_name, "my-infer");
    assert_eq!(list.items[0].model_id, "OpenCSG/demo-model");
    let one = alice
        .execute(endpoints::inference_get(&repo, id))
        .await
        .unwrap();
    assert_eq!((one.deploy_id, one.deploy_name.as_str()), (id, "my-infer"));
    alice
        .execute(endpoints::inference_stop(&repo, id))
        .await
        .unwrap();
    let status = |alice: Client, repo: RepoId| async move {
        alice
            .execute(endpoints::inference_get(&repo, id))
            .await
            .unwrap()
            .status
    };
    assert_eq!(status(alice.clone(), repo.clone()).await, "Stopped");
    alice
        .execute(endpoints::inference_start(&repo, id))
        .await
        .unwrap();
    assert_eq!(status(alice.clone(), repo.clone()).await, "Running");

    let e = bob
        .execute(endpoints::inference_get(&repo, id))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)), "{e:?}");
    let e = bob
        .execute(endpoints::inference_start(&repo, id))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)), "{e:?}");
    let e = alice
        .execute(endpoints::inference_get(&repo, id + 1000))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "{e:?}");
    // Someone else's list: 401 AUTH-ERR-7, which means "forbidden".
    let e = bob
        .execute(endpoints::inference_list("alice", 20, 1).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)), "{e:?}");
    assert_eq!(code(&e), Some("AUTH-ERR-7"));

    // Fine-tune: no constructor creates one (the CLI only lists/starts/stops), so POST raw.
    let url = alice
        .url("/api/v1/models/OpenCSG/demo-model/finetune")
        .unwrap();
    let resp = alice
        .send(
            alice
                .request(Method::POST, url.clone())
                .json(&serde_json::json!({"deploy_name": "my-ft", "resource_id": 1, "runtime_framework_id": 2})),
            &url,
            NotFoundMeans::Repo,
        )
        .await
        .unwrap();
    let ft: serde_json::Value = resp.json().await.unwrap();
    let ft = ft["data"]["deploy_id"].as_i64().unwrap();
    let fts = alice
        .execute(endpoints::finetune_list("alice", 20, 1).unwrap())
        .await
        .unwrap();
    assert_eq!(fts.total, 1);
    assert_eq!(fts.items[0].deploy_id, ft);
    assert_eq!(fts.items[0].deploy_name, "my-ft");
    alice
        .execute(endpoints::finetune_stop(&repo, ft))
        .await
        .unwrap();
    let after = alice
        .execute(endpoints::finetune_list("alice", 20, 1).unwrap())
        .await
        .unwrap();
    assert_eq!(after.items[0].status, "Stopped");
    alice
        .execute(endpoints::finetune_start(&repo, ft))
        .await
        .unwrap();
    let after = alice
        .execute(endpoints::finetune_list("alice", 20, 1).unwrap())
        .await
        .unwrap();
    assert_eq!(after.items[0].status, "Running");
    // An inference id is not a fine-tune id.
    let e = alice
        .execute(endpoints::finetune_start(&repo, id))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "{e:?}");
}

// ------------------------------------------------------------------------------------------
// Blocking facade (feature `blocking`)

#[cfg(feature = "blocking")]
#[test]
fn blocking_facade_against_the_local_hub() {
    use csghub_api::blocking;

    // The hub runs on its own runtime; the blocking client must not be called from inside one.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let t = rt.block_on(start("interop"));
    let c = blocking::Client::new(t.config(None)).unwrap();
    let repo = interop();

    let branches = c
        .execute(endpoints::branches(RepoType::Model, &repo))
        .unwrap();
    let main_tip = branches
        .iter()
        .find(|b| b.name == "main")
        .unwrap()
        .commit
        .clone()
        .unwrap()
        .id;
    let last = c
        .execute(endpoints::last_commit(RepoType::Model, &repo, "main").unwrap())
        .unwrap();
    assert_eq!(last.id, main_tip);

    let pages: Vec<Vec<File>> = c
        .tree_pages(
            RepoType::Model,
            &repo,
            "main",
            "data/shard-11/part",
            Some(4),
        )
        .map(Result::unwrap)
        .collect();
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 2]);
    assert_eq!(pages[2][1].path, "data/shard-11/part/file-119.txt");

    let url = c
        .resolve_url(RepoType::Model, &repo, "main", "data/medium.jsonl")
        .unwrap();
    let rb = c
        .async_client()
        .request(Method::GET, url.clone())
        .header(RANGE, "bytes=-10");
    let (status, _, body) = c.send(rb, &url, NotFoundMeans::Entry).unwrap();
    let medium = seed_file("data/medium.jsonl");
    assert_eq!(status, 206);
    assert_eq!(&body[..], &medium[medium.len() - 10..]);

    let missing: RepoId = "OpenCSG/no-such-model".parse().unwrap();
    let e = c
        .execute(endpoints::repo_detail::<Model>(&missing))
        .unwrap_err();
    assert!(matches!(e, Error::RepoNotFound(_)), "{e:?}");
    drop(t);
}
