"""The configuration an :class:`~iam_ffi.Iam` opens with, as a TypedDict for type checkers
(any mapping of the same shape works; docs/ffi.md lists every field and its default), and a
master-key generator."""

from __future__ import annotations

import base64
import secrets
from typing import Literal, TypedDict

__all__ = [
    "ElevationPolicy",
    "IamConfig",
    "PasskeysConfig",
    "PasswordPolicy",
    "ThrottlePolicy",
    "generate_master_key",
]


class PasswordPolicy(TypedDict, total=False):
    """Argon2id cost and password length limits."""

    memory_kib: int
    iterations: int
    parallelism: int
    min_length: int
    max_length: int
    max_concurrent_hashes: int


class ThrottlePolicy(TypedDict, total=False):
    """Back-off after failed logins (seconds)."""

    free_failures: int
    base_delay: int
    max_delay: int


class ElevationPolicy(TypedDict, total=False):
    """How a role is opened for a session."""

    step_up: Literal["none", "password", "totp", "password_and_totp"]
    approver_role: str
    max_duration_secs: int


class _PasskeysRequired(TypedDict):
    rp_id: str
    rp_origins: list[str]


class PasskeysConfig(_PasskeysRequired, total=False):
    """The relying party passkeys are bound to: ``rp_id`` the site's domain, ``rp_origins`` the
    origins ceremonies run from (each the RP id or a subdomain of it)."""

    rp_name: str
    ceremony_ttl_secs: int


class _Required(TypedDict):
    master_key: str


class IamConfig(_Required, total=False):
    """``iam_open_*``'s configuration JSON; only ``master_key`` is required. Unknown fields are
    refused (InvalidConfigError), so a typo never falls back to a default silently."""

    issuer: str
    audience: str
    totp_issuer: str
    access_token_ttl_secs: int
    session_ttl_secs: int
    service_token_ttl_secs: int
    api_token_max_ttl_secs: int
    elevation: dict[str, ElevationPolicy]
    default_elevation: ElevationPolicy
    elevation_request_ttl_secs: int
    recent_authentication_secs: int
    api_tokens_survive_password_reset: bool
    deletion_grace_secs: int
    password: PasswordPolicy
    throttle: ThrottlePolicy
    worker_threads: int
    passkeys: PasskeysConfig


def generate_master_key() -> str:
    """A new master key (32 random bytes, base64url without padding). Generate it once and keep
    it (a secret store, or a file only the service can read): data sealed under one key does
    not open under another, so a key made afresh on every start locks the store's secrets."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")
