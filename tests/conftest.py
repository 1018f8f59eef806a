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
def emu() -> Iterator[Emulator]:
    """A fresh emulator on 127.0.0.1 and a free port, with the demo seeds (starts in ~40 ms)."""
    with Emulator() as emulator:
        yield emulator
