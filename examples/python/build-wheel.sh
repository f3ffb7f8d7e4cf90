#!/usr/bin/env bash
# Builds the iam-ffi wheel (a release build of the iam-ffi crate bundled in the package), then
# installs it with its test extras into a fresh virtualenv, and prints how long each step took.
#
#   bash examples/python/build-wheel.sh OUT_DIR    # OUT_DIR/dist/*.whl and the venv OUT_DIR/venv
#   IAM_FFI_PYTHON=OUT_DIR/venv/bin/python cargo test -p iam-ffi --test python_binding
#
# The second line runs the pytest suite against the installed package (see
# iam-ffi/tests/python_binding.rs); .ci/run does both. Needs cargo and python3 (3.10+) with pip
# and venv; pip fetches setuptools-rust and the test dependencies from PyPI, at the versions
# pinned in ci-constraints.txt. Cargo builds in the workspace's target folder (or
# CARGO_TARGET_DIR), so later builds reuse the compiled dependencies.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:?usage: build-wheel.sh OUT_DIR}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
export PIP_CONSTRAINT="$here/ci-constraints.txt" PIP_DISABLE_PIP_VERSION_CHECK=1

start=$SECONDS
# pip builds in the source folder; setuptools' leftovers from an earlier build would otherwise
# put modules deleted since into the wheel.
rm -rf "$out/dist" "$here/build" "$here"/*.egg-info
python3 -m pip wheel --quiet --no-deps --wheel-dir "$out/dist" "$here"
wheel="$(ls "$out"/dist/iam_ffi-*.whl)"
built=$SECONDS
echo "python wheel: built $(basename "$wheel") ($(du -k "$wheel" | cut -f1) KiB) in $((built - start)) s"

rm -rf "$out/venv"
python3 -m venv "$out/venv"
# Installing needs no Rust toolchain: pip runs where neither cargo nor rustc can be found.
bare_path="$out/venv/bin:/usr/bin:/bin"
if PATH="$bare_path" command -v cargo >/dev/null || PATH="$bare_path" command -v rustc >/dev/null; then
  echo "python wheel: note: cargo or rustc is in /usr/bin, so the install below could reach it"
fi
env -u CARGO_HOME -u RUSTUP_HOME PATH="$bare_path" \
  "$out/venv/bin/python" -m pip install --quiet --only-binary iam-ffi "$wheel[test]"
echo "python wheel: installed into a new venv $out/venv in $((SECONDS - built)) s"
