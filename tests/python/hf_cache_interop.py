"""huggingface_hub against a cache shared with csghub-rs.

Usage:
  python hf_cache_interop.py read CACHE REPO_ID OUT_JSON
      HF_HUB_OFFLINE=1: snapshot_download + hf_hub_download of every file + scan_cache_dir,
      all from CACHE written by csghub-rs. Writes {"snapshot": dir, "files": {path: sha256},
      "warnings": [...], "repos": [...]} to OUT_JSON.
  python hf_cache_interop.py download ENDPOINT CACHE REPO_ID
      Online: snapshot_download from the hub (HF_ENDPOINT=<hub>/hf) into CACHE.
"""
import hashlib
import json
import os
import sys


def main() -> None:
    mode = sys.argv[1]
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ["HF_HUB_DISABLE_XET"] = "1"
    if mode == "read":
        cache, repo_id, out = sys.argv[2:5]
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["HF_HUB_CACHE"] = cache
        import huggingface_hub as hf

        snap = hf.snapshot_download(repo_id, revision="main", cache_dir=cache)
        files = {}
        for root, _dirs, names in os.walk(snap):
            for n in names:
                full = os.path.join(root, n)
                rel = os.path.relpath(full, snap).replace(os.sep, "/")
                # Every file must also resolve on its own.
                single = hf.hf_hub_download(repo_id, rel, revision="main", cache_dir=cache)
                with open(single, "rb") as f:
                    files[rel] = hashlib.sha256(f.read()).hexdigest()
        info = hf.scan_cache_dir(cache)
        result = {
            "snapshot": snap,
            "files": files,
            "warnings": [str(w) for w in info.warnings],
            "repos": sorted(r.repo_id for r in info.repos),
            "size_on_disk": info.size_on_disk,
        }
        with open(out, "w") as f:
            json.dump(result, f)
    elif mode == "download":
        endpoint, cache, repo_id = sys.argv[2:5]
        os.environ["HF_ENDPOINT"] = endpoint.rstrip("/") + "/hf"
        os.environ["HF_HUB_CACHE"] = cache
        import huggingface_hub as hf

        print(hf.snapshot_download(repo_id, revision="main", cache_dir=cache))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
