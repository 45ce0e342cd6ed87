"""Where an output folder (and recordings) live: a local path, or a URL of any fsspec file system.

    location("out")                       -> Path("out")
    location("s3://callqa/prod")          -> UPath("s3://callqa/prod")   (S3 or any S3-compatible store)

Everything that reads or writes the output folder takes what `location` returns, so the same code writes
`out/results/<call>.json` on a disk and `s3://callqa/prod/results/<call>.json` in a bucket. Object stores
are configured the way their own clients are: for S3, the standard variables (`AWS_ENDPOINT_URL` for an
S3-compatible server, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`), read alike by s3fs
(through botocore) and by delta-rs (the tables), so every worker only needs its environment set.

What an object store guarantees, and what callqa relies on:
- A PUT is atomic: readers see the whole new object or the old one, never a part (a multipart upload
  appears whole when it completes). S3 has been strongly consistent since December 2020: a read after a
  successful PUT sees it, and a listing shows it. So a per-call file is one PUT of a file written
  locally first; there is no temporary key to clean up, and no rename (S3 has none: a copy then a
  delete is not atomic as a pair).
- Two workers writing the same key: the last PUT wins, whole. callqa only lets that happen for a call
  scored twice from the same transcript with the same lexicons (the same scoring), and the tables
  keep one row per scoring (`results/slice_tables.py`).
- Conditional PUT (`If-None-Match: *`, on AWS S3 since 2024, MinIO, R2, and the moto test server):
  creates a key only if it does not exist. delta-rs commits each table version this way, which is what
  makes concurrent appends from many workers safe without a lock service.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

LOCAL_PROTOCOLS = ("", "file", "local")

StoragePath = Any  # a pathlib.Path, or a upath.UPath of a remote file system (same methods: /, open, glob…)


def is_url(text: str) -> bool:
    return "://" in text and not text.startswith("file://")


def location(root: str | os.PathLike[str] | StoragePath) -> StoragePath:
    """A Path for a local folder (or file:// URL), a UPath for any other URL."""
    if is_remote(root):
        return root
    text = str(root)
    if text.startswith("file://"):
        return Path(text[len("file://"):])
    if is_url(text):
        from upath import UPath

        return UPath(text)
    return Path(root)


def is_remote(path: Any) -> bool:
    """Whether `path` lives on a remote file system (an object store), not on a mounted disk."""
    protocol = getattr(path, "protocol", None)
    return protocol is not None and not isinstance(path, Path) and protocol not in LOCAL_PROTOCOLS


def as_text(path: StoragePath) -> str:
    """The location as a string other processes (and other machines) can pass to `location` again:
    a URL for remote storage, an absolute path for a local folder."""
    return str(path) if is_remote(path) else str(Path(path).resolve())


def put_file(local: Path, target: StoragePath) -> None:
    """Upload a finished local file as `target` in one PUT (whole or not at all; see the module notes)."""
    target.fs.put_file(str(local), target.path)


@contextmanager
def local_copy(path: StoragePath) -> Iterator[Path]:
    """A local file with the content of `path`: the file itself on a disk, else a download (same name, so
    its extension still tells its format) removed afterwards."""
    if not is_remote(path):
        yield Path(path)
        return
    folder = Path(tempfile.mkdtemp(prefix="callqa-fetch-"))
    try:
        target = folder / path.name
        path.fs.get_file(path.path, str(target))
        yield target
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def delta_options(path: StoragePath) -> dict[str, str] | None:
    """Storage options for delta-rs on `path`: it reads the same AWS variables as s3fs, and needs telling
    that a plain-HTTP endpoint (a test or on-premises S3-compatible server) is allowed."""
    if not is_remote(path):
        return None
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or ""
    options: dict[str, str] = {}
    if endpoint:
        options["AWS_ENDPOINT_URL"] = endpoint
        if endpoint.startswith("http://"):
            options["AWS_ALLOW_HTTP"] = "true"
    return options


__all__ = ["as_text", "delta_options", "is_remote", "local_copy", "location", "put_file"]
