"""Download a repo from the local hub with the real Python clients.

Usage: python download_interop.py ENDPOINT TOKEN REPO_ID OUT_DIR

Writes OUT_DIR/pycsghub (pycsghub snapshot_download into a local dir, default /csg routes) and
OUT_DIR/hf-cache (huggingface_hub snapshot_download with HF_ENDPOINT=<hub>/hf), then prints one
JSON line: {"pycsghub": <dir>, "hf": <snapshot dir>}.
"""
import json
import os
import sys


def main() -> None:
    endpoint, token, repo_id, out = sys.argv[1:5]
    # huggingface_hub reads its environment at import time.
    os.environ["HF_ENDPOINT"] = endpoint.rstrip("/") + "/hf"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ["HF_HUB_DISABLE_XET"] = "1"
    os.environ["HF_HOME"] = os.path.join(out, "hf-home")
    os.environ["CSGHUB_DISABLE_XNET"] = "true"

    from pycsghub.snapshot_download import snapshot_download as csg_snapshot_download

    csg_dir = csg_snapshot_download(
        repo_id,
        repo_type="model",
        revision="main",
        endpoint=endpoint,
        token=token,
        cache_dir=os.path.join(out, "pycsghub-cache"),
        local_dir=os.path.join(out, "pycsghub"),
        quiet=True,
    )

    import huggingface_hub

    hf_dir = huggingface_hub.snapshot_download(
        repo_id,
        repo_type="model",
        revision="main",
        cache_dir=os.path.join(out, "hf-cache"),
        token=token,
    )
    print(json.dumps({"pycsghub": str(csg_dir), "hf": str(hf_dir)}))


if __name__ == "__main__":
    main()
