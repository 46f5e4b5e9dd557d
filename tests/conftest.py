"""Shared fixtures: one local Ray cluster for the whole run, small BPE tokenizers trained
once per session, and a local S3-compatible server (moto, in a thread of the test process)
with a fresh bucket per test (test corpora and writers are in corpora.py)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
from corpora import TRAINING_TEXTS
from objectstore import S3_ENV

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


@pytest.fixture(scope="session")
def ray_cluster():
    """A 2-CPU local Ray cluster shared by every test that asks for it, shut down at the end."""
    import ray

    if not ray.is_initialized():
        ray.init(
            num_cpus=2,
            object_store_memory=200 * 1024**2,
            include_dashboard=False,
            configure_logging=False,
            log_to_driver=False,
        )
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def tokenizer_path(tmp_path_factory) -> str:
    from curation.tokenize import train_bpe

    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    train_bpe(TRAINING_TEXTS, vocab_size=400, out_path=str(path))
    return str(path)


@pytest.fixture(scope="session")
def other_tokenizer_path(tmp_path_factory) -> str:
    from curation.tokenize import train_bpe

    path = tmp_path_factory.mktemp("tok2") / "tokenizer.json"
    train_bpe(TRAINING_TEXTS[:3], vocab_size=300, out_path=str(path))
    return str(path)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3 server on a free local port; the AWS_* variables that pyarrow's S3FileSystem
    reads point at it while the session lasts. Yields the endpoint URL."""
    moto_server = pytest.importorskip("moto.server")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = {k: os.environ.get(k) for k in S3_ENV}
    os.environ.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="testing",
                      AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    yield endpoint
    server.stop()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def bucket(s3_server: str, request: pytest.FixtureRequest) -> str:
    """A fresh, empty bucket for one test; returns its ``s3://`` URL."""
    import boto3

    name = "t-" + request.node.name.lower().replace("_", "-")[:50].strip("-")
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=name)
    return f"s3://{name}"
