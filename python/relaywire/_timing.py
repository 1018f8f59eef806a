"""Side-by-side timing used by the demo and by benches/: the best per-call time of each
function over interleaved rounds, so that both run under the same machine conditions."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence


def _calls_per_round(func: Callable[[], object], round_seconds: float) -> int:
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            func()
        elapsed = time.perf_counter() - start
        if elapsed >= round_seconds / 4 or calls >= 1 << 24:
            return max(1, int(calls * round_seconds / max(elapsed, 1e-9)))
        calls *= 4


def best_per_call(
    funcs: Sequence[Callable[[], object]], *, rounds: int = 5, round_seconds: float = 0.02
) -> list[float]:
    """Seconds per call of each function: the minimum over ``rounds`` interleaved rounds."""
    sizes = [_calls_per_round(func, round_seconds) for func in funcs]
    best = [float("inf")] * len(funcs)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            for index, (func, calls) in enumerate(zip(funcs, sizes, strict=True)):
                start = time.perf_counter_ns()
                for _ in range(calls):
                    func()
                per_call = (time.perf_counter_ns() - start) / calls / 1e9
                best[index] = min(best[index], per_call)
    finally:
        if gc_was_enabled:
            gc.enable()
    return best


def format_duration(seconds: float) -> str:
    """A short human duration: ns, us or ms."""
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} us"
    return f"{seconds * 1e3:.2f} ms"
