#!/usr/bin/env bash
# The quick loop: builds the iam-ffi shared library (debug) and runs the Python binding's pytest
# suite on the source package against it. Needs: cargo, python3 (3.10+) and pytest; the FastAPI
# and mypy tests also need `fastapi`, `httpx2` and `mypy` (else they skip). Extra arguments go to
# pytest. build-wheel.sh builds and installs the wheel instead.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

cargo build -p iam-ffi --manifest-path "$root/Cargo.toml"
if [ -z "${IAM_FFI_LIB:-}" ]; then
  target_dir="$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
  export IAM_FFI_LIB="$target_dir/debug/libiam_ffi.so"
fi
echo "python binding: testing the source package against $IAM_FFI_LIB"

cd "$here"
PYTHONPATH="$here" exec python3 -m pytest -q -p no:cacheprovider tests "$@"
