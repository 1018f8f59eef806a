"""Per-call options and response metadata on the Daguito side: ``Daguito.with_options``,
``request_id`` on results (after the official fields, not compared), errors with headers and a
class for every documented status, each still an instance of the entry point's own class."""

from __future__ import annotations

import pytest

import daguito
from daguito import (
    BadRequestError,
    ConflictError,
    Daguito,
    DaguitoError,
    IngestTextInput,
    InvalidTokenError,
    KnowledgeSession,
    KnowledgeSessionOptions,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    SearchInput,
    ServerError,
    UnprocessableEntityError,
    UploadInput,
    WebhookError,
    WebhookRunInput,
    WebhookRunResult,
)
from relaywire.emulator import Emulator


async def test_results_carry_the_request_id(emu: Emulator) -> None:
    result = await daguito.run_webhook(WebhookRunInput(api_url=emu.url, token="sk_wh_demo"))
    assert isinstance(result.request_id, str) and result.request_id
    # not compared, and after the official fields: code written for daguito-sdk still holds
    same = WebhookRunResult(result.ok, result.execution_id, result.status, result.output)
    assert result == same and same.request_id is None
    upload = await daguito.upload_file(
        UploadInput(
            api_url=emu.url,
            webhook_id="wh_demo",
            token="sk_wh_demo",
            kind="document",
            data=b"%PDF-1.4 x",
            filename="a.pdf",
        )
    )
    assert upload.request_id
    options = KnowledgeSessionOptions(emu.url, "sk_dgt_demo", default_source_id="src_demo")
    async with KnowledgeSession(options) as kb:
        ingested = await kb.ingest_text(IngestTextInput(text="request ids everywhere"))
        found = await kb.search(SearchInput(query="request ids"))
    assert ingested.request_id and found.request_id
    assert len({result.request_id, upload.request_id, ingested.request_id}) == 3


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, BadRequestError),
        (401, InvalidTokenError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, ServerError),
        (503, ServerError),
    ],
)
async def test_every_documented_status_has_a_class(
    emu: Emulator, status: int, kind: type[DaguitoError]
) -> None:
    emu.faults.http(status, 1, path_prefix="/h/")
    with pytest.raises(WebhookError) as info:
        await daguito.run_webhook(WebhookRunInput(api_url=emu.url, token="sk_wh_demo"))
    error = info.value
    assert isinstance(error, kind) and isinstance(error, DaguitoError)
    assert error.status == status
    assert error.headers is not None
    assert error.headers["x-request-id"] == error.request_id  # case-insensitive headers


async def test_with_options_is_a_cheap_copy_on_the_same_connections(emu: Emulator) -> None:
    async with Daguito(api_url=emu.url, api_key="dgsk_acc_demo") as client:
        tagged = client.with_options(timeout=5, max_retries=0, headers={"X-Request-ID": "mine-1"})
        assert type(tagged) is Daguito and tagged is not client
        assert tagged._client() is client._client()
        assert len(await tagged.account_keys.list()) == len(await client.account_keys.list())
        # the extra header goes out (the emulator echoes X-Request-ID), no retry with 0
        emu.faults.http(503, 1, path_prefix="/v1/account")
        with pytest.raises(ServerError) as info:
            await tagged.account_keys.list()
        assert info.value.request_id == "mine-1"
        # the original still retries (max_retries=2 by default)
        emu.faults.http(503, 1, path_prefix="/v1/account")
        await client.account_keys.list()
        await tagged.aclose()  # leaves the shared connections to the original
        await client.account_keys.list()
        with pytest.raises(RuntimeError, match="closed"):
            await tagged.account_keys.list()
    with pytest.raises(ValueError, match="max_retries"):
        client.with_options(max_retries=-1)
