//! The second listener: an S3-like object store. Presigned GETs of LFS objects (Range, 206, 416)
//! and presigned multipart part PUTs. Like S3 it refuses a request that carries an
//! `Authorization` header next to a presigned query (two auth mechanisms).

use std::sync::Arc;

use axum::http::Method;

use crate::http::{self, Req, Resp, s3_error};
use crate::{Fault, Hub};

pub(crate) async fn handle(
    hub: &Arc<Hub>,
    req: &mut Req,
    fault: Option<Fault>,
) -> (Resp, Option<Fault>) {
    if req.headers.contains_key("authorization") {
        return (
            s3_error(
                400,
                "InvalidArgument",
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
            ),
            fault,
        );
    }
    let Some(key) = req.path.strip_prefix("/csghub/").map(str::to_string) else {
        return (
            s3_error(404, "NoSuchBucket", "The specified bucket does not exist"),
            fault,
        );
    };
    match req.method {
        Method::GET | Method::HEAD => get(hub, req, &key, fault),
        Method::PUT => (put_part(hub, req, &key).await, fault),
        _ => (
            s3_error(
                405,
                "MethodNotAllowed",
                "The specified method is not allowed",
            ),
            fault,
        ),
    }
}

fn get(hub: &Arc<Hub>, req: &Req, key: &str, fault: Option<Fault>) -> (Resp, Option<Fault>) {
    // Presigned for GET; HEAD is allowed with a GET signature by our store (S3 needs its own).
    if let Err(resp) = hub.check_presigned("GET", key, req, &["response-content-disposition"]) {
        return (resp, fault);
    }
    let Some(path) = hub.store.object_key_path(key) else {
        return (
            s3_error(404, "NoSuchKey", "The specified key does not exist."),
            fault,
        );
    };
    let Ok(meta) = std::fs::metadata(&path) else {
        return (
            s3_error(404, "NoSuchKey", "The specified key does not exist."),
            fault,
        );
    };
    // S3's ETag is not the sha256; an opaque quoted value derived from the key.
    let etag = format!("\"{}\"", &crate::store::sha256_hex(key.as_bytes())[..32]);
    let mut resp = http::serve_file(req, path, meta.len(), Some(&etag), fault.as_ref());
    http::set(&mut resp, "etag", &etag);
    if let Some(d) = req.q("response-content-disposition") {
        http::set(&mut resp, "content-disposition", d);
    }
    (resp, None)
}

async fn put_part(hub: &Arc<Hub>, req: &mut Req, key: &str) -> Resp {
    let upload_id = req.q("uploadId").unwrap_or("").to_string();
    let part: u32 = match req.q("partNumber").and_then(|p| p.parse().ok()) {
        Some(p) if (1..=10_000).contains(&p) => p,
        _ => {
            return s3_error(
                400,
                "InvalidArgument",
                "Part number must be an integer between 1 and 10000",
            );
        }
    };
    if let Err(resp) = hub.check_presigned("PUT", key, req, &["partNumber", "uploadId"]) {
        return resp;
    }
    let (chunk_size, size) = {
        let st = hub.store.lock();
        match st.uploads.get(&upload_id) {
            Some(u) if u.object_key == key => (u.chunk_size, u.size),
            _ => return s3_error(404, "NoSuchUpload", "The specified upload does not exist."),
        }
    };
    // Parts are written straight at their offset in one file per upload, so completing is a
    // rename rather than a copy of the whole object. A part that is already stored is re-sent
    // into a temp file first: as on S3, a failed re-upload must not damage the stored part.
    let data = hub.store.multipart_data_path(&upload_id);
    let offset = u64::from(part - 1) * chunk_size;
    let open = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&data);
    let file = match open {
        Ok(f) => std::sync::Arc::new(f),
        Err(e) => return http::io_500(e),
    };
    let stored_before = hub
        .store
        .lock()
        .uploads
        .get(&upload_id)
        .is_some_and(|u| u.parts.contains_key(&part));
    let tmp = stored_before.then(|| hub.store.temp_path());
    let written = match &tmp {
        // Never past this part's range: the next part may already be stored there.
        None => {
            req.to_file_at(file.clone(), offset, chunk_size, false)
                .await
        }
        Some(tmp) => req.to_file(tmp, false).await,
    };
    // S3's part ETag is an MD5; ours only has to be opaque and unique, so skip hashing 1 GiB.
    let n = match written {
        Ok((n, _)) => n,
        Err(resp) => {
            if let Some(tmp) = &tmp {
                let _ = std::fs::remove_file(tmp);
            }
            return resp;
        }
    };
    // Every part but the last must be the full chunk size; S3 checks at completion, we check the
    // obvious overflow now.
    if n > chunk_size || offset >= size.max(1) {
        if let Some(tmp) = &tmp {
            let _ = std::fs::remove_file(tmp);
        }
        return s3_error(
            400,
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed size",
        );
    }
    if let Some(tmp) = tmp {
        let copied = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::os::unix::fs::FileExt as _;
            let bytes = std::fs::read(&tmp)?;
            let _ = std::fs::remove_file(&tmp);
            file.write_all_at(&bytes, offset)
        })
        .await;
        match copied {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return http::io_500(e),
            Err(e) => return http::io_500(e),
        }
    }
    let etag = format!(
        "\"{}\"",
        &crate::store::sha256_hex(
            format!("{upload_id}/{part}/{n}/{:?}", std::time::SystemTime::now()).as_bytes()
        )[..32]
    );
    {
        let mut st = hub.store.lock();
        if let Some(u) = st.uploads.get_mut(&upload_id) {
            u.parts.insert(part, etag.clone());
            u.part_sizes.insert(part, n);
        }
        if let Err(e) = hub.store.save(&st) {
            return http::io_500(e);
        }
    }
    let mut resp = http::raw_resp(200, "text/plain", "");
    http::set(&mut resp, "etag", &etag);
    resp
}
