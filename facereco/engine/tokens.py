"""Opaque, signed, expiring page tokens (``next-token``).

A token carries its scope (appkey digest, call, group), the limit it was issued
with and the keyset cursor of the last row served, signed with HMAC-SHA256. A
forged, altered, expired or other-scope token is refused with -40040.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any

from facereco.engine.secrets import EngineSecrets
from facereco.errors import InvalidToken

DEFAULT_TOKEN_TTL_S = 3600.0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PageTokens:
    def __init__(self, secrets: EngineSecrets, ttl_s: float = DEFAULT_TOKEN_TTL_S) -> None:
        self._secrets = secrets
        self.ttl_s = ttl_s

    def issue(self, scope: str, limit: int, cursor: list[Any]) -> str:
        payload = json.dumps(
            {"s": scope, "l": limit, "c": cursor, "e": round(time.time() + self.ttl_s, 3)}, separators=(",", ":")
        ).encode()
        return f"{_b64(payload)}.{_b64(self._secrets.sign(payload))}"

    def open(self, token: str, scope: str) -> tuple[int, list[Any]]:
        """(limit, cursor) of a token issued for ``scope``; -40040 for anything else."""
        try:
            encoded_payload, encoded_signature = token.split(".")
            payload, signature = _unb64(encoded_payload), _unb64(encoded_signature)
        except (ValueError, binascii.Error):
            raise InvalidToken("next-token is malformed") from None
        if not self._secrets.verify(payload, signature):
            raise InvalidToken("next-token is not one this server issued")
        content = json.loads(payload)
        if content.get("s") != scope:
            raise InvalidToken("next-token belongs to another listing")
        if time.time() > content["e"]:
            raise InvalidToken("next-token has expired")
        return int(content["l"]), list(content["c"])
