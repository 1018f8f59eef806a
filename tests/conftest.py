"""Shared test configuration."""

from __future__ import annotations

import os

from hypothesis import settings

# CI runs the property tests derandomized, so that a run's result depends only on the code;
# locally each run explores new examples.
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
