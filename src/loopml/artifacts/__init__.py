"""The content-addressed artifact store: BLAKE3-named immutable blobs, local or on S3.

>>> blobs = open_blob_store("/tmp/loopml-doc/artifacts")
>>> info = blobs.put_bytes(b"hello")
>>> blobs.read_bytes(info.hash)
b'hello'
"""

from __future__ import annotations

from .local import LocalBlobStore
from .paths import clean_artifact_path, join_artifact_path
from .types import BlobInfo, BlobStore

__all__ = [
    "BlobInfo",
    "BlobStore",
    "LocalBlobStore",
    "clean_artifact_path",
    "join_artifact_path",
    "open_blob_store",
]


def open_blob_store(url: str) -> BlobStore:
    """A blob store for a local directory (or ``file://`` URL) or an fsspec URL such as S3."""
    if url.startswith("file://"):
        url = url[len("file://") :]
    if "://" not in url:
        return LocalBlobStore(url)
    from .remote import FsspecBlobStore

    return FsspecBlobStore(url)
