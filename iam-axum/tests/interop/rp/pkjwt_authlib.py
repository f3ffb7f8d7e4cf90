"""Authlib as a private_key_jwt client: fetches a client-credentials token from
TOKEN_ENDPOINT as CLIENT_ID, signing its assertion (Authlib's defaults: aud is the token
endpoint, exp an hour ahead, a random jti) with the Ed25519 private key in KEY_JWK (a JWK).
Prints the token response as JSON; with REPLAY=1 also presents the same assertion twice
by hand and prints both HTTP statuses."""

import json
import os
import sys

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc7523.assertion import private_key_jwt_sign
from joserfc.jwk import OKPKey

endpoint = os.environ["TOKEN_ENDPOINT"]
client_id = os.environ["CLIENT_ID"]
key = OKPKey.import_key(json.loads(os.environ["KEY_JWK"]))

session = OAuth2Session(client_id, key, token_endpoint_auth_method="private_key_jwt")
session.register_client_auth_method(PrivateKeyJWT(endpoint, alg="EdDSA"))
token = session.fetch_token(endpoint, grant_type="client_credentials")

out = {"token": dict(token)}
if os.environ.get("REPLAY") == "1":
    assertion = private_key_jwt_sign(key, client_id=client_id, token_endpoint=endpoint, alg="EdDSA")
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }
    out["statuses"] = [requests.post(endpoint, data=form).status_code for _ in range(2)]
json.dump(out, sys.stdout)
