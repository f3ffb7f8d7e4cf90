import base64
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from iam_ffi import Iam  # noqa: E402


def config():
    """A configuration with a fresh master key and a cheap Argon2 cost (tests only)."""
    key = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    return {
        "master_key": key,
        "issuer": "py-test",
        "audience": "py-test",
        "password": {"memory_kib": 64, "iterations": 1},
        "worker_threads": 2,
    }


@pytest.fixture(params=["memory", "sqlite"])
def iam(request, tmp_path):
    if request.param == "memory":
        handle = Iam.memory(config())
    else:
        handle = Iam.sqlite(tmp_path / "iam.db", config())
    with handle:
        yield handle
