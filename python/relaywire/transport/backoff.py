"""Capped, jittered exponential backoff for reconnecting sockets.

The attempt counter only resets once a connection has stayed up for ``stable_after`` seconds, so
a server that accepts and then drops at once gets the same growing delays as one that refuses:
no reconnect storm. The first retry after a long-lived connection is immediate.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable


class Backoff:
    def __init__(
        self,
        *,
        initial: float = 0.5,
        maximum: float = 30.0,
        multiplier: float = 2.0,
        jitter: float = 0.2,
        stable_after: float = 5.0,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if initial <= 0 or maximum < initial or multiplier < 1 or not 0 <= jitter < 1:
            raise ValueError("invalid backoff parameters")
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
        self.jitter = jitter
        self.stable_after = stable_after
        self._rng = rng
        self._clock = clock
        self.attempts = 0
        self._connected_at: float | None = None

    def next_delay(self) -> float:
        """Seconds to wait before the next connection attempt (and count the attempt)."""
        k = self.attempts
        self.attempts += 1
        if k == 0:
            return 0.0
        base = min(self.maximum, self.initial * self.multiplier ** (k - 1))
        return base * (1.0 + self.jitter * (2.0 * self._rng() - 1.0))

    def connected(self) -> None:
        self._connected_at = self._clock()

    def disconnected(self) -> None:
        """A connection ended; reset the counter only if it had been stable."""
        if (
            self._connected_at is not None
            and self._clock() - self._connected_at >= self.stable_after
        ):
            self.attempts = 0
        self._connected_at = None

    def reset(self) -> None:
        self.attempts = 0
        self._connected_at = None
