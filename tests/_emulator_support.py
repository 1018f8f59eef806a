"""Helpers shared by the emulator HTTP tests."""

from __future__ import annotations

import httpx
import pytest

#: Run a test against an emulator whose ``/linktor/api/v1`` has the behaviour the self-hosted
#: server's documentation describes (profile ``"documented"``) instead of its code's.
DOCUMENTED = pytest.mark.parametrize("emu", ["documented"], indirect=True)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error_of(response: httpx.Response) -> str:
    """The text of a Daguito error body, checking it is exactly ``{"error": <non-empty str>}``."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"], str) and body["error"]
    return body["error"]
