"""``relaywire verify``: archived deliveries re-verified against a ``[[sources]]`` file."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import types
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from _schemes import DISCORD_KEY, discord_signature, linear_body, public_bytes

from relaywire.cli import main
from relaywire.webhooks import (
    GitHub,
    HmacVerifier,
    Linear,
    LinktorVerifier,
    Slack,
    StandardWebhook,
    Stripe,
    Twilio,
)

NOW = 1_700_000_000
WHSEC = "whsec_" + base64.b64encode(b"archive standard key 24b").decode()

SOURCES = f"""
[[sources]]
name = "stripe"
path = "/hooks/stripe"
scheme = "stripe"
secrets = ["whsec_archive"]
id = "body:id"

[[sources]]
name = "standard"
path = "/hooks/standard"
scheme = "standard"
secrets_env = "RELAYWIRE_TEST_STANDARD_SECRETS"

[[sources]]
name = "github"
path = "/hooks/github"
scheme = "github"
secrets = ["old-gh", "gh-archive"]

[[sources]]
name = "slack"
path = "/hooks/slack"
scheme = "slack"
secrets = ["slack-archive"]
tolerance = 60

[[sources]]
name = "twilio"
path = "/hooks/twilio"
scheme = "twilio"
secrets = ["twilio-archive"]
url = "https://hooks.example.com/hooks/twilio"

[[sources]]
name = "linear"
path = "/hooks/linear"
scheme = "linear"
secrets = ["linear-archive"]

[[sources]]
name = "discord"
path = "/hooks/discord"
scheme = "discord"
secrets = ["{public_bytes(DISCORD_KEY).hex()}"]

[[sources]]
name = "linktor"
path = "/hooks/linktor"
scheme = "linktor"
secrets = ["linktor-archive"]
max_body = 64

[[sources]]
name = "acme"
path = "/hooks/acme"
scheme = "hmac"
secrets = ["acme-archive"]
header = "X-Acme-Signature"
encoding = "base64"
prefix = "sha256="
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RELAYWIRE_TEST_STANDARD_SECRETS", f"whsec_{'A' * 32}, {WHSEC}")
    path = tmp_path / "sources.toml"
    path.write_text(SOURCES)
    return path


def line(source: str | None, headers: Any, body: bytes, **extra: Any) -> str:
    item: dict[str, Any] = {"headers": headers, **extra}
    if source is not None:
        item["source"] = source
    try:
        item["body"] = body.decode()
    except UnicodeDecodeError:
        item["body_base64"] = base64.b64encode(body).decode()
    return json.dumps(item)


def good_lines() -> list[str]:
    """One genuine delivery per source, every one received at NOW."""
    at = {"received_at": NOW}
    iso = {"received_at": datetime.fromtimestamp(NOW, tz=timezone.utc).isoformat()}
    body = b'{"id":"evt_1","type":"charge.succeeded"}'
    std = StandardWebhook(WHSEC)
    form = b"From=%2B1555&Body=hi"
    discord_body = b'{"type":1}'
    return [
        line("stripe", Stripe("whsec_archive").sign(body, timestamp=NOW), body, **at),
        line(
            "standard",
            {
                "webhook-id": "m1",
                "webhook-timestamp": str(NOW),
                "webhook-signature": std.sign("m1", NOW, body),
            },
            body,
            **iso,
        ),
        line("github", GitHub("gh-archive").sign(b"\xff raw"), b"\xff raw"),
        line("slack", Slack("slack-archive").sign(body, timestamp=NOW - 60), body, **at),
        line(
            "twilio",
            Twilio("twilio-archive").sign(form, url="https://hooks.example.com/hooks/twilio"),
            form,
        ),
        line(
            "twilio",
            Twilio("twilio-archive").sign(form, url="https://other.example.com/t"),
            form,
            url="https://other.example.com/t",
        ),
        line("linear", Linear("linear-archive").sign(linear_body(NOW)), linear_body(NOW), **at),
        line(
            "discord",
            {
                "X-Signature-Ed25519": discord_signature(DISCORD_KEY, str(NOW), discord_body),
                "X-Signature-Timestamp": str(NOW),
            },
            discord_body,
            **at,
        ),
        line(
            "linktor", {"X-Linktor-Signature": LinktorVerifier("linktor-archive").sign(body)}, body
        ),
        line(
            "acme",
            [
                [
                    "X-Acme-Signature",
                    HmacVerifier("acme-archive", encoding="base64", prefix="sha256=").sign(body),
                ]
            ],
            body,
        ),
    ]


