"""The type stub matches the extension module, and the facade re-exports all of it."""

from __future__ import annotations

import inspect
import subprocess
import sys

import relaywire._native as native
import relaywire.models as models
import relaywire.streams as streams
import relaywire.webhooks as webhooks


def test_stubtest_passes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "relaywire._native"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    print(output)
    assert result.returncode == 0, output


def test_all_names_exist() -> None:
    assert len(webhooks.__all__) == len(set(webhooks.__all__))
    missing = [name for name in webhooks.__all__ if not hasattr(webhooks, name)]
    assert missing == []


def test_every_public_native_name_is_re_exported() -> None:
    public = {name for name in dir(native) if not name.startswith("_")}
    assert public, "the extension module exports nothing"
    facades = {name: module for module in (webhooks, streams, models) for name in module.__all__}
    assert public <= set(facades), public - set(facades)
    for name in public:
        assert getattr(facades[name], name) is getattr(native, name), name


def test_constants_match_the_native_behaviour() -> None:
    assert webhooks.DEFAULT_TOLERANCE == 300
    assert webhooks.MAX_HEADER_BYTES == 8 * 1024
    assert webhooks.LINKTOR_SIGNATURE_HEADER == "x-linktor-signature"
    assert webhooks.LINKTOR_TIMESTAMP_HEADER == "x-linktor-timestamp"
    assert webhooks.STANDARD_ID_HEADER == "webhook-id"
    assert webhooks.STANDARD_TIMESTAMP_HEADER == "webhook-timestamp"
    assert webhooks.STANDARD_SIGNATURE_HEADER == "webhook-signature"


def test_signature_defaults_use_the_exported_tolerance() -> None:
    """The pyo3 signatures spell the default as a literal (so that help() shows it); it must be
    the exported DEFAULT_TOLERANCE."""
    callables = [
        webhooks.verify_linktor_request,
        webhooks.LinktorVerifier.verify_request,
        webhooks.StandardWebhook.verify,
        webhooks.StandardWebhook.verify_many,
    ]
    for func in callables:
        default = inspect.signature(func).parameters["tolerance"].default
        assert default == webhooks.DEFAULT_TOLERANCE, func
