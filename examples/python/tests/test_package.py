"""The package as installed: where it was imported from, its bundled library, its version, its
type information, and the library override."""

import os
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest

import iam_ffi

from conftest import require

INSTALLED = os.environ.get("IAM_FFI_EXPECT_INSTALLED") == "1"
PACKAGE_DIR = Path(iam_ffi.__file__).resolve().parent
SOURCE_DIR = Path(__file__).resolve().parents[1] / "iam_ffi"


@pytest.mark.skipif(not INSTALLED, reason="the suite runs against the source tree")
def test_the_import_is_the_installed_wheel_with_its_bundled_library():
    # A virtualenv, whose site-packages holds the package, not the checkout's source folder.
    assert sys.prefix != sys.base_prefix
    site_packages = Path(sysconfig.get_paths()["purelib"]).resolve()
    assert PACKAGE_DIR == site_packages / "iam_ffi", PACKAGE_DIR
    assert PACKAGE_DIR != SOURCE_DIR.resolve()
    # The library is the one the wheel bundled: no override, nothing from a build folder.
    assert os.environ.get("IAM_FFI_LIB") is None
    library = iam_ffi.library_path().resolve()
    assert library.parent == PACKAGE_DIR, library
    assert library.name.startswith("libiam_ffi")
    # The wheel's version is the library's.
    assert metadata.version("iam-ffi") == iam_ffi.version() == iam_ffi.__version__
    files = {str(f) for f in metadata.files("iam-ffi") or []}
    assert "iam_ffi/py.typed" in files
    assert f"iam_ffi/{library.name}" in files


def test_version_and_marker():
    assert iam_ffi.version() == iam_ffi.__version__
    assert (PACKAGE_DIR / "py.typed").is_file()


def test_the_library_override_must_name_a_file(tmp_path):
    code = "import iam_ffi; iam_ffi.library()"
    env = {**os.environ, "IAM_FFI_LIB": str(tmp_path / "missing.so")}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode != 0
    assert "IAM_FFI_LIB names" in done.stderr and "not a file" in done.stderr


def test_generate_master_key_opens_an_iam():
    first, second = iam_ffi.generate_master_key(), iam_ffi.generate_master_key()
    assert first != second and len(first) == 43 and "=" not in first
    with iam_ffi.Iam.memory({"master_key": first, "password": {"memory_kib": 64,
                                                                "iterations": 1}}) as iam:
        assert iam.create_account("alice", "correct horse battery").startswith("acc_")


def test_mypy_strict_accepts_the_package_and_typed_use(tmp_path):
    """The package's annotations satisfy mypy --strict, and a user's code gets real types: the
    sample below type-checks, and a wrong use of the API is reported."""
    require("mypy")
    good = tmp_path / "good.py"
    good.write_text(
        "from iam_ffi import Iam, Principal, TokenPair, BadCredentialsError, IamConfig\n"
        "from iam_ffi.fastapi import IamBearer\n"
        "config: IamConfig = {'master_key': 'k', 'password': {'memory_kib': 64}}\n"
        "def use(iam: Iam) -> str:\n"
        "    tokens: TokenPair = iam.login('alice', 'pw')\n"
        "    who: Principal = iam.verify(tokens.access_token)\n"
        "    try:\n"
        "        iam.login('alice', 'wrong')\n"
        "    except BadCredentialsError as e:\n"
        "        return e.message + str(e.status)\n"
        "    return who.account_id + ','.join(who.roles)\n"
        "def opened() -> str:\n"
        "    with Iam.memory(config) as iam:\n"
        "        IamBearer(iam, role='admin')\n"
        "        return use(iam)\n"
    )
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from iam_ffi import Iam\n"
        "def use(iam: Iam) -> int:\n"
        "    return iam.login('alice', 'pw').expires_in + iam.verify(1).roles\n"
    )
    # Installed: mypy finds the package in site-packages, typed by its py.typed marker.
    env = {k: v for k, v in os.environ.items() if k != "MYPYPATH"}
    if not INSTALLED:
        env["MYPYPATH"] = str(SOURCE_DIR.parent)

    def mypy(*args):
        return subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", "--no-incremental",
             "--python-version", "3.10", *args],
            capture_output=True, text=True, check=False, cwd=tmp_path, env=env,
        )

    package = mypy(str(SOURCE_DIR))  # the same files as the wheel's
    assert package.returncode == 0, package.stdout + package.stderr
    checked = mypy(str(good))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    refused = mypy(str(bad))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert 'Argument 1 to "verify"' in refused.stdout
    assert "Unsupported operand types" in refused.stdout
