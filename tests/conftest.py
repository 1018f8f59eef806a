"""Shared test configuration."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from relaywire.emulator import Emulator

# CI runs the property tests derandomized, so that a run's result depends only on the code;
# locally each run explores new examples.
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def emu(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A fresh emulator on 127.0.0.1 and a free port, with the demo seeds (starts in ~40 ms).

    Its Linktor server dialect runs the default ``"code"`` profile; a test marked with
    ``_emulator_support.DOCUMENTED`` gets the ``"documented"`` one (``emu`` parametrized
    indirectly)."""
    profile = getattr(request, "param", "code")
    with Emulator(linktor_server_profile=profile) as emulator:
        yield emulator
