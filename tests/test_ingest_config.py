"""Sources from TOML and as objects: every mistake is a clear IngestConfigError that names the
source and the key and never shows a secret; the scheme registry takes a new scheme in one
entry; relaywire.ingest never imports the client packages."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
from _ingest_support import STANDARD_SECRET

from relaywire.ingest import (
    SCHEMES,
    IngestApp,
    IngestConfigError,
    Receiver,
    Scheme,
    Source,
    load_config,
    parse_config,
    read,
    register_scheme,
)
from relaywire.sources import header

GOOD = """
sink = "sqlite:///events.db"

[[sources]]
name = "linktor"
path = "/hooks/linktor"
scheme = "linktor"
secrets = ["lk_old", "lk_new"]

[[sources]]
name = "std"
path = "/hooks/std"
scheme = "standard"
secrets_env = "STD_WEBHOOK_SECRETS"
tolerance = 60
max_body = 65536
id = "header:webhook-id"

[[sources]]
name = "github-like"
path = "/hooks/gh"
scheme = "hmac"
secrets = ["s"]
header = "X-Hub-Signature-256"
prefix = "sha256="
encoding = "hex"
id = "header:X-GitHub-Delivery"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ingest.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_full_file_parses(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.sink == "sqlite:///events.db"
    linktor, std, generic = config.sources
    assert (linktor.name, linktor.path, linktor.scheme) == ("linktor", "/hooks/linktor", "linktor")
    assert tuple(linktor.secrets) == ("lk_old", "lk_new")
    assert (linktor.tolerance, linktor.max_body, linktor.id) == (None, 1024 * 1024, None)
    assert (std.secrets_env, std.tolerance, std.max_body, std.id) == (
        "STD_WEBHOOK_SECRETS",
        60,
        65536,
        "header:webhook-id",
    )
    assert dict(generic.options) == {
        "header": "X-Hub-Signature-256",
        "prefix": "sha256=",
        "encoding": "hex",
    }


def test_secrets_never_show_in_reprs_or_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    source = Source("s", "/s", "standard", secrets=["whsec_dG9wLXNlY3JldA=="])
    assert "dG9wLXNlY3JldA" not in repr(source)
    app = IngestApp([source], "sqlite:///unused.db")
    assert "dG9wLXNlY3JldA" not in repr(app)
    bad = Source("s", "/s", "standard", secrets=["whsec_!!not-base64-secret!!"])
    with pytest.raises(IngestConfigError) as error:
        IngestApp([bad], "sqlite:///unused.db")
    assert "not-base64-secret" not in str(error.value)
    assert "source 's': a secret is invalid" in str(error.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sources = []", "at least one [[sources]] table is required"),
        (
            "snk = 'x'\n[[sources]]\nname='a'\npath='/a'\nscheme='linktor'\nsecrets=['s']",
            "unknown top-level key(s) snk",
        ),
        ("[[sources]]\npath='/a'\nscheme='linktor'", "sources[0]: name is required"),
        ("[[sources]]\nname='a'\nscheme='linktor'", "sources[0] (a): path is required"),
        (
            "[[sources]]\nname='a'\npath='/a'\nscheme='nope'\nsecrets=['s']",
            "scheme 'nope' is unknown; known: discord, github, hmac, linear, linktor, meta",
        ),
        (
            "[[sources]]\nname='a'\npath='/a'\nscheme='linktor'\nsecret=['s']",
            "unknown key(s) secret",
        ),
        (
            "[[sources]]\nname='a'\npath='/a'\nscheme='linktor'",
            "give secrets = [...] or secrets_env",
        ),
        (
            "[[sources]]\nname='a'\npath='/a'\nscheme='linktor'\nsecrets='s'",
            "secrets must be a list of strings",
        ),
        (
            "[[sources]]\nname='a'\npath='/a'\nscheme='linktor'\nsecrets=['']",
            "secrets must be a list of non-empty strings",
        ),
        (
            "[[sources]]\nname='a b'\npath='/a'\nscheme='linktor'\nsecrets=['s']",
            "source name 'a b' must be 1-64 letters",
        ),
        (
            "[[sources]]\nname='a'\npath='a'\nscheme='linktor'\nsecrets=['s']",
            "path must start with '/'",
        ),
        (
            "[[sources]]\nname='a'\npath='/health'\nscheme='linktor'\nsecrets=['s']",
            "path /health is reserved",
        ),
        (
            "[[sources]]\nname='a'\npath='/a'\nscheme='linktor'\nsecrets=['s']\ntolerance=0",
            "tolerance must be seconds",
        ),
        (
            "[[sources]]\nname='a'\npath='/a'\nscheme='linktor'\nsecrets=['s']\nmax_body=true",
            "max_body must be bytes",
        ),
        (
            "[[sources]]\nname='a'\npath='/a'\nscheme='linktor'\nsecrets=['s']\nid='json:id'",
            'id must be "body:<key>", "header:<name>" or "sha256"',
        ),
        (
            "[[sources]]\nname='a'\npath='/a'\nscheme='hmac'\nsecrets=['s']",
            "scheme 'hmac' needs header",
        ),
        (
            "[[sources]]\nname='a'\npath='/a'\nscheme='hmac'\nsecrets=['s']\nheader=1",
            "header must be a str",
        ),
        (
            "[[sources]]\nname='a'\npath='/a'\nscheme='linktor'\nsecrets=['s']\nheader='x'",
            "unknown key(s) header",
        ),
        (
            "[[sources]]\nname='a'\npath='/a'\nscheme='linktor'\nsecrets=['s']\n[[sources]]\nname='a'\npath='/b'\nscheme='linktor'\nsecrets=['s']",
            "source name 'a' is used twice",
        ),
        (
            "[[sources]]\nname='a'\npath='/a'\nscheme='linktor'\nsecrets=['s']\n[[sources]]\nname='b'\npath='/a'\nscheme='linktor'\nsecrets=['s']",
            "path /a is used by two sources",
        ),
        ("[[sources]\nname='a'", "not valid TOML"),
    ],
)
def test_each_mistake_is_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(IngestConfigError, match=re.escape(message)):
        load_config(write(tmp_path, text))


