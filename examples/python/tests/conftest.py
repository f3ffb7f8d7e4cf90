"""Shared fixtures. The suite tests whichever ``iam_ffi`` Python imports: the installed wheel
(``IAM_FFI_EXPECT_INSTALLED=1``, set by iam-ffi/tests/python_binding.rs when it runs the suite
in a virtualenv; test_package.py then checks that the import really is the installed one), or
the source package with ``IAM_FFI_LIB`` naming a built library (run-tests.sh)."""

import base64
import importlib
import os
from types import ModuleType

import pytest

from iam_ffi import Iam


#: The password of the accounts the tests make.
PASSWORD = "correct horse battery"


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


def require(module: str) -> ModuleType:
    """Imports an optional test dependency: skips without it, except under CI=true, where a
    missing prerequisite fails."""
    try:
        return importlib.import_module(module)
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"{module} is not installed (pip install 'iam-ffi[test]')")


@pytest.fixture(params=["memory", "sqlite"])
def iam(request, tmp_path):
    if request.param == "memory":
        handle = Iam.memory(config())
    else:
        handle = Iam.sqlite(tmp_path / "iam.db", config())
    with handle:
        yield handle


class People:
    """An admin (ada) and three accounts without roles (ben, cy, dee), each logged in:
    ``ids[name]`` and ``tokens[name]`` (an access token of a fresh session)."""

    def __init__(self, iam: Iam) -> None:
        self.iam = iam
        self.ids: dict[str, str] = {}
        self.tokens: dict[str, str] = {}
        for name, roles in [("ada", ["admin"]), ("ben", []), ("cy", []), ("dee", [])]:
            self.ids[name] = iam.create_account(name, PASSWORD, roles=roles)
            self.relogin(name)

    def relogin(self, name: str) -> str:
        """Logs ``name`` in again; returns (and keeps) the new access token."""
        self.tokens[name] = self.iam.login(name, PASSWORD).access_token
        return self.tokens[name]


@pytest.fixture
def people(iam):
    """:class:`People` in the test's ``iam``."""
    return People(iam)
