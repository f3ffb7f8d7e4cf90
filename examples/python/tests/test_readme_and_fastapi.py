"""The README's examples, run as written, and the FastAPI dependency that protects a route with
an iam token, driven through FastAPI's TestClient."""

import re
import time
from pathlib import Path

import pytest

import iam_ffi
from iam_ffi import Iam

from conftest import config, require

README = Path(__file__).resolve().parents[1] / "README.md"
PASSWORD = "correct horse battery"


def readme_example(heading):
    """The first Python block under the README's ``## heading``."""
    text = README.read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, f"no Python example under {heading!r}"
    return match.group(1)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A fresh working folder, with a master key in IAM_MASTER_KEY as the examples expect."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IAM_MASTER_KEY", iam_ffi.generate_master_key())
    return tmp_path


def test_the_embedding_example_runs_and_runs_again(workdir):
    code = readme_example("Embed it")
    assert len(code.strip().splitlines()) <= 15
    for _ in range(2):  # the second run opens the same store with the same key
        exec(compile(code, "README.md: Embed it", "exec"), {})
    # Under another master key the store's sealed signing keys do not open.
    with pytest.raises(iam_ffi.CryptoError, match="master key"):
        Iam.sqlite(workdir / "iam.db", {"master_key": iam_ffi.generate_master_key()})


def test_the_administration_example_runs(workdir, capsys):
    namespace = {"key": iam_ffi.generate_master_key()}
    exec(compile(readme_example("Administration"), "README.md: Administration", "exec"),
         namespace)
    printed = capsys.readouterr().out
    assert "alice" in printed and "bob" in printed
    assert "'reports'" in printed  # the audit event of the role granted to bob
    client = namespace["client"]
    assert client.secret and client.secret not in printed  # print() shows no secret
    keys = namespace["keys"]  # rotated once: the new key signs, the first one only verifies
    assert len(keys) == 2 and [k.active for k in keys].count(True) == 1
    assert namespace["iam"].closed


@pytest.fixture
def readme_app(workdir):
    """The README's FastAPI app, its Iam, and a TestClient on it."""
    testclient = require("fastapi.testclient")
    namespace = {}
    exec(compile(readme_example("Protect a FastAPI route"), "README.md: FastAPI", "exec"),
         namespace)
    iam = namespace["iam"]
    with iam, testclient.TestClient(namespace["app"]) as client:
        yield iam, client


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_the_fastapi_example_protects_its_route(readme_app):
    iam, client = readme_app
    carol = iam.create_account("carol", PASSWORD, roles=["reporting"])
    iam.create_account("dave", PASSWORD)
    tokens = iam.login("carol", PASSWORD)

    answer = client.get("/reports", headers=bearer(tokens.access_token))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"account": carol}

    missing = client.get("/reports")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    for bad in ["v4.public.garbage", "", "iam_pat_garbage"]:
        refused = client.get("/reports", headers=bearer(bad))
        assert refused.status_code == 401, bad
    refused = client.get("/reports", headers=bearer("v4.public.garbage"))
    assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert client.get("/reports", headers={"Authorization": "Basic abc"}).status_code == 401

    dave = iam.login("dave", PASSWORD).access_token
    forbidden = client.get("/reports", headers=bearer(dave))
    assert forbidden.status_code == 403
    assert forbidden.headers["www-authenticate"] == 'Bearer error="insufficient_scope"'
    assert "reporting" in forbidden.json()["detail"]

    # A personal API token scoped to the role is accepted as well.
    pat = iam.create_api_token(tokens.access_token, "cron", scopes=["reporting"],
                               expires_at=int(time.time()) + 600)
    assert client.get("/reports", headers=bearer(pat.secret)).json() == {"account": carol}
    iam.revoke_api_token(tokens.access_token, pat.token_id)
    assert client.get("/reports", headers=bearer(pat.secret)).status_code == 401

    # Revocation is immediate.
    iam.revoke_session(tokens.session_id)
    revoked = client.get("/reports", headers=bearer(tokens.access_token))
    assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]

    # The bearer scheme appears in the app's OpenAPI document.
    schemes = client.get("/openapi.json").json()["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["scheme"] == "bearer"


def test_the_dependency_without_a_role_and_without_api_tokens():
    fastapi = require("fastapi")
    testclient = require("fastapi.testclient")
    from iam_ffi.fastapi import IamBearer

    iam = Iam.memory(config())
    app = fastapi.FastAPI()

    @app.get("/me")
    def me(who: iam_ffi.Principal = fastapi.Depends(IamBearer(iam, api_tokens=False))):
        return {"account": who.account_id, "roles": list(who.roles), "kind": who.kind}

    with testclient.TestClient(app) as client:
        alice = iam.create_account("alice", PASSWORD, roles=["admin"])
        billing = iam.create_account("billing")
        tokens = iam.login("alice", PASSWORD)
        assert client.get("/me", headers=bearer(tokens.access_token)).json() == {
            "account": alice, "roles": ["admin"], "kind": "human"
        }
        service = iam.issue_service_token(tokens.access_token, billing).token
        assert client.get("/me", headers=bearer(service)).json()["kind"] == "system"
        pat = iam.create_api_token(tokens.access_token, "x", expires_at=int(time.time()) + 60)
        assert client.get("/me", headers=bearer(pat.secret)).status_code == 401

        # Once the Iam is closed, requests get 503 (retry later), never a crash.
        iam.close()
        closed = client.get("/me", headers=bearer(tokens.access_token))
        assert closed.status_code == 503 and closed.headers["retry-after"] == "1"
