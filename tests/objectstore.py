"""Object-store helpers of the tests: the AWS variables that point pyarrow at the test server
(conftest's ``s3_server``), and copies between a local directory and a bucket prefix."""

from __future__ import annotations

import os

import pyarrow.fs as pafs

from curation.core import fs

S3_ENV = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")


def upload(local_dir: str, url: str) -> None:
    """Copy every file of ``local_dir`` to the ``url`` prefix."""
    filesystem, inner = fs.resolve(url)
    for name in sorted(os.listdir(local_dir)):
        with open(os.path.join(local_dir, name), "rb") as src, \
                filesystem.open_output_stream(f"{inner}/{name}", compression=None) as dst:
            dst.write(src.read())


def s3_files(url: str) -> dict[str, bytes]:
    """Every object under ``url``, by path relative to it, with its bytes."""
    filesystem, inner = fs.resolve(url)
    infos = filesystem.get_file_info(pafs.FileSelector(inner, recursive=True,
                                                       allow_not_found=True))
    out = {}
    for info in infos:
        if info.type == pafs.FileType.File:
            with filesystem.open_input_stream(info.path, compression=None) as f:
                out[info.path[len(inner) + 1:]] = f.read()
    return out
