"""Daguito HTTP routes of the emulator: one-shot runs, presigned uploads, stream-token mints.

Plain httpx clients over real sockets; every test gets a fresh emulator (the ``emu`` fixture).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from _emulator_support import bearer, error_of

from relaywire.emulator import Emulator

WEBHOOK = "wh_demo"
WEBHOOK_TOKEN = "sk_wh_demo"
ACCOUNT_KEY = "dgsk_acc_demo"
ORG_KEY = "sk_dgt_demo"


@pytest.fixture
def client(emu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.url, timeout=10) as http:
        yield http


# -- POST /h/{token} -------------------------------------------------------------------------------


def test_run_with_the_webhook_token(client: httpx.Client) -> None:
    response = client.post(f"/h/{WEBHOOK_TOKEN}", json={"text": "hello world"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"ok", "execution_id", "status", "output"}
    assert body["ok"] is True
    assert body["execution_id"].startswith("exec_")
    assert body["status"] == "completed"
    assert body["output"] == {"content": "echo: hello world "}


def test_run_passes_the_body_as_base_input(client: httpx.Client) -> None:
    scope = {"tenant": "acme", "ids": [1, 2]}
    body = client.post(f"/h/{WEBHOOK_TOKEN}", json={"text": "/scope", "scope": scope}).json()
    assert body["ok"] is True
    assert body["output"]["content"] == '{"ids":[1,2],"tenant":"acme"}'


def test_run_failure_is_200_with_error(client: httpx.Client) -> None:
    response = client.post(f"/h/{WEBHOOK_TOKEN}", json={"text": "/fail boom"})
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False
    assert body["status"] == "failed"
    assert body["error"] == "boom"
    assert body["execution_id"].startswith("exec_")


@pytest.mark.parametrize("content", [b"", b"{}", b'{"text": null}', b"  \n"])
def test_run_without_text_runs_on_empty_text(client: httpx.Client, content: bytes) -> None:
    response = client.post(
        f"/h/{WEBHOOK_TOKEN}", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json()["output"] == {"content": "echo: "}


def test_run_accepts_python_json_dumps_spacing_and_escapes(client: httpx.Client) -> None:
    content = b'{"text": "caf\\u00e9 ok"}'
    response = client.post(
        f"/h/{WEBHOOK_TOKEN}", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.json()["output"] == {"content": "echo: café ok "}


def test_account_key_runs_the_orgs_first_webhook_by_default(client: httpx.Client) -> None:
    body = client.post(f"/h/{ACCOUNT_KEY}", json={"text": "hi"}).json()
    assert body["ok"] is True
    assert body["output"] == {"content": "echo: hi "}


def test_account_key_routes_on_webhook_id(emu: Emulator, client: httpx.Client) -> None:
    emu.call(emu.daguito.add_webhook, "wh_two", "sk_wh_two", slug="two")
    ok = client.post(f"/h/{ACCOUNT_KEY}", json={"webhook_id": "wh_two", "text": "x"})
    assert ok.status_code == 200 and ok.json()["ok"] is True
    unknown = client.post(f"/h/{ACCOUNT_KEY}", json={"webhook_id": "wh_nope", "text": "x"})
    assert unknown.status_code == 404
    assert "wh_nope" in error_of(unknown)
    wrong_type = client.post(f"/h/{ACCOUNT_KEY}", json={"webhook_id": 7})
    assert wrong_type.status_code == 400
    assert "webhook_id" in error_of(wrong_type)


def test_account_key_cannot_run_another_orgs_webhook(emu: Emulator, client: httpx.Client) -> None:
    webhook = emu.call(emu.daguito.add_webhook, "wh_other", "sk_wh_other")
    webhook.org_id = "org_other"
    response = client.post(f"/h/{ACCOUNT_KEY}", json={"webhook_id": "wh_other"})
    assert response.status_code == 404
    # The webhook's own token still runs it.
    assert client.post("/h/sk_wh_other", json={"text": "a"}).json()["ok"] is True


def test_token_is_percent_decoded(emu: Emulator, client: httpx.Client) -> None:
    token = "sk_wh_odd/token ?#&"
    emu.call(emu.daguito.add_webhook, "wh_odd", token)
    response = client.post("/h/" + quote(token, safe=""), json={"text": "odd"})
    assert response.status_code == 200
    assert response.json()["output"] == {"content": "echo: odd "}


@pytest.mark.parametrize(
    "token", ["sk_wh_wrong", ORG_KEY, "", "d%C3%A9mo", "dgsk_acc_nope", "sk_wh_demo%20"]
)
def test_unknown_token_is_401(client: httpx.Client, token: str) -> None:
    response = client.post(f"/h/{token}", json={"text": "x"})
    assert response.status_code == 401
    assert error_of(response) == "invalid webhook token"


def test_revoked_account_key_cannot_run(client: httpx.Client) -> None:
    assert client.delete("/v1/account/api-keys/ak_demo", headers=bearer(ACCOUNT_KEY)).status_code
    assert client.post(f"/h/{ACCOUNT_KEY}", json={"text": "x"}).status_code == 401


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'"text"', "JSON object"),
        (b'{"text": 5}', "text must be a string"),
        (b'{"text": ["a"]}', "text must be a string"),
    ],
)
def test_run_malformed_body_is_400(client: httpx.Client, content: bytes, needle: str) -> None:
    response = client.post(
        f"/h/{WEBHOOK_TOKEN}", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert needle in error_of(response)


def test_run_get_is_a_json_404(client: httpx.Client) -> None:
    response = client.get(f"/h/{WEBHOOK_TOKEN}")
    assert response.status_code == 404
    assert "no route" in error_of(response)


# -- uploads --------------------------------------------------------------------------------------


def presign(
    client: httpx.Client, *, token: str = WEBHOOK_TOKEN, webhook: str = WEBHOOK, **fields: Any
) -> httpx.Response:
    body = {"kind": "document", "mime_type": "application/pdf", "size_bytes": 5}
    body["filename"] = "report.pdf"
    body.update(fields)
    return client.post(f"/v1/webhooks/{webhook}/upload", json=body, headers=bearer(token))


def test_presign_answers_an_upload_url_on_this_emulator(
    emu: Emulator, client: httpx.Client
) -> None:
    response = presign(client)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"upload_url", "key", "required_headers", "expires_in_sec"}
    assert body["upload_url"].startswith(emu.url + "/")
    assert body["required_headers"] == {"Content-Type": "application/pdf"}
    assert body["expires_in_sec"] == 900
    assert body["key"].endswith("/report.pdf")
    upload = emu.daguito.uploads[body["key"]]
    assert (upload.webhook_id, upload.kind, upload.mime_type) == (
        WEBHOOK,
        "document",
        "application/pdf",
    )
    assert (upload.size_bytes, upload.filename, upload.complete) == (5, "report.pdf", False)


def test_upload_round_trip_stores_the_bytes(emu: Emulator, client: httpx.Client) -> None:
    body = presign(client).json()
    put = httpx.put(body["upload_url"], content=b"%PDF!", headers=body["required_headers"])
    assert put.status_code == 200
    assert put.headers["etag"].startswith('"')
    upload = emu.daguito.uploads[body["key"]]
    assert upload.complete
    assert upload.data == b"%PDF!"


def test_upload_ttl_comes_from_the_config() -> None:
    with Emulator(upload_ttl=42) as emu, httpx.Client(base_url=emu.url) as http:
        body = presign(http).json()
        assert body["expires_in_sec"] == 42
        assert emu.daguito.uploads[body["key"]].expires_at <= time.time() + 42


def test_unsafe_filename_is_cleaned_in_the_key(client: httpx.Client) -> None:
    key = presign(client, filename="../../etc/pass wd?.pdf").json()["key"]
    assert ".." not in key
    assert key.endswith("/pass_wd_.pdf")


@pytest.mark.parametrize("token", [WEBHOOK_TOKEN, ACCOUNT_KEY])
def test_presign_accepts_webhook_token_and_account_key(client: httpx.Client, token: str) -> None:
    assert presign(client, token=token).status_code == 200


def test_presign_accepts_a_stream_token_of_the_webhook(client: httpx.Client) -> None:
    minted = client.post(
        f"/v1/webhooks/{WEBHOOK}/stream-tokens",
        json={"session_key": "s1"},
        headers=bearer(WEBHOOK_TOKEN),
    ).json()
    assert presign(client, token=minted["token"]).status_code == 200


def test_presign_rejects_wrong_credentials(emu: Emulator, client: httpx.Client) -> None:
    emu.call(emu.daguito.add_webhook, "wh_two", "sk_wh_two")
    assert presign(client, token="sk_wh_wrong").status_code == 401
    assert presign(client, token=ORG_KEY).status_code == 401
    # Another webhook's token does not open this one.
    assert presign(client, token="sk_wh_two").status_code == 401
    missing = client.post(f"/v1/webhooks/{WEBHOOK}/upload", json={})
    assert missing.status_code == 401
    assert error_of(missing) == "missing bearer"
    basic = client.post(
        f"/v1/webhooks/{WEBHOOK}/upload", json={}, headers={"Authorization": "Basic abc"}
    )
    assert basic.status_code == 401
    unknown = presign(client, webhook="wh_nope")
    assert unknown.status_code == 404
    assert "wh_nope" in error_of(unknown)


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"kind": "spreadsheet"}, "kind must be one of"),
        ({"kind": None}, "kind required"),
        ({"kind": 3}, "kind must be a string"),
        ({"mime_type": ""}, "mime_type must not be empty"),
        ({"mime_type": "pdf"}, "type/subtype"),
        ({"mime_type": None}, "mime_type required"),
        ({"size_bytes": 0}, "size_bytes must be >= 1"),
        ({"size_bytes": -5}, "size_bytes must be >= 1"),
        ({"size_bytes": "5"}, "size_bytes must be an integer"),
        ({"size_bytes": True}, "size_bytes must be an integer"),
        ({"size_bytes": 1.5}, "size_bytes must be an integer"),
        ({"size_bytes": None}, "size_bytes required"),
        ({"filename": None}, "filename required"),
        ({"filename": ["a"]}, "filename must be a string"),
    ],
)
def test_presign_validates_the_body(
    client: httpx.Client, fields: dict[str, Any], needle: str
) -> None:
    response = presign(client, **fields)
    assert response.status_code == 400
    assert needle in error_of(response)


@pytest.mark.parametrize("content", [b"", b"nope", b"[]"])
def test_presign_non_object_body_is_400(client: httpx.Client, content: bytes) -> None:
    response = client.post(
        f"/v1/webhooks/{WEBHOOK}/upload", content=content, headers=bearer(WEBHOOK_TOKEN)
    )
    assert response.status_code == 400
    error_of(response)


def test_presign_over_the_size_cap_is_413(emu: Emulator, client: httpx.Client) -> None:
    too_big = presign(client, size_bytes=25 * 1024 * 1024 + 1)
    assert too_big.status_code == 413
    assert "limit" in error_of(too_big)
    assert presign(client, size_bytes=25 * 1024 * 1024).status_code == 200
    emu.daguito.max_upload_bytes = 4
    assert presign(client, size_bytes=5).status_code == 413


def test_put_with_fewer_bytes_than_signed_is_rejected(emu: Emulator, client: httpx.Client) -> None:
    body = presign(client).json()
    short = httpx.put(body["upload_url"], content=b"%PD", headers=body["required_headers"])
    assert short.status_code == 400
    assert "signed size 5" in error_of(short)
    assert not emu.daguito.uploads[body["key"]].complete
    # A rejected attempt does not burn the URL.
    ok = httpx.put(body["upload_url"], content=b"%PDF!", headers=body["required_headers"])
    assert ok.status_code == 200


def test_put_with_more_bytes_than_signed_is_rejected(emu: Emulator, client: httpx.Client) -> None:
    body = presign(client).json()
    long = httpx.put(body["upload_url"], content=b"%PDF!!", headers=body["required_headers"])
    assert long.status_code == 400
    assert "signed size 5" in error_of(long)
    assert not emu.daguito.uploads[body["key"]].complete


def test_chunked_put_larger_than_signed_is_rejected(emu: Emulator, client: httpx.Client) -> None:
    body = presign(client).json()

    def parts() -> Iterator[bytes]:
        yield b"%PD"
        yield b"F!!!"

    response = httpx.put(body["upload_url"], content=parts(), headers=body["required_headers"])
    assert response.status_code == 400
    assert "larger than the signed size" in error_of(response)
    assert not emu.daguito.uploads[body["key"]].complete


def test_chunked_put_of_the_signed_size_is_accepted(emu: Emulator, client: httpx.Client) -> None:
    body = presign(client).json()

    def parts() -> Iterator[bytes]:
        yield b"%P"
        yield b"DF!"

    response = httpx.put(body["upload_url"], content=parts(), headers=body["required_headers"])
    assert response.status_code == 200
    assert emu.daguito.uploads[body["key"]].data == b"%PDF!"


def test_put_with_another_content_type_is_rejected(emu: Emulator, client: httpx.Client) -> None:
    body = presign(client).json()
    response = httpx.put(
        body["upload_url"], content=b"%PDF!", headers={"Content-Type": "image/png"}
    )
    assert response.status_code == 400
    assert "does not match the signed 'application/pdf'" in error_of(response)
    missing = httpx.put(body["upload_url"], content=b"%PDF!")
    assert missing.status_code == 400
    assert "Content-Type required" in error_of(missing)
    assert not emu.daguito.uploads[body["key"]].complete


def test_put_content_type_compare_ignores_case(client: httpx.Client) -> None:
    body = presign(client).json()
    response = httpx.put(
        body["upload_url"], content=b"%PDF!", headers={"Content-Type": "Application/PDF"}
    )
    assert response.status_code == 200


def test_put_after_expiry_is_rejected(emu: Emulator, client: httpx.Client) -> None:
    body = presign(client).json()
    emu.daguito.uploads[body["key"]].expires_at = time.time() - 1
    response = httpx.put(body["upload_url"], content=b"%PDF!", headers=body["required_headers"])
    assert response.status_code == 403
    assert error_of(response) == "upload URL expired"


def test_second_put_is_rejected(emu: Emulator, client: httpx.Client) -> None:
    body = presign(client).json()
    first = httpx.put(body["upload_url"], content=b"%PDF!", headers=body["required_headers"])
    assert first.status_code == 200
    second = httpx.put(body["upload_url"], content=b"other", headers=body["required_headers"])
    assert second.status_code == 409
    assert "already used" in error_of(second)
    assert emu.daguito.uploads[body["key"]].data == b"%PDF!"


def test_put_with_a_bad_signature_or_unknown_key_is_rejected(client: httpx.Client) -> None:
    body = presign(client).json()
    url = httpx.URL(body["upload_url"])
    for bad in (
        url.copy_set_param("signature", "forged"),
        url.copy_remove_param("signature"),
        url.copy_set_param("signature", "é"),
        url.copy_with(path=url.path + "x"),
    ):
        response = httpx.put(bad, content=b"%PDF!", headers=body["required_headers"])
        assert response.status_code == 403
        assert error_of(response) == "unknown upload URL or bad signature"


# -- stream tokens --------------------------------------------------------------------------------


def mint(client: httpx.Client, body: Any, token: str = WEBHOOK_TOKEN) -> httpx.Response:
    return client.post(f"/v1/webhooks/{WEBHOOK}/stream-tokens", json=body, headers=bearer(token))


def test_mint_stream_token_defaults(emu: Emulator, client: httpx.Client) -> None:
    before = int(time.time())
    response = mint(client, {"session_key": "sess-1"})
    after = int(time.time())
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "session_key", "role", "expires_at"}
    assert body["token"].startswith("dst_")
    assert body["session_key"] == "sess-1"
    assert body["role"] == "consume"
    assert isinstance(body["expires_at"], int)
    assert before + 3600 <= body["expires_at"] <= after + 3600
    stored = emu.daguito.stream_tokens[body["token"]]
    assert (stored.webhook_id, stored.session_key, stored.role) == (WEBHOOK, "sess-1", "consume")
    assert emu.daguito.webhook_accepts(WEBHOOK, body["token"])


def test_mint_stream_token_with_role_and_ttl(emu: Emulator, client: httpx.Client) -> None:
    before = int(time.time())
    body = mint(client, {"session_key": "s", "role": "bidi", "ttl_seconds": 60}).json()
    after = int(time.time())
    assert body["role"] == "bidi"
    assert before + 60 <= body["expires_at"] <= after + 60
    assert emu.daguito.stream_tokens[body["token"]].role == "bidi"


def test_mint_with_account_key(client: httpx.Client) -> None:
    response = mint(client, {"session_key": "s", "role": "produce"}, token=ACCOUNT_KEY)
    assert response.status_code == 200
    assert response.json()["role"] == "produce"


def test_a_stream_token_cannot_mint_another(client: httpx.Client) -> None:
    minted = mint(client, {"session_key": "s"}).json()["token"]
    response = mint(client, {"session_key": "s", "role": "bidi"}, token=minted)
    assert response.status_code == 401


def test_mint_rejects_wrong_credentials(client: httpx.Client) -> None:
    assert mint(client, {"session_key": "s"}, token="sk_wh_wrong").status_code == 401
    assert mint(client, {"session_key": "s"}, token=ORG_KEY).status_code == 401
    missing = client.post(f"/v1/webhooks/{WEBHOOK}/stream-tokens", json={"session_key": "s"})
    assert missing.status_code == 401
    unknown = client.post(
        "/v1/webhooks/wh_nope/stream-tokens", json={"session_key": "s"}, headers=bearer(ACCOUNT_KEY)
    )
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({}, "session_key required"),
        ({"session_key": ""}, "session_key must not be empty"),
        ({"session_key": 1}, "session_key must be a string"),
        ({"session_key": "s", "role": "admin"}, "role must be one of"),
        ({"session_key": "s", "role": 1}, "role must be a string"),
        ({"session_key": "s", "ttl_seconds": 0}, "ttl_seconds must be between"),
        ({"session_key": "s", "ttl_seconds": 10**9}, "ttl_seconds must be between"),
        ({"session_key": "s", "ttl_seconds": "60"}, "ttl_seconds must be an integer"),
        ([], "JSON object"),
    ],
)
def test_mint_validates_the_body(client: httpx.Client, body: Any, needle: str) -> None:
    response = mint(client, body)
    assert response.status_code == 400
    assert needle in error_of(response)