def run_verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["verify", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_every_scheme_verifies_and_exits_zero(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "good.jsonl"
    archive.write_text("\n".join(good_lines()) + "\n\n")
    code, out, _ = run_verify(capsys, "--config", str(config), str(archive))
    assert code == 0, out
    assert "verified 10 deliveries" in out
    assert "every delivery verified" in out
    for name in (
        "stripe",
        "standard",
        "github",
        "slack",
        "twilio",
        "linear",
        "discord",
        "linktor",
        "acme",
    ):
        assert f"\n{name} " in out


def test_failures_are_counted_per_source_and_cause(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = b'{"id":"evt_bad","type":"x"}'
    stripe = Stripe("whsec_archive")
    bad = [
        line("stripe", stripe.sign(body, timestamp=NOW), body + b" ", received_at=NOW),  # tampered
        line("stripe", stripe.sign(body, timestamp=NOW - 1000), body, received_at=NOW),  # stale
        line("github", {}, b"{}"),  # missing header
        line("linktor", {"X-Linktor-Signature": "0" * 64}, b"x" * 65),  # over max_body
        line("nowhere", {}, b"{}"),
        "not json",
        json.dumps({"source": "github", "headers": 5, "body": "x"}),
        json.dumps({"source": "github", "headers": {}, "body_base64": "!!"}),
    ]
    archive = tmp_path / "mixed.jsonl"
    archive.write_text("\n".join([*good_lines(), *bad]) + "\n")
    code, out, _ = run_verify(capsys, "--config", str(config), str(archive))
    assert code == 1
    assert "verified 18 deliveries" in out
    assert "InvalidSignatureError" in out and "TimestampOutOfToleranceError" in out
    assert "MissingHeaderError" in out and "BodyTooLarge" in out
    assert "UnknownSource" in out and "MalformedLine" in out
    stripe_row = next(row for row in out.splitlines() if row.startswith("stripe "))
    assert stripe_row.split()[1:] == ["3", "1", "2"]
    # The earliest failures are listed in archive order, with the delivery id when known.
    listed = out.split("first failures")[1].splitlines()[1:]
    assert listed[0].startswith("  line 11: stripe evt_bad: InvalidSignatureError")
    assert listed[1].startswith("  line 12: stripe evt_bad: TimestampOutOfToleranceError")
    assert "line 16: (unreadable): MalformedLine (not JSON" in out
    assert "headers must be" in out and "body_base64 is not base64" in out
    for secret in ("whsec_archive", "gh-archive", "slack-archive", WHSEC, "linktor-archive"):
        assert secret not in out


def test_timestamps_against_received_at_or_ignored(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = b"{}"
    late = line(
        "slack", Slack("slack-archive").sign(body, timestamp=NOW - 61), body, received_at=NOW
    )
    unknown_time = line("slack", Slack("slack-archive").sign(body, timestamp=NOW - 86400), body)
    archive = tmp_path / "times.jsonl"
    archive.write_text(late + "\n" + unknown_time + "\n")
    code, out, _ = run_verify(capsys, "--config", str(config), str(archive))
    assert code == 1
    assert "TimestampOutOfToleranceError                1" in out.replace("  ", " " * 2)
    assert "line 1: slack" in out and "line 2" not in out
    code, out, _ = run_verify(capsys, "--config", str(config), "--ignore-timestamps", str(archive))
    assert code == 0, out


def test_many_deliveries_in_parallel_batches(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    std = StandardWebhook(WHSEC)
    lines = []
    for i in range(3000):
        body = b'{"n":%d}' % i
        signature = std.sign(f"m{i}", NOW, body if i % 100 else b"other")
        headers = {
            "webhook-id": f"m{i}",
            "webhook-timestamp": str(NOW),
            "webhook-signature": signature,
        }
        lines.append(line("standard", headers, body, received_at=NOW + i % 7))
    archive = tmp_path / "many.jsonl"
    archive.write_text("\n".join(lines))
    code, out, err = run_verify(
        capsys, "--config", str(config), "--batch", "512", "--progress", str(archive)
    )
    assert code == 1
    standard_row = next(row for row in out.splitlines() if row.startswith("standard "))
    assert standard_row.split()[1:] == ["3,000", "2,970", "30"]
    assert "verified 3,000 deliveries" in err  # the final progress line


def test_one_source_needs_no_source_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "one.toml"
    config.write_text(
        '[[sources]]\nname = "gh"\npath = "/gh"\nscheme = "github"\nsecrets = ["s"]\n'
    )
    archive = tmp_path / "a.jsonl"
    archive.write_text(line(None, GitHub("s").sign(b"{}"), b"{}") + "\n")
    assert run_verify(capsys, "--config", str(config), str(archive))[0] == 0


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[[sources]]\nname = 'x'\nscheme = 'nope'\nsecrets = ['s']", "scheme 'nope' is unknown"),
        ("[[sources]]\nname = 'x'\nscheme = 'github'", "give secrets"),
        ("[[sources]]\nname = 'x'\nscheme = 'github'\nsecrets = ['']", "non-empty"),
        (
            "[[sources]]\nname = 'x'\nscheme = 'github'\nsecrets = ['s']\ncolour = 1",
            "unknown key(s) colour",
        ),
        ("[[sources]]\nname = 'x'\nscheme = 'hmac'\nsecrets = ['s']", "header is required"),
        (
            "[[sources]]\nname = 'x'\nscheme = 'github'\nsecrets_env = 'RELAYWIRE_UNSET_VARIABLE'",
            "not set",
        ),
        (
            "[[sources]]\nname = 'x'\nscheme = 'github'\nsecrets = ['s']\ntolerance = -1",
            "tolerance",
        ),
        ("[[sources]]\nname = 'x'\nscheme = 'github'\nsecrets = ['s']\nid = 'row:1'", "id must be"),
        ("[[sources]]\nname = 'x'\nscheme = 'discord'\nsecrets = ['not-a-key-s3cr3t']", "64 hex"),
        ("[[sources]]\nname = 'x'\nscheme = 'standard'\nsecrets = ['whsec_!s3cr3t']", "base64"),
        ("[[sources]]\nname = 'x'\nscheme = 'github'\nsecrets = ['s']\n" * 2, "used twice"),
        ("sources = 5", "at least one"),
        ("this is not toml", "not valid TOML"),
    ],
)
def test_configuration_errors_exit_2_without_secrets(
    toml: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(toml)
    archive = tmp_path / "a.jsonl"
    archive.write_text("")
    code, out, err = run_verify(capsys, "--config", str(config), str(archive))
    assert code == 2
    assert message in err
    assert "s3cr3t" not in err + out


def test_missing_files_exit_2(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_verify(capsys, "--config", str(config), str(tmp_path / "absent.jsonl"))
    assert code == 2 and "cannot read" in err
    code, _, err = run_verify(capsys, "--config", str(tmp_path / "absent.toml"), "x.jsonl")
    assert code == 2 and "cannot read" in err


def test_stdin_archive(config: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "relaywire", "verify", "--config", str(config), "-"],
        input="\n".join(good_lines()),
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "RELAYWIRE_TEST_STANDARD_SECRETS": WHSEC},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verified 10 deliveries from -" in result.stdout
    assert "\r" not in result.stderr  # no progress line when stderr is not a terminal


@dataclass
class Stored:
    """What ``relaywire.ingest.read`` yields (issue 12's interface)."""

    source: str
    id: str
    received_at: datetime
    headers: dict[str, str]
    body: bytes
    cursor: str


def test_sink_url_reads_through_relaywire_ingest(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a real sink cannot hold: a ``received_at`` that is not a time (the real receiver-to-
    verify run is in test_sources.py); and the read starts at the beginning (``after=None``)."""
    body = b'{"id":"evt_9"}'
    received = datetime.fromtimestamp(NOW, tz=timezone.utc)
    stored = [
        Stored(
            "stripe",
            "evt_9",
            received,
            Stripe("whsec_archive").sign(body, timestamp=NOW),
            body,
            "1",
        ),
        Stored(
            "stripe",
            "evt_10",
            received,
            Stripe("whsec_archive").sign(body, timestamp=NOW),
            body + b"!",
            "2",
        ),
        Stored("stripe", "evt_11", "yesterday", {}, body, "3"),  # type: ignore[arg-type]
    ]
    seen: list[tuple[str, Any]] = []

    def read(sink_url: str, after: str | None = None) -> Any:
        seen.append((sink_url, after))
        return iter(stored)

    monkeypatch.setitem(sys.modules, "relaywire.ingest", types.SimpleNamespace(read=read))
    code, out, _ = run_verify(capsys, "--config", str(config), "sqlite:///events.db")
    assert seen == [("sqlite:///events.db", None)]
    assert code == 1
    assert "cursor 2: stripe evt_10: InvalidSignatureError" in out
    assert "cursor 3: stripe evt_11: MalformedLine (received_at must be" in out
    stripe_row = next(row for row in out.splitlines() if row.startswith("stripe "))
    assert stripe_row.split()[1:] == ["3", "1", "2"]


def test_sink_url_without_relaywire_ingest(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "relaywire.ingest", None)  # importing it fails
    code, _, err = run_verify(
        capsys, "--config", str(config), "redis://127.0.0.1:6379/0?stream=hooks"
    )
    assert code == 2
    assert "relaywire.ingest" in err and "JSON lines" in err
