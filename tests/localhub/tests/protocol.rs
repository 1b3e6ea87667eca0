//! The local hub reproduces SERVER.md, quirks included: one test per §0 fact that concerns the
//! routes the hub serves, plus auth (§12.3), writes (§9), instances (§11), the second listener and
//! fault injection.

use base64::Engine as _;
use csghub_localhub::seed::{ADMIN_TOKEN, ALICE_MIRROR_TOKEN, ALICE_TOKEN, BOB_TOKEN};
use csghub_localhub::{Fault, HubConfig, LocalHub, Matcher, RepoType, seed};
use reqwest::{Method, StatusCode, redirect};
use serde_json::{Value, json};

struct T {
    hub: LocalHub,
    _dir: tempfile::TempDir,
    http: reqwest::Client,
}

async fn start(seed_name: &str) -> T {
    start_with(seed_name, |_| {}).await
}

async fn start_with(seed_name: &str, f: impl FnOnce(&mut HubConfig)) -> T {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let mut config = HubConfig::new(dir.path());
    f(&mut config);
    let hub = LocalHub::start(config).await.unwrap();
    seed::by_name(&hub, seed_name).unwrap();
    let http = reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap();
    T {
        hub,
        _dir: dir,
        http,
    }
}

impl T {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.hub.url())
    }

    async fn req(&self, m: Method, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut r = self.http.request(m, self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.unwrap()
    }

    async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        self.req(Method::GET, path, token).await
    }

    async fn json(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let r = self.get(path, token).await;
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    async fn send_json(
        &self,
        m: Method,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> (u16, Value) {
        let mut r = self.http.request(m, self.url(path)).json(&body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let r = r.send().await.unwrap();
        let s = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            s,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

fn big() -> Vec<u8> {
    seed::interop_files()
        .into_iter()
        .find(|(p, _)| p == "weights/big.bin")
        .unwrap()
        .1
}

// §0.2 / §2.1: an unknown token is 401 even on public routes; anonymous is fine.
#[tokio::test]
async fn unknown_token_is_401_even_on_public_repos() {
    let t = start("demo").await;
    for path in [
        "/api/v1/models/OpenCSG/demo-model",
        "/hf/api/models/OpenCSG/demo-model",
        "/hf/OpenCSG/demo-model/resolve/main/config.json",
    ] {
        let (s, v) = t.json(path, Some("nope")).await;
        assert_eq!(s, 401, "{path}");
        assert_eq!(v["code"], "AUTH-ERR-5", "{path}");
        assert_eq!(t.get(path, None).await.status(), 200, "{path} anonymous");
    }
    // Basic without a colon: the real server panics (bare 500, empty body).
    let r = t
        .http
        .get(t.url("/api/v1/models/OpenCSG/demo-model"))
        .header("authorization", "Basic bm9jb2xvbg==")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(r.text().await.unwrap(), "");
    // Basic user:token works when the user owns the token.
    let r = t
        .http
        .get(t.url("/api/v1/models/OpenCSG/demo-model"))
        .basic_auth("alice", Some(ALICE_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

// §0.3, §6.2: tree pages use capitalised keys and an opaque Cursor.
#[tokio::test]
async fn tree_pages_use_capitalised_keys_and_cursor() {
    let t = start("interop").await;
    let base = "/api/v1/models/OpenCSG/interop-model/refs/main/tree/data/shard-00/part";
    let mut cursor = String::new();
    let mut names = Vec::new();
    let mut pages = 0;
    loop {
        let (s, v) = t
            .json(&format!("{base}?limit=3&cursor={cursor}"), None)
            .await;
        assert_eq!(s, 200);
        assert!(v["data"].get("files").is_none());
        let files = v["data"]["Files"].as_array().unwrap();
        names.extend(
            files
                .iter()
                .map(|f| f["name"].as_str().unwrap().to_string()),
        );
        pages += 1;
        cursor = v["data"]["Cursor"].as_str().unwrap().to_string();
        if cursor.is_empty() {
            break;
        }
    }
    assert_eq!(pages, 4);
    assert_eq!(names.len(), 10);
    // Directories first at the root; LFS fields and decimal mode on files.
    let (_, v) = t
        .json("/api/v1/models/OpenCSG/interop-model/refs/main/tree/", None)
        .await;
    let files = v["data"]["Files"].as_array().unwrap();
    assert_eq!(files[0]["type"], "dir");
    let big = files
        .iter()
        .find(|f| f["name"] == "model.safetensors")
        .unwrap();
    assert_eq!(big["lfs"], true);
    assert_eq!(big["mode"], "33188");
    assert_eq!(big["size"], 1 << 20);
    assert_eq!(big["lfs_sha256"].as_str().unwrap().len(), 64);
    assert!(
        big["lfs_relative_path"]
            .as_str()
            .unwrap()
            .starts_with(&big["lfs_sha256"].as_str().unwrap()[0..2])
    );
}

// §0.4: a missing path or ref answers 200 with an empty body.
#[tokio::test]
async fn tree_of_missing_path_is_200_with_empty_body() {
    let t = start("demo").await;
    for path in [
        "/api/v1/models/OpenCSG/demo-model/refs/main/tree/no/such/dir",
        "/api/v1/models/OpenCSG/demo-model/refs/nobranch/tree/",
    ] {
        let r = t.get(path, None).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-length"], "0");
        assert_eq!(r.bytes().await.unwrap().len(), 0);
    }
    // The root without the trailing slash is a gin trailing-slash redirect (§1.3).
    let r = t
        .get(
            "/api/v1/models/OpenCSG/demo-model/refs/main/tree?limit=5",
            None,
        )
        .await;
    assert_eq!(r.status(), 301);
    assert_eq!(
        r.headers()["location"],
        "/api/v1/models/OpenCSG/demo-model/refs/main/tree/?limit=5"
    );
}

// §0.5, §8.3: recursion only with lower-case `true`; `True` gets the non-recursive listing.
#[tokio::test]
async fn hf_tree_recursive_only_with_lowercase_true() {
    let t = start("interop").await;
    let base = "/hf/api/models/OpenCSG/interop-model/tree/main/";
    let (_, rec) = t.json(&format!("{base}?recursive=true"), None).await;
    let rec = rec.as_array().unwrap();
    assert_eq!(rec.len(), seed::interop_files().len() + 1);
    assert!(
        rec.iter()
            .all(|e| e["type"] == "file" && e["oid"].as_str().unwrap().len() == 40)
    );
    assert!(rec.iter().all(|e| e.get("lfs").is_none()));
    let (_, flat) = t.json(&format!("{base}?recursive=True"), None).await;
    let flat = flat.as_array().unwrap();
    assert!(
        flat.iter()
            .any(|e| e["type"] == "dir" && e["path"] == "data")
    );
    assert!(flat.len() < rec.len());
    // Sub-path, and the root without a slash redirects keeping the query.
    let (_, sub) = t
        .json(
            "/hf/api/models/OpenCSG/interop-model/tree/main/docs?recursive=true",
            None,
        )
        .await;
    assert_eq!(sub.as_array().unwrap().len(), 1);
    let r = t
        .get(
            "/hf/api/models/OpenCSG/interop-model/tree/main?recursive=true",
            None,
        )
        .await;
    assert_eq!(r.status(), 301);
    assert_eq!(
        r.headers()["location"],
        "/hf/api/models/OpenCSG/interop-model/tree/main/?recursive=true"
    );
    // Only models and datasets have the HF tree.
    assert_eq!(
        t.get("/hf/api/codes/OpenCSG/demo-code/tree/main/", None)
            .await
            .status(),
        404
    );
}

// §0.6: all_files = first 100 entries of the root of `main`, no cursor.
#[tokio::test]
async fn all_files_is_root_of_main_only() {
    let t = start("interop").await;
    let (s, v) = t
        .json(
            "/api/v1/models/OpenCSG/interop-model/all_files?cursor=abc",
            None,
        )
        .await;
    assert_eq!(s, 200);
    let list = v["data"].as_array().unwrap();
    assert!(
        list.iter()
            .all(|f| !f["path"].as_str().unwrap().contains('/'))
    );
    assert!(
        list.iter()
            .any(|f| f["path"] == "weights" && f["type"] == "dir")
    );
    assert!(v["data"].get("Cursor").is_none());
}

// §0.7, §7.2: LFS → 302 to another origin; non-LFS streamed with single-range support.
#[tokio::test]
async fn downloads_redirect_lfs_and_stream_regular_files_with_ranges() {
    let t = start("interop").await;
    let r = t
        .get(
            "/hf/OpenCSG/interop-model/resolve/main/weights/big.bin",
            Some(ALICE_TOKEN),
        )
        .await;
    assert_eq!(r.status(), 302);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.starts_with(t.hub.objects_url()), "{loc}");
    assert_ne!(t.hub.objects_url(), t.hub.url());
    // The object store serves ranges but refuses a request carrying a token (two auth mechanisms).
    let plain = reqwest::Client::new();
    let r = plain
        .get(&loc)
        .header("range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &big()[10..20]);
    let r = plain
        .get(&loc)
        .bearer_auth(ALICE_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Only one auth mechanism allowed")
    );
    // A tampered signature is refused.
    let bad = loc.replace("X-Amz-Signature=", "X-Amz-Signature=0");
    assert_eq!(plain.get(&bad).send().await.unwrap().status(), 403);

    let medium = seed::interop_files()
        .into_iter()
        .find(|(p, _)| p == "data/medium.jsonl")
        .unwrap()
        .1;
    let url = "/api/v1/models/OpenCSG/interop-model/resolve/data/medium.jsonl?ref=main";
    let r = t.get(url, None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["accept-ranges"], "bytes");
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"medium.jsonl\""
    );
    assert!(r.headers().get("etag").is_none());
    assert!(r.headers().get("x-repo-commit").is_none());
    assert_eq!(r.bytes().await.unwrap(), medium);
    let range = |h: &'static str| {
        let c = t.http.get(t.url(url)).header("range", h);
        async move { c.send().await.unwrap() }
    };
    let r = range("bytes=100-199").await;
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-range"].to_str().unwrap(),
        format!("bytes 100-199/{}", medium.len())
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), &medium[100..200]);
    let r = range("bytes=-5").await;
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        &medium[medium.len() - 5..]
    );
    // Several ranges → full 200; unsatisfiable → 416 with `bytes */size`.
    assert_eq!(range("bytes=0-1,5-6").await.status(), 200);
    let r = range("bytes=99999999-").await;
    assert_eq!(r.status(), 416);
    assert_eq!(
        r.headers()["content-range"].to_str().unwrap(),
        format!("bytes */{}", medium.len())
    );
    // If-Range: only the quoted git blob SHA-1 keeps the range.
    let head = t
        .req(
            Method::HEAD,
            "/hf/OpenCSG/interop-model/resolve/main/data/medium.jsonl",
            None,
        )
        .await;
    let etag = head.headers()["etag"].to_str().unwrap().to_string();
    let r = t
        .http
        .get(t.url(url))
        .header("range", "bytes=0-9")
        .header("if-range", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["etag"].to_str().unwrap(), etag);
    let r = t
        .http
        .get(t.url(url))
        .header("range", "bytes=0-9")
        .header("if-range", "\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

// §0.8, §7.3: HEAD sends exactly Content-Length, ETag (git blob SHA-1, also for LFS),
// X-Repo-Commit (tip of the revision) and Accept-Ranges; no X-Linked-*.
#[tokio::test]
async fn head_sends_what_the_real_server_sends() {
    let t = start("interop").await;
    let (_, info) = t
        .json(
            "/hf/api/models/OpenCSG/interop-model/revision/main?blobs=true",
            None,
        )
        .await;
    let big_sib = info["siblings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["rfilename"] == "weights/big.bin")
        .unwrap()
        .clone();
    let r = t
        .req(
            Method::HEAD,
            "/hf/OpenCSG/interop-model/resolve/main/weights/big.bin",
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    let h = r.headers();
    assert_eq!(
        h["content-length"],
        seed::INTEROP_BIG_SIZE.to_string().as_str()
    );
    assert_eq!(
        h["etag"].to_str().unwrap(),
        format!("\"{}\"", big_sib["blobId"].as_str().unwrap())
    );
    assert_ne!(big_sib["blobId"], big_sib["lfs"]["sha256"]);
    assert_eq!(
        h["x-repo-commit"].to_str().unwrap(),
        info["sha"].as_str().unwrap()
    );
    assert_eq!(h["accept-ranges"], "bytes");
    for absent in ["x-linked-etag", "x-linked-size", "location", "x-error-code"] {
        assert!(h.get(absent).is_none(), "{absent}");
    }
    // Unknown ref: HEAD 500 GIT-ERR-6, GET 404; missing file 404 `{"msg":"not found"}`.
    assert_eq!(
        t.req(
            Method::HEAD,
            "/hf/OpenCSG/interop-model/resolve/nope/README.md",
            None
        )
        .await
        .status(),
        500
    );
    let (s, v) = t
        .json("/hf/OpenCSG/interop-model/resolve/nope/README.md", None)
        .await;
    assert_eq!((s, v), (404, json!({"msg": "not found"})));
    // No HEAD on /api/v1.
    assert_eq!(
        t.req(
            Method::HEAD,
            "/api/v1/models/OpenCSG/interop-model/resolve/README.md",
            None
        )
        .await
        .status(),
        404
    );
}

// §0.9, §8.1: `sha` is the branch name for non-model types; models get a commit id.
#[tokio::test]
async fn repo_info_sha_is_branch_name_for_non_models() {
    let t = start("demo").await;
    let (_, m) = t
        .json("/csg/api/models/OpenCSG/demo-model/revision/main", None)
        .await;
    assert_eq!(m["sha"].as_str().unwrap().len(), 40);
    assert_eq!(m["siblings"][0], json!({"rfilename": ".gitattributes"}));
    for (ty, name) in [
        ("datasets", "demo-dataset"),
        ("spaces", "demo-space"),
        ("codes", "demo-code"),
        ("mcps", "demo-mcpserver"),
        ("skills", "demo-skill"),
    ] {
        let (s, v) = t.json(&format!("/ms/api/{ty}/OpenCSG/{name}"), None).await;
        assert_eq!(s, 200, "{ty}");
        assert_eq!(v["sha"], "main", "{ty}");
        assert!(!v["siblings"].as_array().unwrap().is_empty());
    }
    // Missing repo: models 500 SYS-ERR-3, others 404 not found.
    let (s, v) = t.json("/hf/api/models/OpenCSG/none", None).await;
    assert_eq!((s, v["code"].as_str()), (500, Some("SYS-ERR-3")));
    assert_eq!(
        t.json("/hf/api/datasets/OpenCSG/none", None).await,
        (404, json!({"msg": "not found"}))
    );
}

// §0.10, §7.2 step 7: an empty `ref` means `main`, not the default branch.
#[tokio::test]
async fn empty_ref_means_main() {
    let t = start("demo").await;
    // Make `dev` the default branch with different content.
    let (s, _) = t
        .send_json(
            Method::POST,
            "/api/v1/models/OpenCSG/demo-model/raw/only-dev.txt",
            Some(ALICE_TOKEN),
            json!({"message": "dev", "branch": "main", "new_branch": "dev", "content": "ZGV2Cg=="}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = t
        .send_json(
            Method::PUT,
            "/api/v1/models/OpenCSG/demo-model",
            Some(ALICE_TOKEN),
            json!({"default_branch": "dev"}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        t.get(
            "/api/v1/models/OpenCSG/demo-model/resolve/only-dev.txt",
            None
        )
        .await
        .status(),
        404
    );
    assert_eq!(
        t.get(
            "/api/v1/models/OpenCSG/demo-model/resolve/only-dev.txt?ref=dev",
            None
        )
        .await
        .status(),
        200
    );
}

// §0.11, §4: dataset REST reads need login; /hf/datasets does not.
#[tokio::test]
async fn dataset_rest_reads_need_login() {
    let t = start("demo").await;
    for path in [
        "/api/v1/datasets/OpenCSG/demo-dataset/refs/main/tree/",
        "/api/v1/datasets/OpenCSG/demo-dataset/branches",
        "/api/v1/datasets/OpenCSG/demo-dataset/resolve/data/train.jsonl?ref=main",
    ] {
        let (s, v) = t.json(path, None).await;
        assert_eq!((s, v["code"].as_str()), (401, Some("AUTH-ERR-1")), "{path}");
        assert_eq!(t.get(path, Some(BOB_TOKEN)).await.status(), 200, "{path}");
    }
    assert_eq!(
        t.get("/api/v1/datasets/OpenCSG/demo-dataset/last_commit", None)
            .await
            .status(),
        200
    );
    assert_eq!(
        t.get(
            "/hf/datasets/OpenCSG/demo-dataset/resolve/main/data/train.jsonl",
            None
        )
        .await
        .status(),
        200
    );
    // A missing repo is caught before the login check.
    assert_eq!(
        t.json("/api/v1/datasets/OpenCSG/none/branches", None)
            .await
            .1["code"],
        "SYS-ERR-3"
    );
}

// §0.12, §12.3: private repos answer by route family, many as 500 with AUTH codes.
#[tokio::test]
async fn private_repos_answer_as_section_12_3_says() {
    let t = start("empty").await;
    seed::repo_with_files(
        &t.hub,
        RepoType::Model,
        "OpenCSG/secret",
        true,
        vec![("a.txt".into(), b"a".to_vec())],
        "add",
    )
    .unwrap();
    seed::repo_with_files(
        &t.hub,
        RepoType::Dataset,
        "OpenCSG/secret-ds",
        true,
        vec![("a.txt".into(), b"a".to_vec())],
        "add",
    )
    .unwrap();
    let code = |v: &Value| v["code"].as_str().map(str::to_string);
    let (s, v) = t.json("/hf/OpenCSG/secret/resolve/main/a.txt", None).await;
    assert_eq!((s, code(&v)), (401, Some("AUTH-ERR-1".into())));
    let (s, v) = t
        .json("/hf/OpenCSG/secret/resolve/main/a.txt", Some(BOB_TOKEN))
        .await;
    assert_eq!((s, code(&v)), (403, Some("AUTH-ERR-2".into())));
    // Missing file in a private repo: 404 to anyone (existence is checked first).
    assert_eq!(
        t.get("/hf/OpenCSG/secret/resolve/main/none.txt", None)
            .await
            .status(),
        404
    );
    let (s, v) = t.json("/hf/api/models/OpenCSG/secret", None).await;
    assert_eq!((s, code(&v)), (500, Some("AUTH-ERR-0".into())));
    let (s, v) = t.json("/hf/api/datasets/OpenCSG/secret-ds", None).await;
    assert_eq!((s, code(&v)), (500, Some("AUTH-ERR-1".into())));
    let (s, v) = t
        .json("/hf/api/datasets/OpenCSG/secret-ds", Some(BOB_TOKEN))
        .await;
    assert_eq!((s, code(&v)), (500, Some("AUTH-ERR-2".into())));
    let (s, v) = t
        .json("/api/v1/models/OpenCSG/secret/branches", Some(BOB_TOKEN))
        .await;
    assert_eq!((s, code(&v)), (500, Some("AUTH-ERR-2".into())));
    assert!(
        v["msg"].as_str().unwrap().starts_with("AUTH-ERR-2: "),
        "localized msg on /api/v1"
    );
    let (s, _) = t
        .json("/api/v1/models/OpenCSG/secret", Some(BOB_TOKEN))
        .await;
    assert_eq!(s, 403);
    for tok in [ALICE_TOKEN, ADMIN_TOKEN] {
        assert_eq!(
            t.get("/hf/OpenCSG/secret/resolve/main/a.txt", Some(tok))
                .await
                .status(),
            200
        );
    }
    // LFS batch: private download without credentials → 401 null + WWW-Authenticate.
    let r = t
        .http
        .post(t.url("/models/OpenCSG/secret.git/info/lfs/objects/batch"))
        .json(&json!({"operation": "download", "objects": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Basic realm=opencsg-git");
    assert_eq!(r.text().await.unwrap(), "null");
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

// §0.13, §9.5, §9.6: the JSON commit turns a delete of an existing file into truncation;
// DELETE raw really deletes.
#[tokio::test]
async fn json_commit_delete_truncates_and_raw_delete_removes() {
    let t = start("demo").await;
    let base = "/api/v1/models/OpenCSG/demo-model";
    let (s, v) = t
        .send_json(
            Method::POST,
            &format!("{base}/commit/main"),
            Some(ALICE_TOKEN),
            json!({
                "message": "add and delete",
                "files": [
                    {"path": "new.txt", "action": "create", "content": b64(b"new\n")},
                    {"path": "config.json", "action": "delete", "content": ""},
                ]
            }),
        )
        .await;
    assert_eq!((s, v), (200, json!({"msg": "OK"})));
    let r = t
        .get(&format!("{base}/resolve/config.json?ref=main"), None)
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.bytes().await.unwrap().len(),
        0,
        "deleted file is emptied, not removed"
    );
    assert_eq!(
        t.get(&format!("{base}/resolve/new.txt?ref=main"), None)
            .await
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        b"new\n"
    );
    // DELETE raw needs a JSON body; then the file is gone.
    assert_eq!(
        t.req(
            Method::DELETE,
            &format!("{base}/raw/config.json"),
            Some(ALICE_TOKEN)
        )
        .await
        .status(),
        400
    );
    let (s, _) = t
        .send_json(
            Method::DELETE,
            &format!("{base}/raw/config.json"),
            Some(ALICE_TOKEN),
            json!({"message": "rm", "branch": "main"}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        t.get(&format!("{base}/resolve/config.json?ref=main"), None)
            .await
            .status(),
        404
    );
    // Errors of the commit route are `{"error": ...}`, write without permission is 500.
    let (s, v) = t
        .send_json(
            Method::POST,
            &format!("{base}/commit/main"),
            Some(BOB_TOKEN),
            json!({"files": []}),
        )
        .await;
    assert_eq!(s, 500);
    assert!(v["error"].is_string());
    let (s, v) = t
        .send_json(
            Method::POST,
            &format!("{base}/commit/nobranch"),
            Some(ALICE_TOKEN),
            json!({"files": []}),
        )
        .await;
    assert_eq!(s, 500);
    assert!(v["error"].as_str().unwrap().contains("nobranch"));
}

// §0.14, §9.7: NDJSON lines over 20 MiB → 400; preupload decides modes.
#[tokio::test]
async fn hf_commit_limits_lines_and_preupload_reports_modes() {
    let t = start("demo").await;
    let (s, v) = t
        .send_json(
            Method::POST,
            "/hf/api/models/OpenCSG/demo-model/preupload/main",
            Some(ALICE_TOKEN),
            json!({
                "files": [
                    {"path": "w.safetensors", "size": 10, "sample": ""},
                    {"path": "big.txt", "size": 21_000_000, "sample": ""},
                    {"path": "config.json", "size": 10, "sample": ""},
                    {"path": "new.txt", "size": 10, "sample": ""},
                ]
            }),
        )
        .await;
    assert_eq!(s, 200);
    let files = v["files"].as_array().unwrap();
    let modes: Vec<&str> = files
        .iter()
        .map(|f| f["uploadMode"].as_str().unwrap())
        .collect();
    assert_eq!(modes, ["lfs", "lfs", "regular", "regular"]);
    assert_eq!(
        files[2]["oid"].as_str().unwrap().len(),
        40,
        "existing file's oid"
    );
    assert_eq!(files[3]["oid"], "");
    // REST preupload wraps the same in R and needs login.
    let (s, v) = t
        .send_json(
            Method::POST,
            "/api/v1/models/OpenCSG/demo-model/preupload/main",
            None,
            json!({"files": []}),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (401, Some("AUTH-ERR-1")));

    let line = format!(
        "{}\n{}\n",
        json!({"key": "header", "value": {"summary": "ndjson", "description": ""}}),
        json!({"key": "file", "value": {"path": "n.txt", "content": b64(b"n"), "encoding": "base64"}})
    );
    let r = t
        .http
        .post(t.url("/hf/api/models/OpenCSG/demo-model/commit/main"))
        .bearer_auth(ALICE_TOKEN)
        .header("content-type", "application/x-ndjson")
        .body(line)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"commitUrl": "OpenCSG/demo-model", "commitOid": ""})
    );
    let huge = json!({"key": "file", "value": {"path": "h.txt", "content": "A".repeat(21 * 1024 * 1024), "encoding": "base64"}});
    let r = t
        .http
        .post(t.url("/hf/api/models/OpenCSG/demo-model/commit/main"))
        .bearer_auth(ALICE_TOKEN)
        .body(huge.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = t
        .http
        .post(t.url("/hf/api/models/OpenCSG/demo-model/commit/main"))
        .bearer_auth(ALICE_TOKEN)
        .body(json!({"key": "copyFile", "value": {}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

fn sha256(b: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(b))
}

// §0.15, §0.16, §9.8-§9.10: LFS batch basic and multipart, the completion's 200 "invalid
// signature", verify, and actions echoing Authorization.
#[tokio::test]
async fn lfs_basic_and_multipart_uploads() {
    let t = start_with("demo", |c| c.min_multipart_size = 1024).await;
    let data = seed::pseudo_random(42, 5000);
    let oid = sha256(&data);
    let batch = "/models/OpenCSG/demo-model.git/info/lfs/objects/batch";
    // Anonymous upload → 401.
    let (s, _) = t
        .send_json(
            Method::POST,
            batch,
            None,
            json!({"operation": "upload", "objects": [{"oid": oid, "size": 5000}]}),
        )
        .await;
    assert_eq!(s, 401);
    // A mirror token is not a git token: anonymous on LFS routes (§0.17).
    let (s, _) = t
        .send_json(
            Method::POST,
            batch,
            Some(ALICE_MIRROR_TOKEN),
            json!({"operation": "upload", "objects": [{"oid": oid, "size": 5000}]}),
        )
        .await;
    assert_eq!(s, 401);
    // §0.2: on git/LFS routes an unknown token is not a 401: it silently means anonymous, so a
    // public download batch still works.
    let (s, v) = t
        .send_json(
            Method::POST,
            batch,
            Some("unknown-token"),
            json!({"operation": "download", "objects": []}),
        )
        .await;
    assert_eq!((s, v["objects"].as_array().map(Vec::len)), (200, Some(0)));
    // Read-only access → 403.
    let (s, v) = t
        .send_json(
            Method::POST,
            batch,
            Some(BOB_TOKEN),
            json!({"operation": "upload", "objects": [{"oid": oid, "size": 5000}]}),
        )
        .await;
    assert_eq!((s, v["error"].is_string()), (403, true));

    // Basic: PUT through the server (size and sha256 validated), verify registers.
    let (s, v) = t
        .send_json(Method::POST, batch, Some(ALICE_TOKEN), json!({"operation": "upload", "transfers": ["basic"], "objects": [{"oid": oid, "size": 5000}]}))
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["transfer"], "basic");
    let up = &v["objects"][0]["actions"]["upload"];
    assert_eq!(
        up["header"]["Authorization"],
        format!("Bearer {ALICE_TOKEN}"),
        "echoed"
    );
    let href = up["href"].as_str().unwrap();
    let r = t
        .http
        .put(href)
        .bearer_auth(ALICE_TOKEN)
        .body(b"wrong".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500, "sha256/size mismatch refused");
    let r = t
        .http
        .put(href)
        .bearer_auth(ALICE_TOKEN)
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let verify = v["objects"][0]["actions"]["verify"]["href"]
        .as_str()
        .unwrap()
        .to_string();
    let r = t
        .http
        .post(&verify)
        .json(&json!({"oid": oid, "size": 4999}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = t
        .http
        .post(&verify)
        .json(&json!({"oid": oid, "size": 5000}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), r.text().await.unwrap()),
        (200, "null".to_string())
    );
    // Registered now: no actions.
    let (_, v) = t
        .send_json(
            Method::POST,
            batch,
            Some(ALICE_TOKEN),
            json!({"operation": "upload", "objects": [{"oid": oid, "size": 5000}]}),
        )
        .await;
    assert!(v["objects"][0].get("actions").is_none());

    // Multipart: parts on the object store, complete with a signed URL, verify.
    let data2 = seed::pseudo_random(43, 2500);
    let oid2 = sha256(&data2);
    let (s, v) = t
        .send_json(Method::POST, "/hf/OpenCSG/demo-model.git/info/lfs/objects/batch", Some(ALICE_TOKEN),
            json!({"operation": "upload", "transfers": ["basic", "multipart"], "objects": [{"oid": oid2, "size": 2500}]}))
        .await;
    assert_eq!((s, v["transfer"].as_str()), (200, Some("multipart")));
    let up = &v["objects"][0]["actions"]["upload"];
    assert_eq!(up["header"]["chunk_size"], "1024");
    let mut parts = Vec::new();
    // Out of order: each part lands at its own offset.
    for i in [3u64, 1, 2] {
        let url = up["header"][i.to_string()].as_str().unwrap();
        if i == 2 {
            // A part longer than chunk_size is refused and overwrites nothing of part 3,
            // already stored after it.
            let r = reqwest::Client::new()
                .put(url)
                .body(vec![0xEEu8; 5 << 20])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 400);
            assert!(r.text().await.unwrap().contains("EntityTooLarge"));
        }
        assert!(url.starts_with(t.hub.objects_url()));
        let chunk = &data2[((i - 1) * 1024) as usize..((i * 1024) as usize).min(2500)];
        let r = reqwest::Client::new()
            .put(url)
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        parts.push(json!({"partNumber": i, "etag": r.headers()["etag"].to_str().unwrap()}));
    }
    parts.sort_by_key(|p| p["partNumber"].as_u64());
    // A re-upload of a stored part that breaks off mid-body leaves the stored part intact (as
    // on S3): the completed object below is still byte-identical.
    let broken = futures_util::stream::iter(vec![
        Ok::<_, std::io::Error>(vec![0xEEu8; 300]),
        Err(std::io::Error::other("client gave up")),
    ]);
    let r = reqwest::Client::new()
        .put(up["header"]["2"].as_str().unwrap())
        .header("content-length", "1024")
        .body(reqwest::Body::wrap_stream(broken))
        .send()
        .await;
    assert!(r.is_err(), "{r:?}");
    assert!(up["header"].get("4").is_none());
    let complete = up["href"].as_str().unwrap();
    let tampered = complete.replace("signature=", "signature=00");
    let r = t
        .http
        .post(&tampered)
        .json(&json!({"oid": oid2, "parts": parts}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), r.json::<Value>().await.unwrap()),
        (200, json!({"msg": "invalid signature"}))
    );
    let r = t
        .http
        .post(complete)
        .json(&json!({"oid": oid2, "parts": parts}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), r.text().await.unwrap()),
        (200, String::new())
    );
    let verify = v["objects"][0]["actions"]["verify"]["href"]
        .as_str()
        .unwrap();
    let r = t
        .http
        .post(verify)
        .json(&json!({"oid": oid2, "size": 2500}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Commit both pointers, then both download byte-identically through the 302.
    let pointer = |o: &str, n: usize| {
        format!("version https://git-lfs.github.com/spec/v1\noid sha256:{o}\nsize {n}\n")
    };
    let (s, _) = t
        .send_json(Method::POST, "/api/v1/models/OpenCSG/demo-model/commit/main", Some(ALICE_TOKEN), json!({
            "message": "lfs", "files": [
                {"path": "a.bin", "action": "create", "content": b64(pointer(&oid, 5000).as_bytes())},
                {"path": "b.bin", "action": "create", "content": b64(pointer(&oid2, 2500).as_bytes())},
            ]}))
        .await;
    assert_eq!(s, 200);
    let follow = reqwest::Client::new();
    for (p, want) in [("a.bin", &data), ("b.bin", &data2)] {
        let got = follow
            .get(t.url(&format!("/hf/OpenCSG/demo-model/resolve/main/{p}")))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(&got[..], &want[..], "{p}");
    }
    // Download batch serves registered objects only.
    let (_, v) = t
        .send_json(Method::POST, batch, Some(ALICE_TOKEN), json!({"operation": "download", "objects": [{"oid": oid2, "size": 2500}, {"oid": "0".repeat(64), "size": 1}]}))
        .await;
    assert_eq!(v["objects"][1]["error"]["code"], 404);
    // The presigned download URL (no content-disposition) fetches the object; the signature
    // covers the query it carries, so adding a parameter breaks it.
    let href = v["objects"][0]["actions"]["download"]["href"]
        .as_str()
        .unwrap();
    let r = follow.get(href).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(&r.bytes().await.unwrap()[..], &data2[..]);
    let r = follow
        .get(format!("{href}&response-content-disposition=attachment"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

// §0.20, §1.3: `%2F` is decoded before routing, so `refs/pr/1` cannot be a path segment.
#[tokio::test]
async fn encoded_slash_in_revision_breaks_the_match() {
    let t = start("demo").await;
    let r = t
        .get(
            "/hf/OpenCSG/demo-model/resolve/refs%2Fpr%2F1/config.json",
            None,
        )
        .await;
    assert_eq!(r.status(), 404);
    let r = t
        .get(
            "/hf/api/models/OpenCSG/demo-model/revision/refs%2Fpr%2F1",
            None,
        )
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.text().await.unwrap(), "404 page not found");
    // Percent-encoded file names are decoded before use.
    let t = start("interop").await;
    for p in [
        "docs/read%20me.md",
        "%E6%96%87%E6%A1%A3/%E8%AF%B4%E6%98%8E.txt",
        "data/a%2Bb%3Dc.txt",
    ] {
        let r = t
            .get(
                &format!("/csg/OpenCSG/interop-model/resolve/main/{p}"),
                None,
            )
            .await;
        assert_eq!(r.status(), 200, "{p}");
    }
}

// §0.21, §3.1: the three paged envelopes.
#[tokio::test]
async fn list_routes_use_three_envelopes() {
    let t = start("demo").await;
    let (_, v) = t.json("/api/v1/organization/OpenCSG/models", None).await;
    assert_eq!(v["message"], "OK");
    assert!(v.get("msg").is_none());
    assert_eq!(v["total"], 2, "demo-model and csg-wukong-1B");
    let (_, v) = t.json("/api/v1/organization/OpenCSG/mcps", None).await;
    assert_eq!(
        (v["msg"].as_str(), v["data"]["total"].as_u64()),
        (Some("OK"), Some(1))
    );
    // The public catalogue `GET /api/v1/{type}` (§5.1): `{msg, data, total}`, nested for mcps,
    // `search` filters, an unknown `sort` is 400 REQ-ERR-6.
    let (s, v) = t
        .json("/api/v1/datasets?search=DEMO&per=10&page=1", None)
        .await;
    assert_eq!(s, 200);
    assert!(v.get("message").is_none());
    assert_eq!(
        (v["msg"].as_str(), v["total"].as_u64()),
        (Some("OK"), Some(1))
    );
    assert_eq!(v["data"][0]["path"], "OpenCSG/demo-dataset");
    let (_, v) = t.json("/api/v1/models?search=nothing-matches", None).await;
    assert_eq!(
        (v["total"].as_u64(), v["data"].as_array().map(Vec::len)),
        (Some(0), Some(0))
    );
    let (_, v) = t.json("/api/v1/mcps", None).await;
    assert_eq!(v["data"]["data"][0]["path"], "OpenCSG/demo-mcpserver");
    assert_eq!(v["data"]["total"], 1);
    let (s, v) = t.json("/api/v1/models?sort=best", None).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("REQ-ERR-6")));
    let (s, v) = t
        .json(
            "/api/v1/models/OpenCSG/demo-model/commits?per=1&page=1",
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["data"]["commits"].as_array().unwrap().len(), 1);
    assert_eq!(v["data"]["total"], 2);
    assert_eq!(v["data"]["page_count"], 2);
    assert_eq!(
        t.json("/api/v1/models/OpenCSG/demo-model/commits?per=101", None)
            .await
            .1["code"],
        "REQ-ERR-6"
    );
    // Namespace objects use untagged Go keys.
    let (_, v) = t.json("/api/v1/models/OpenCSG/demo-model", None).await;
    assert_eq!(v["data"]["namespace"]["Path"], "OpenCSG");
    // Branch names are reported as their basename.
    let (s, _) = t
        .send_json(Method::POST, "/api/v1/models/OpenCSG/demo-model/raw/x.txt", Some(ALICE_TOKEN),
            json!({"message": "x", "branch": "main", "new_branch": "feature/x", "content": b64(b"x")}))
        .await;
    assert_eq!(s, 200);
    let (_, v) = t
        .json("/api/v1/models/OpenCSG/demo-model/branches", None)
        .await;
    let names: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["x", "main"]);
}

#[tokio::test]
async fn whoami_token_and_repo_management() {
    let t = start("demo").await;
    let (s, v) = t.json("/hf/api/whoami-v2", Some(ALICE_TOKEN)).await;
    assert_eq!((s, v["name"].as_str()), (200, Some("alice")));
    assert_eq!(t.json("/hf/api/whoami-v2", None).await.0, 401);
    let (s, v) = t.json(&format!("/api/v1/token/{ALICE_TOKEN}"), None).await;
    assert_eq!((s, v["data"]["user_name"].as_str()), (200, Some("alice")));
    assert_eq!(
        t.json("/api/v1/token/unknown", None).await,
        (404, json!({"msg": "not found"}))
    );
    // HF create ignores the namespace; a second create is 409 with `url`.
    let body =
        json!({"name": "fresh", "organization": "OpenCSG", "type": "dataset", "private": true});
    let (s, v) = t
        .send_json(
            Method::POST,
            "/hf/api/repos/create",
            Some(BOB_TOKEN),
            body.clone(),
        )
        .await;
    assert_eq!((s, v["path"].as_str()), (200, Some("bob/fresh")));
    let (s, v) = t
        .send_json(Method::POST, "/hf/api/repos/create", Some(BOB_TOKEN), body)
        .await;
    assert_eq!((s, v["url"].as_str()), (409, Some("bob/fresh")));
    // REST create: name rules, org permission, conflict; delete.
    let (s, v) = t
        .send_json(
            Method::POST,
            "/api/v1/models",
            Some(ALICE_TOKEN),
            json!({"namespace": "OpenCSG", "name": "bad--name"}),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (500, Some("REPO-ERR-1")));
    let (s, _) = t
        .send_json(
            Method::POST,
            "/api/v1/models",
            Some(BOB_TOKEN),
            json!({"namespace": "OpenCSG", "name": "m2"}),
        )
        .await;
    assert_eq!(s, 403);
    let (s, v) = t
        .send_json(
            Method::POST,
            "/api/v1/codes",
            Some(ALICE_TOKEN),
            json!({"namespace": "OpenCSG", "name": "c2", "private": true}),
        )
        .await;
    assert_eq!((s, v["data"]["path"].as_str()), (200, Some("OpenCSG/c2")));
    let (s, v) = t
        .send_json(
            Method::POST,
            "/api/v1/codes",
            Some(ALICE_TOKEN),
            json!({"namespace": "OpenCSG", "name": "c2"}),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (400, Some("REPO-ERR-0")));
    assert_eq!(
        t.req(
            Method::DELETE,
            "/api/v1/codes/OpenCSG/c2",
            Some(ALICE_TOKEN)
        )
        .await
        .status(),
        403,
        "writer is not org admin"
    );
    assert_eq!(
        t.req(
            Method::DELETE,
            "/api/v1/codes/OpenCSG/c2",
            Some(ADMIN_TOKEN)
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        t.get("/api/v1/codes/OpenCSG/c2", Some(ADMIN_TOKEN))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn inference_and_finetune_instances() {
    let t = start("demo").await;
    let base = "/api/v1/models/OpenCSG/demo-model";
    let (s, v) = t
        .send_json(
            Method::POST,
            &format!("{base}/run"),
            Some(ALICE_TOKEN),
            json!({"deploy_name": "my-infer", "resource_id": 1, "runtime_framework_id": 1}),
        )
        .await;
    assert_eq!(s, 200);
    let id = v["data"]["deploy_id"].as_i64().unwrap();
    let (s, v) = t
        .json("/api/v1/user/alice/run/model", Some(ALICE_TOKEN))
        .await;
    assert_eq!(
        (s, v["message"].as_str(), v["total"].as_u64()),
        (200, Some("OK"), Some(1))
    );
    // `types.DeployRequest`: `deploy_id` (not `id`), `model_id` is the model path (what pycsghub
    // prints, PYCSGHUB.md §3.8).
    assert_eq!(v["data"][0]["deploy_id"], id);
    assert!(v["data"][0].get("id").is_none());
    assert_eq!(v["data"][0]["model_id"], "OpenCSG/demo-model");
    assert_eq!(
        t.json("/api/v1/user/alice/run/model", Some(BOB_TOKEN))
            .await
            .1["code"],
        "AUTH-ERR-7"
    );
    assert_eq!(
        t.json("/api/v1/user/alice/run/dataset", Some(ALICE_TOKEN))
            .await
            .0,
        400
    );
    assert_eq!(
        t.req(
            Method::PUT,
            &format!("{base}/run/{id}/stop"),
            Some(ALICE_TOKEN)
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        t.json(&format!("{base}/run/{id}"), Some(ALICE_TOKEN))
            .await
            .1["data"]["status"],
        "Stopped"
    );
    assert_eq!(
        t.req(
            Method::PUT,
            &format!("{base}/run/{id}/start"),
            Some(BOB_TOKEN)
        )
        .await
        .status(),
        403
    );
    assert_eq!(
        t.req(
            Method::PUT,
            &format!("{base}/run/999/start"),
            Some(ALICE_TOKEN)
        )
        .await
        .status(),
        404
    );
    let (s, v) = t
        .send_json(
            Method::POST,
            &format!("{base}/finetune"),
            Some(ALICE_TOKEN),
            json!({"deploy_name": "my-ft", "resource_id": 1, "runtime_framework_id": 2}),
        )
        .await;
    assert_eq!(s, 200);
    let ft = v["data"]["deploy_id"].as_i64().unwrap();
    assert_eq!(
        t.json("/api/v1/user/alice/finetune/instances", Some(ALICE_TOKEN))
            .await
            .1["total"],
        1
    );
    assert_eq!(
        t.req(
            Method::PUT,
            &format!("{base}/finetune/{ft}/start"),
            Some(ALICE_TOKEN)
        )
        .await
        .status(),
        200
    );
}

#[tokio::test]
async fn upload_file_form_and_raw_lfs_follow_gitattributes() {
    let t = start("demo").await;
    let form = reqwest::multipart::Form::new()
        .text("file_path", "sub/w.safetensors")
        .text("branch", "main")
        .text("message", "upload")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"weights".to_vec()).file_name("w.safetensors"),
        )
        .text("file_path", "sub/notes.txt")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"notes".to_vec()).file_name("notes.txt"),
        );
    let r = t
        .http
        .post(t.url("/api/v1/models/OpenCSG/demo-model/upload_file"))
        .bearer_auth(ALICE_TOKEN)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, v) = t
        .json("/api/v1/models/OpenCSG/demo-model/refs/main/tree/sub", None)
        .await;
    let files = v["data"]["Files"].as_array().unwrap();
    let lfs: Vec<(String, bool)> = files
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                f["lfs"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lfs,
        [
            ("notes.txt".to_string(), false),
            ("w.safetensors".to_string(), true)
        ]
    );
    // raw POST of an existing file is a 500 GIT-ERR-22.
    let (s, v) = t
        .send_json(
            Method::POST,
            "/api/v1/models/OpenCSG/demo-model/raw/sub/notes.txt",
            Some(ALICE_TOKEN),
            json!({"branch": "main", "content": b64(b"x")}),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (500, Some("GIT-ERR-22")));
}

#[tokio::test]
async fn unknown_routes_answer_gin_404_text() {
    let t = start("empty").await;
    for (m, p) in [
        (Method::GET, "/api/v1/nothing"),
        (Method::POST, "/hf/OpenCSG/x/resolve/main/a"),
        (Method::GET, "/hf/api/agent-harnesses"),
    ] {
        let r = t.req(m, p, None).await;
        assert_eq!(r.status(), 404, "{p}");
        assert_eq!(r.text().await.unwrap(), "404 page not found");
    }
    // §0.19: the xet token routes are EE only; a CE server does not route them.
    for p in [
        "/hf/OpenCSG/x/xet-read-token/main",
        "/hf/api/models/OpenCSG/x/xet-read-token/main",
    ] {
        assert_eq!(t.get(p, Some(ALICE_TOKEN)).await.status(), 404, "{p}");
    }
    let r = t.get("/healthz", None).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .starts_with("localhub-")
    );
}

#[tokio::test]
async fn commit_ids_are_stable_for_the_same_content() {
    let a = start("demo").await;
    let b = start("demo").await;
    let path = "/hf/api/models/OpenCSG/demo-model/revision/main";
    let x = a.json(path, None).await.1["sha"]
        .as_str()
        .unwrap()
        .to_string();
    let y = b.json(path, None).await.1["sha"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(x, y);
    assert!(x.len() == 40 && x.bytes().all(|c| c.is_ascii_hexdigit()));
}

#[tokio::test]
async fn fault_scripts_apply_in_order_and_the_log_records_requests() {
    let t = start("interop").await;
    let url = "/hf/OpenCSG/interop-model/resolve/main/data/medium.jsonl";
    t.hub.faults().push(
        Matcher::route("resolve").method("GET"),
        [
            Fault::status(503),
            Fault::too_many(7),
            Fault::FlipByte(5),
            Fault::DropAfter(1000),
        ],
    );
    let r = t.get(url, None).await;
    assert_eq!(r.status(), 503);
    let r = t.get(url, None).await;
    assert_eq!(
        (r.status(), r.headers()["retry-after"].to_str().unwrap()),
        (StatusCode::TOO_MANY_REQUESTS, "7")
    );
    let flipped = t.get(url, None).await.bytes().await.unwrap();
    let medium = seed::interop_files()
        .into_iter()
        .find(|(p, _)| p == "data/medium.jsonl")
        .unwrap()
        .1;
    assert_eq!(flipped.len(), medium.len());
    assert_eq!(flipped[5], medium[5] ^ 0xFF);
    assert_eq!(flipped[6..], medium[6..]);
    let dropped = t.get(url, None).await.bytes().await;
    assert!(dropped.is_err(), "connection cut after 1000 bytes");
    assert_eq!(
        t.get(url, None).await.bytes().await.unwrap(),
        medium,
        "script exhausted: normal"
    );
    assert_eq!(t.hub.faults().pending(), 0);
    // Object-store faults and expiry.
    t.hub
        .faults()
        .push(Matcher::route("object_get"), [Fault::Expired]);
    let loc = t
        .get(
            "/hf/OpenCSG/interop-model/resolve/main/weights/big.bin",
            None,
        )
        .await
        .headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    let plain = reqwest::Client::new();
    let r = plain.get(&loc).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("Request has expired"));
    assert_eq!(
        plain
            .get(&loc)
            .header("range", "bytes=0-0")
            .send()
            .await
            .unwrap()
            .status(),
        206
    );
    t.hub.expire_presigned_urls();
    assert_eq!(plain.get(&loc).send().await.unwrap().status(), 403);
    let log = t.hub.faults().log();
    let resolves: Vec<u16> = log
        .iter()
        .filter(|e| e.route == "resolve")
        .map(|e| e.status)
        .collect();
    assert_eq!(resolves[..2], [503, 429]);
    assert!(log.iter().any(|e| e.fault == Some(Fault::FlipByte(5))));
    assert!(
        log.iter()
            .any(|e| e.listener == "objects" && e.range.as_deref() == Some("bytes=0-0"))
    );
}

// A delay then a stall: the client's read timeout fires while the hub holds the body.
#[tokio::test]
async fn stall_holds_the_body() {
    let t = start("interop").await;
    t.hub.faults().push(
        Matcher::route("resolve"),
        [Fault::Stall {
            after: 10,
            duration: std::time::Duration::from_secs(5),
        }],
    );
    let client = reqwest::Client::builder()
        .read_timeout(std::time::Duration::from_millis(300))
        .build()
        .unwrap();
    let r = client
        .get(t.url("/hf/OpenCSG/interop-model/resolve/main/data/medium.jsonl"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.is_err(), "read timeout during the stall");
}
