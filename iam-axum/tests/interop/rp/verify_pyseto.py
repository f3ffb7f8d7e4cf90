"""Verifies iam access tokens with pyseto at its defaults, as a resource server in Python
would; driven by iam-axum's paseto_interop test over stdin/stdout.

env: KEYS_URL (iam's `GET /keys`: PASERK `k4.public.` keys), CA_FILE (the test CA).
out: {"ready": true} once the keys are loaded
in:  one token a line
out: for each, {"claims": {...}} or {"error": ...}

`pyseto.decode` with `deserializer=json` checks the signature and the registered claims
(`exp`, `nbf`) against the current time in whole seconds with no leeway: a token whose `nbf`
has a fraction of a second is refused in its first second.
"""

import json
import os
import ssl
import sys
import urllib.request

import pyseto


def main():
    context = ssl.create_default_context(cafile=os.environ["CA_FILE"])
    with urllib.request.urlopen(os.environ["KEYS_URL"], context=context) as r:
        listed = json.load(r)
    keys = [pyseto.Key.from_paserk(k["paserk"]) for k in listed["keys"]]
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        token = line.strip()
        try:
            decoded = pyseto.decode(keys, token, deserializer=json)
            print(json.dumps({"claims": decoded.payload}), flush=True)
        except Exception as e:  # every refusal is reported, not raised
            print(json.dumps({"error": f"{type(e).__name__}: {e}"}), flush=True)


if __name__ == "__main__":
    main()