def test_unreadable_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(IngestConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe")
    with pytest.raises(IngestConfigError, match="not valid TOML"):
        load_config(tmp_path / "bin.toml")


def test_secrets_env_must_be_set_and_not_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    source = Source("a", "/a", "linktor", secrets_env="LK_SECRETS")
    monkeypatch.delenv("LK_SECRETS", raising=False)
    with pytest.raises(IngestConfigError, match="environment variable LK_SECRETS is not set"):
        IngestApp([source], "sqlite:///unused.db")
    monkeypatch.setenv("LK_SECRETS", " , ")
    with pytest.raises(IngestConfigError, match="variable LK_SECRETS is empty"):
        IngestApp([source], "sqlite:///unused.db")
    monkeypatch.setenv("LK_SECRETS", "one, two ,three")
    assert source.resolved_secrets() == ("one", "two", "three")
    both = Source("b", "/b", "linktor", secrets=["zero"], secrets_env="LK_SECRETS")
    assert both.resolved_secrets() == ("zero", "one", "two", "three")


def test_python_objects_are_checked_like_the_file() -> None:
    with pytest.raises(IngestConfigError, match="at least one source"):
        IngestApp([], "sqlite:///unused.db")
    with pytest.raises(IngestConfigError, match="sources must be Source objects"):
        IngestApp([{"name": "a"}], "sqlite:///unused.db")  # type: ignore[list-item]
    with pytest.raises(IngestConfigError, match='encoding must be "hex" or "base64"'):
        IngestApp(
            [Source("a", "/a", "hmac", secrets=["s"], options={"header": "x", "encoding": "b32"})],
            "sqlite:///unused.db",
        )
    assert parse_config(
        {"sources": [{"name": "a", "path": "/a", "scheme": "linktor", "secrets": ["s"]}]}
    )


def test_a_new_scheme_plugs_in_with_one_registry_entry(tmp_path: Path) -> None:
    """A provider that sends the shared secret itself in a header (the simplest scheme)."""

    def build(source: Source, secrets: tuple[str, ...]) -> object:
        allowed = {s.encode() for s in secrets}

        def check(body: bytes, headers: list[tuple[bytes, bytes]]) -> str | None:
            return None if header(headers, b"x-token") in allowed else "wrong token"

        return check

    register_scheme(Scheme("token-test", build, default_id="header:x-event-id"))  # type: ignore[arg-type]
    try:
        db = f"sqlite:///{tmp_path}/events.db"
        config = parse_config(
            {"sources": [{"name": "t", "path": "/t", "scheme": "token-test", "secrets": ["tok"]}]}
        )
        with Receiver(config.sources, db) as receiver:
            ok = httpx.post(
                receiver.url + "/t", content=b"x", headers={"x-token": "tok", "x-event-id": "e1"}
            )
            bad = httpx.post(
                receiver.url + "/t", content=b"x", headers={"x-token": "no", "x-event-id": "e2"}
            )
        assert (ok.status_code, bad.status_code) == (200, 401)
        assert [d.id for d in read(db)] == ["e1"]
    finally:
        SCHEMES.pop("token-test")


def test_relaywire_ingest_never_imports_the_client_packages() -> None:
    code = (
        "import sys, relaywire.ingest, relaywire.ingest.sinks.sqlite, "
        "relaywire.ingest.sinks.redis, relaywire.ingest.sinks.jetstream, relaywire.cli.ingest; "
        "from relaywire.ingest._server import app_from_environment; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('daguito', 'linktor')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_standard_scheme_reads_the_secret_as_given(tmp_path: Path) -> None:
    assert load_config(
        write(
            tmp_path,
            f"[[sources]]\nname='s'\npath='/s'\nscheme='standard'\nsecrets=['{STANDARD_SECRET}']",
        )
    ).sources[0].secrets == (STANDARD_SECRET,)
