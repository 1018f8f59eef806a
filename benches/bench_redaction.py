"""What the credential redaction costs (relaywire.redaction), side by side in one process.

Run from the repository root::

    pip install -e '.[emulator]'
    python benches/bench_redaction.py [--rounds 9]

Rows
----
* ``filter, one record``: ``RedactingFilter.filter`` on the record httpx logs at INFO for a
  one-shot run (``HTTP Request: POST http://.../h/<token> "HTTP/1.1 200 OK"``), message
  formatted and masked. Informative (an absolute cost per emitted record).
* ``run_webhook, logging off``: ``daguito.run_webhook`` against the emulator (in its own
  process), root logger at WARNING as by default: the filter is installed but never runs
  (httpx does not build records at disabled levels). Baseline: the same with the filter removed
  from every logger. Target: within run-to-run noise (ratio ~1.0).
* ``run_webhook, httpx at INFO``: the same with the root logger at INFO and a handler that
  formats every record into memory: one httpx record per call goes through the filter. Baseline:
  the filter removed. Informative: the share of a call the filter costs when logging is on.
* ``streamed tokens``: a ``/stream 20000`` turn with the root logger at DEBUG; the number of
  records the filter saw during the turn. Zero: nothing is logged per token, so the filter costs
  a streamed token nothing.

Contenders alternate within each round; cells are medians of the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import daguito
from daguito import WebhookRunInput, WebhookStreamOptions, WebhookStreamSession, text_message
from relaywire import redaction

HERE = Path(__file__).parent


class _Memory(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)
        self.count += 1


def _filtered_loggers() -> list[logging.Logger]:
    loggers = [logging.getLogger(name) for name in logging.root.manager.loggerDict]
    return [logger for logger in loggers if redaction._FILTER in logger.filters]


def _set_filter(enabled: bool, loggers: list[logging.Logger]) -> None:
    for logger in loggers:
        if enabled:
            logger.addFilter(redaction._FILTER)
        else:
            logger.removeFilter(redaction._FILTER)


def _filter_row(rounds: int) -> tuple[str, float]:
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        'HTTP Request: %s %s "%s %d %s"',
        ("POST", "http://127.0.0.1:8750/h/sk_wh_demo", "HTTP/1.1", 200, "OK"),
        None,
    )
    redaction.register_secret("sk_wh_demo")
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(2000):
            fresh = logging.makeLogRecord(record.__dict__)
            redaction._FILTER.filter(fresh)
        samples.append((time.perf_counter() - start) / 2000)
    return "filter, one record", statistics.median(samples)


async def _per_call(run: Callable[[], Awaitable[object]], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        await run()
    return (time.perf_counter() - start) / calls


async def _run_webhook_rows(url: str, rounds: int, calls: int) -> list[tuple[str, float, float]]:
    run_input = WebhookRunInput(api_url=url, token="sk_wh_demo", input={"text": "x"})

    async def call() -> object:
        return await daguito.run_webhook(run_input)

    await _per_call(call, 50)  # warm the pool
    loggers = _filtered_loggers()
    memory = _Memory()
    rows = []
    for label, level in (("logging off", logging.WARNING), ("httpx at INFO", logging.INFO)):
        logging.root.setLevel(level)
        logging.root.addHandler(memory)
        without, with_filter = [], []
        for index in range(rounds):
            order = (False, True) if index % 2 == 0 else (True, False)
            for enabled in order:
                _set_filter(enabled, loggers)
                (with_filter if enabled else without).append(await _per_call(call, calls))
        _set_filter(True, loggers)
        logging.root.removeHandler(memory)
        rows.append(
            (
                f"run_webhook, {label}",
                statistics.median(without),
                statistics.median(with_filter),
            )
        )
    logging.root.setLevel(logging.WARNING)
    return rows


async def _records_per_turn(url: str) -> int:
    seen = 0
    original = redaction._FILTER.filter

    def counting(record: logging.LogRecord) -> bool:
        nonlocal seen
        seen += 1
        return original(record)

    memory = _Memory()
    opts = WebhookStreamOptions(api_url=url, webhook_id="wh_demo", token="sk_wh_demo")
    async with WebhookStreamSession(opts) as session:
        logging.root.setLevel(logging.DEBUG)
        logging.root.addHandler(memory)
        redaction._FILTER.filter = counting  # type: ignore[method-assign]
        try:
            text = await session.collect_text(text_message("/stream 20000"))
        finally:
            redaction._FILTER.filter = original  # type: ignore[method-assign]
            logging.root.removeHandler(memory)
            logging.root.setLevel(logging.WARNING)
    assert text.count(" ") == 20000
    return seen


def _format(seconds: float) -> str:
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3f} ms"
    return f"{seconds * 1e6:.2f} us"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=200, help="run_webhook calls per round")
    args = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, str(HERE / "_emulator_server.py"), "0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        name, per_record = _filter_row(args.rounds)
        rows = asyncio.run(_run_webhook_rows(url, args.rounds, args.calls))
        records = asyncio.run(_records_per_turn(url))
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.terminate()
        server.wait(10)
    print("| check | filter removed | filter installed | ratio (removed / installed) | target |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| {name} | | {_format(per_record)} | | info |")
    for label, without, with_filter in rows:
        target = "within noise" if "off" in label else "info"
        ratio = without / with_filter
        print(f"| {label} | {_format(without)} | {_format(with_filter)} | {ratio:.3f} | {target} |")
    turn = "streamed tokens: records filtered during a 20,000-token turn at DEBUG"
    print(f"| {turn} | | {records} | | 0 |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
