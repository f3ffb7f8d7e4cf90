#!/usr/bin/env bash
# Builds the iam-ffi shared library and runs the Python binding's pytest suite against it.
# Needs: cargo, python3 (3.8+) and pytest (`pip install pytest`). Extra arguments go to pytest.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

cargo build -p iam-ffi --manifest-path "$root/Cargo.toml"
if [ -z "${IAM_FFI_LIB:-}" ]; then
  target_dir="$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
  export IAM_FFI_LIB="$target_dir/debug/libiam_ffi.so"
fi
echo "python binding: testing against $IAM_FFI_LIB"

cd "$here"
exec python3 -m pytest -q -p no:cacheprovider tests "$@"
