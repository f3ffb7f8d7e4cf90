"""Builds the wheel: the iam_ffi package with libiam_ffi inside it, a release build of the
iam-ffi crate two folders up (so the wheel is built from a checkout of the workspace; cargo's
target folder is the workspace's, or CARGO_TARGET_DIR). The metadata is in pyproject.toml."""

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools_rust import Binding, RustExtension, Strip


class PlatformWheel(bdist_wheel):
    """Tags the wheel py3-none-<platform>: the package loads the library with ctypes, so it
    suits every Python 3 on the platform (the library has no Python ABI)."""

    def get_tag(self) -> tuple[str, str, str]:
        _, _, platform = super().get_tag()
        return "py3", "none", platform


setup(
    rust_extensions=[
        RustExtension(
            # iam_ffi/libiam_ffi.abi3.so (the limited-API suffix is a name free of any one
            # Python version; nothing in the library talks to Python).
            "iam_ffi.libiam_ffi",
            path="../../iam-ffi/Cargo.toml",
            binding=Binding.NoBinding,
            py_limited_api=True,
            strip=Strip.All,
        )
    ],
    cmdclass={"bdist_wheel": PlatformWheel},
)
