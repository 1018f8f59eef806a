"""Soak under faults: 1,000 Daguito stream sessions and 200 Linktor realtime sockets at once,
against the emulator with its fault injection on, for a bounded time.

    python benches/soak.py                    # 60 s (what CI runs)
    python benches/soak.py --duration 600     # the 10-minute soak
    python benches/soak.py --sessions 100 --sockets 20 --duration 20   # a small one

The server (``_soak_server.py``) runs in its own process: the emulator, with slow tokens, a
Linktor rate limit (429 + ``Retry-After``) and REST requests failing with 5xx every few seconds,
behind a chaos proxy that aborts a share of the live WebSocket connections every few seconds
(the clients see resets, close code 1006, and reconnect).

Load, in this process (one event loop):

* ``--sessions`` Daguito ``WebhookStreamSession``s, each running turns back to back with a
  pause: ``/stream N`` streams the numbered tokens ``t0 t1 ... t{N-1}``, read with
  ``run_turn``. A turn during which the session reconnected may have lost the tokens the
  server sent while no socket was attached (the protocol is pub/sub); such a turn is
  abandoned and the session replaced (a new session key, so that nothing of the old run
  reaches the next turn).
* ``--sockets`` ``LinktorWebSocket``s, spread over ``--conversations`` conversations; a
  producer sends numbered messages to each conversation through ``LinktorAsyncClient``
  (retrying the 5xx and 429 answers, with an idempotency key per message).

Checks (the run fails when one does not hold):

* every turn that ran on one connection has exactly the expected text; a turn cut by a
  reconnect has no token twice and none out of order;
* realtime: no socket receives a message twice or out of order, and every message reaches
  every socket subscribed to its conversation, except the ones sent while that socket was
  down: between the last message one connection delivered and the first of the next (a
  message missing inside what one connection delivered is lost). The sockets disconnect once
  the last message reached every connected one (``--drain`` seconds at most): late is not lost;
* REST: every message sent once is stored exactly once (the conversation is listed at the
  end), and none failed after the retries;
* connection attempts stay bounded: in every second, at most the connections dropped in
  that and the previous second plus the sessions the soak itself opened, plus 20; and over
  the run at most 1.2 attempts per connection the soak needed;
* RSS of this process is flat over the last half of the run (growth under 5 %);
* no error is logged and no exception goes unhandled (logging at ERROR, asyncio's
  exception handler, unraisable exceptions).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import logging
import math
import os
import random
import resource
import signal
import subprocess
import sys
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _soak_server import print_tasks

from daguito import WebhookStreamOptions, WebhookStreamSession, text_message
from daguito.errors import DaguitoError
from linktor import LinktorAsyncClient
from linktor.utils.errors import LinktorError
from linktor.websocket import LinktorWebSocket, MessageEvent

HERE = Path(__file__).resolve().parent
PAGE = os.sysconf("SC_PAGE_SIZE")
WEBHOOK_TOKEN = "sk_wh_demo"
LINKTOR_KEY = "lk_demo"


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


# -- what goes wrong, collected ------------------------------------------------------------------


class Problems(logging.Handler):
    """Errors logged anywhere, exceptions nobody handled, and failed checks."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.logged: list[str] = []
        self.unhandled: list[str] = []
        self.failed: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.logged.append(f"{record.name}: {record.getMessage()}"[:300])

    def loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        self.unhandled.append(f"{context.get('message')}: {context.get('exception')!r}"[:300])

    def unraisable(self, unraisable: Any) -> None:
        self.unhandled.append(f"unraisable: {unraisable.exc_value!r}"[:300])

    def fail(self, text: str) -> None:
        if len(self.failed) < 1000:
            self.failed.append(text)


# -- Daguito sessions ----------------------------------------------------------------------------


@dataclass
class Turns:
    exact: int = 0
    interrupted: int = 0  # cut by a reconnect: no duplicate, no reorder, then abandoned
    wrong: int = 0  # a failure
    tokens: int = 0
    sessions_opened: int = 0
    connect_failures: int = 0
    flows_completed: int = 0
    opened_at: Counter[int] = field(default_factory=Counter)

    def completed(self, event: object) -> None:
        self.flows_completed += 1

    def settle(self, cut: bool, problems: Problems, failure: str) -> None:
        """A turn that did not give its exact text: cut by a reconnect, or a failure."""
        if cut:
            self.interrupted += 1
        else:
            self.wrong += 1
            problems.fail(failure)


def check_interrupted(text: str, count: int) -> bool:
    """A cut turn's text: numbered tokens, each at most once, in order."""
    words = text.split()
    try:
        indexes = [int(word[1:]) for word in words if word.startswith("t")]
    except ValueError:
        return False
    if len(indexes) != len(words):
        return False
    return all(0 <= i < count for i in indexes) and all(
        a < b for a, b in itertools.pairwise(indexes)
    )


async def daguito_session(
    number: int, config: argparse.Namespace, proxy: str, turns: Turns, problems: Problems, run: Run
) -> None:
    rng = random.Random(number)
    count = config.tokens
    expected = "".join(f"t{i} " for i in range(count))
    await asyncio.sleep(rng.uniform(0, config.ramp))
    while not run.stopping:
        options = WebhookStreamOptions(
            api_url=proxy,
            webhook_id="wh_demo",
            token=WEBHOOK_TOKEN,
            max_reconnect_delay=5.0,
            ping_interval=None,
        )
        session = WebhookStreamSession(options)
        # A listener, so that the turns' events are handed on instead of kept in the
        # session's backlog for an events() iterator that never comes (up to 65,536 each).
        session.on("flow.completed", turns.completed)
        turns.sessions_opened += 1
        turns.opened_at[int(time.time())] += 1
        try:
            await asyncio.wait_for(session.connect(), 30)
        except (DaguitoError, asyncio.TimeoutError):
            turns.connect_failures += 1
            await session.close()
            await asyncio.sleep(rng.uniform(0.5, 1.5))
            continue
        try:
            while not run.stopping:
                before = session.connections
                task = asyncio.ensure_future(session.run_turn(text_message(f"/stream {count}")))
                cut_at: float | None = None
                started = time.monotonic()
                while not task.done():
                    await asyncio.wait({task}, timeout=0.25)
                    now = time.monotonic()
                    if session.connections != before or not session.is_open:
                        cut_at = cut_at or now
                        if now - cut_at > 3.0:
                            break
                    elif now - started > config.turn_timeout:
                        break
                cut = cut_at is not None or session.connections != before
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, DaguitoError):
                        await task
                    turns.settle(cut, problems, f"session {number}: a turn stalled")
                    break
                try:
                    text = task.result().text
                except DaguitoError as err:
                    turns.settle(cut, problems, f"session {number}: turn failed: {err!r}")
                    break
                if text == expected:
                    turns.exact += 1
                    turns.tokens += count
                    await asyncio.sleep(rng.uniform(*config.think))
                    continue
                # A cut turn may miss tokens, never repeat or reorder them.
                fair = cut and check_interrupted(text, count)
                turns.settle(fair, problems, f"session {number}: wrong text {text[:120]!r}")
                if cut:
                    break  # a new session, so that nothing of this run reaches the next turn
                await asyncio.sleep(rng.uniform(*config.think))
        finally:
            await session.close()


# -- Linktor realtime ----------------------------------------------------------------------------


@dataclass
class Socket:
    """One realtime socket's record, in memory that does not grow with the run's length
    beyond a bit per message and a pair of times per reconnect."""

    conversation: str
    received: bytearray = field(default_factory=bytearray)  # a bit per message number
    connected: bool = False  # whether its client is connected now
    welcomed_at: float = 0.0  # when its current connection was welcomed
    duplicates: int = 0
    reordered: int = 0
    first_welcome: float | None = None
    reconnects: int = 0
    malformed: int = 0  # frames the client could not read (its malformed_frames)
    #: Per connection, the first and last message numbers it delivered ([] if none); a
    #: connection seen to end starts an empty one.
    segments: list[list[int]] = field(default_factory=list)

    def got(self, number: int) -> bool:
        byte = number >> 3
        return byte < len(self.received) and bool(self.received[byte] >> (number & 7) & 1)

    def mark(self, number: int) -> None:
        byte = number >> 3
        if byte >= len(self.received):
            self.received.extend(bytes(byte + 1 - len(self.received)))
        self.received[byte] |= 1 << (number & 7)


def message_number(text: str | None, conversation: str) -> int | None:
    """The number of a message the producer sent to ``conversation``, from its text."""
    prefix = f"soak {conversation} "
    if isinstance(text, str) and text.startswith(prefix):
        with contextlib.suppress(ValueError):
            return int(text[len(prefix) :])
    return None


async def linktor_socket(
    state: Socket, proxy: str, config: argparse.Namespace, problems: Problems, run: Run
) -> None:
    # Handlers see every event; nobody iterates, so the iteration queue keeps one.
    ws = LinktorWebSocket(
        f"{proxy}/linktor", api_key=LINKTOR_KEY, max_reconnect_delay=5.0, max_queue=1
    )

    @ws.on_connected
    def welcome(event: Any) -> None:
        state.welcomed_at = time.time()
        if state.first_welcome is None:
            state.first_welcome = state.welcomed_at
        else:
            state.reconnects += 1
        state.segments.append([])

    @ws.on_message
    def message(event: MessageEvent) -> None:
        text = event.message.text if event.message is not None else None
        number = message_number(text, state.conversation)
        if number is None:
            return
        if state.got(number):
            state.duplicates += 1
            problems.fail(f"socket on {state.conversation}: message {number} twice")
            return
        state.mark(number)
        segment = state.segments[-1]
        if not segment:
            segment += [number, number]
        elif number < segment[1]:
            state.reordered += 1
            problems.fail(f"socket on {state.conversation}: message {number} out of order")
        else:
            segment[1] = number

    await asyncio.sleep(random.Random(state.conversation).uniform(0, config.ramp))
    while not run.stopping:
        try:
            await ws.subscribe(state.conversation)
            await ws.connect()
            break
        except LinktorError:
            await asyncio.sleep(1.0)
    while not run.stopped.is_set():
        connected = ws.is_connected
        if state.connected and not connected:
            # The connection ended (a drop): a new segment, so that what it did not deliver
            # counts as sent while the socket was down, even if no reconnect follows in time.
            state.segments.append([])
        state.connected = connected
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(run.stopped.wait(), 0.25)
    await ws.disconnect()
    state.malformed = ws.malformed_frames


@dataclass
class Sent:
    #: Per conversation, when the server created each message number (NaN: the POST failed).
    at: dict[str, array[float]] = field(default_factory=dict)
    failed: int = 0
    statuses: Counter[int] = field(default_factory=Counter)  # every HTTP answer, retries too

    async def count(self, response: httpx.Response) -> None:
        self.statuses[response.status_code] += 1


async def producer(
    client: LinktorAsyncClient,
    conversation: str,
    config: argparse.Namespace,
    sent: Sent,
    problems: Problems,
    run: Run,
) -> None:
    await asyncio.sleep(config.ramp + 2)
    number = 0
    rng = random.Random(conversation)
    times = sent.at.setdefault(conversation, array("d"))
    while not run.stopping:
        key = f"soak-{run.token}-{conversation}-{number}"
        try:
            message = await client.conversations.send_text(
                conversation, f"soak {conversation} {number}", idempotency_key=key
            )
            times.append(message.created_at.timestamp())  # the server's clock
        except LinktorError as err:
            times.append(math.nan)
            sent.failed += 1
            problems.fail(f"send to {conversation} failed after retries: {err!r}")
        number += 1
        await asyncio.sleep(rng.uniform(0.5, 1.5) * config.message_interval)


async def stored_messages(
    client: LinktorAsyncClient, conversation: str
) -> Counter[tuple[str, int]]:
    """The producer's messages stored in ``conversation`` (the listing is retried whole while
    the injected faults outlast the client's retries)."""
    last: LinktorError | None = None
    for attempt in range(10):
        stored: Counter[tuple[str, int]] = Counter()
        try:
            async for message in client.conversations.iter_messages(conversation, limit=100):
                number = message_number(message.text, conversation)
                if number is not None:
                    stored[(conversation, number)] += 1
        except LinktorError as err:
            last = err
            await asyncio.sleep(1.0 + attempt)
            continue
        return stored
    raise RuntimeError(f"could not list the messages of {conversation}: {last!r}")


def drained(socket: Socket, sent: Sent) -> bool:
    """Whether ``socket`` has nothing more to wait for: it got the last message the server
    created in its conversation, or it is down, or its connection began after that message."""
    times = sent.at.get(socket.conversation, ())
    for number in range(len(times) - 1, -1, -1):
        if not math.isnan(times[number]):  # the last one whose POST was answered
            return socket.got(number) or not socket.connected or socket.welcomed_at > times[number]
    return True


def missed_while_down(socket: Socket, number: int, created: float) -> bool:
    """Whether a message the socket did not get fell in a gap between its connections: after
    the last message one connection delivered and before the first of the next that delivered
    any. A message inside a connection's range was lost on a live connection."""
    ranges = [segment for segment in socket.segments if segment]
    for segment in ranges:
        if segment[0] < number < segment[1]:
            return False
    for before, after in itertools.pairwise(ranges):
        if before[1] < number < after[0]:
            return True
    if ranges and number > ranges[-1][1]:
        # After the last delivered one: only if that connection ended since (the socket
        # reconnected, or was down when the run ended).
        return socket.segments[-1] is not ranges[-1]
    if ranges and number < ranges[0][0]:
        # Before the first delivered one: only if sent before it was subscribed, or if the
        # connections before the first that delivered anything dropped.
        first = socket.first_welcome or 0.0
        return created < first + 1.0 or socket.segments[0] is not ranges[0]
    return not ranges


# -- the run -------------------------------------------------------------------------------------


class Run:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.stopping = False
        self.stopped = asyncio.Event()
        self.token = f"{os.getpid()}-{int(time.time())}"


async def soak(
    config: argparse.Namespace, urls: dict[str, str], problems: Problems
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(problems.loop_exception)
    run = Run()
    turns = Turns()
    sent = Sent()
    conversations: list[str] = []
    http = httpx.AsyncClient(event_hooks={"response": [sent.count]}, timeout=30)
    async with (
        http,
        LinktorAsyncClient(
            base_url=f"{urls['url']}/linktor",
            api_key=LINKTOR_KEY,
            max_retries=8,
            retry_delay=0.2,
            http_client=http,
        ) as client,
    ):
        async for found in client.conversations.iter(limit=50):
            conversations.append(found.id)
            if len(conversations) == config.conversations:
                break
        sockets = [Socket(conversations[i % len(conversations)]) for i in range(config.sockets)]
        tasks = [
            asyncio.ensure_future(daguito_session(i, config, urls["proxy"], turns, problems, run))
            for i in range(config.sessions)
        ]
        tasks += [
            asyncio.ensure_future(linktor_socket(s, urls["proxy"], config, problems, run))
            for s in sockets
        ]
        tasks += [
            asyncio.ensure_future(producer(client, c, config, sent, problems, run))
            for c in conversations
        ]
        samples: list[tuple[float, int, int]] = []  # (second, RSS, exact turns)
        deadline = run.started + config.duration
        census: Counter[str] | None = None
        while time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            gc.collect()
            samples.append((time.monotonic() - run.started, rss(), turns.exact))
            if config.objects and census is None and samples[-1][0] >= config.duration / 2:
                census = Counter(type(o).__name__ for o in gc.get_objects())
            if config.verbose:
                print(
                    f"  {samples[-1][0]:5.0f} s  RSS {samples[-1][1] / 2**20:6.1f} MiB  "
                    f"turns {turns.exact} exact, {turns.interrupted} cut, {turns.wrong} wrong",
                    file=sys.stderr,
                    flush=True,
                )
        if census is not None:
            now = Counter(type(o).__name__ for o in gc.get_objects())
            growth = {k: now[k] - census[k] for k in now if now[k] - census[k] > 100}
            print(f"objects grown over the last half: {growth}", file=sys.stderr)
        run.stopping = True

        def phase(text: str) -> None:
            if config.verbose:
                print(f"  {time.monotonic() - run.started:5.0f} s  {text}", file=sys.stderr)

        # Producers send their last message; sessions finish their turn. The sockets stay
        # until every connected one has the last message of its conversation (a loaded
        # machine may deliver seconds late; late is not lost), or the drain time is up.
        phase("winding down: the last messages are sent, sessions finish their turn")
        producers = tasks[config.sessions + len(sockets) :]
        await asyncio.wait(producers, timeout=config.turn_timeout + 10)
        drain_started = time.monotonic()
        while time.monotonic() - drain_started < config.drain and not all(
            drained(socket, sent) for socket in sockets
        ):
            await asyncio.sleep(0.1)
        drain_time = time.monotonic() - drain_started
        phase(f"realtime drained in {drain_time:.1f} s; sockets disconnect")
        run.stopped.set()
        done, pending = await asyncio.wait(tasks, timeout=config.turn_timeout + 10)
        for task in pending:
            task.cancel()
        if pending:
            problems.fail(f"{len(pending)} tasks did not stop within the grace period")
            await asyncio.wait(pending, timeout=10)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                problems.unhandled.append(f"task failed: {task.exception()!r}")
        # REST: what was sent is stored exactly once.
        phase(f"{len(pending)} tasks cancelled; listing the conversations")
        stored: Counter[tuple[str, int]] = Counter()
        for conversation in conversations:
            stored.update(await stored_messages(client, conversation))
        phase("listed")
    for conversation, times in sent.at.items():
        for number, at in enumerate(times):
            copies = stored[(conversation, number)]
            # A message whose POST never answered (it failed) may be stored once, never twice.
            if copies > 1 or (copies == 0 and not math.isnan(at)):
                problems.fail(f"message {number} of {conversation} stored {copies} times")
    sent_keys = {(c, n) for c, times in sent.at.items() for n in range(len(times))}
    for key in set(stored) - sent_keys:
        problems.fail(f"message {key} stored but never sent")
    # Realtime: every message at every subscribed socket, except in the gaps between its
    # connections (what the server sent while the socket was down).
    lost = excused = delivered = 0
    for socket in sockets:
        for number, at in enumerate(sent.at.get(socket.conversation, ())):
            if math.isnan(at):
                continue  # never sent
            if socket.got(number):
                delivered += 1
            elif missed_while_down(socket, number, at):
                excused += 1
            else:
                lost += 1
                near = [
                    seg for seg in socket.segments if seg and seg[0] - 5 <= number <= seg[1] + 5
                ]
                problems.fail(
                    f"socket on {socket.conversation} never got message {number} (its connections"
                    f" delivered {near}; {socket.reconnects} reconnects)"
                )
    return {
        "turns": turns,
        "sent": sent,
        "sockets": sockets,
        "samples": samples,
        "realtime": {
            "delivered": delivered,
            "excused": excused,
            "lost": lost,
            "drained": drain_time,
        },
    }


async def bounded(work: Any, limit: float, server: subprocess.Popen[str]) -> Any:
    """``work`` within ``limit`` seconds; past it, print where every task of both processes is
    waiting (so that a hang says where it hangs), then cancel it."""
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=limit)
    if not done:
        print("the soak's tasks:", file=sys.stderr)
        print_tasks(sys.stderr)
        server.send_signal(signal.SIGUSR1)  # the server prints its own
        await asyncio.sleep(1.0)
        task.cancel()
        await asyncio.wait({task}, timeout=10)
        raise asyncio.TimeoutError
    return task.result()


def start_server(config: argparse.Namespace) -> tuple[subprocess.Popen[str], dict[str, str]]:
    server_config = {
        "token_delay": config.token_delay,
        "rate_limit": config.rate_limit,
        "rate_window": 1.0,
        "fault_interval": config.fault_interval,
        "drop_interval": config.drop_interval,
        "drop_fraction": config.drop_fraction,
        "flap_seconds": config.flap_seconds,
    }
    server = subprocess.Popen(
        [sys.executable, str(HERE / "_soak_server.py"), json.dumps(server_config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    line = server.stdout.readline()
    if not line:
        server.wait(10)
        raise SystemExit("soak: the server did not start")
    return server, json.loads(line)


def stop_server(server: subprocess.Popen[str]) -> dict[str, Any]:
    """Close its stdin (it stops and prints its counts); kill it if it does not end."""
    try:
        out, _ = server.communicate(input="", timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.communicate()
        return {}
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def report(
    config: argparse.Namespace, result: dict[str, Any], proxy: dict[str, Any], problems: Problems
) -> int:
    turns: Turns = result["turns"]
    sent: Sent = result["sent"]
    samples: list[tuple[float, int, int]] = result["samples"]
    attempts = {int(k): v for k, v in proxy.get("attempts", {}).items()}
    drops = {int(k): v for k, v in proxy.get("drops", {}).items()}
    flaps = {int(k): v for k, v in proxy.get("flaps", {}).items()}
    opened = turns.opened_at
    # Each connection the soak needed (a session opened, a socket opened, a connection the
    # proxy dropped) is worth a few attempts: the immediate retry and the backed-off ones
    # while the proxy flaps. In every 10 s window, attempts stay within 4 of those (counting
    # the drops of the 6 s before, the longest backoff) plus 30; a storm is hundreds.
    first, last = min(attempts, default=0), max(attempts, default=0)
    storm = []
    for start in range(first, last + 1):
        window = range(start, start + 10)
        made = sum(attempts.get(t, 0) for t in window)
        needed = sum(drops.get(t, 0) for t in range(start - 6, start + 10))
        needed += sum(opened.get(t, 0) for t in window)
        needed += config.sockets if start <= first + config.ramp + 2 else 0
        if made > 4 * needed + 30:
            storm.append((start - first, made, needed))
    needed_total = turns.sessions_opened + config.sockets + sum(drops.values())
    ratio = sum(attempts.values()) / needed_total if needed_total else 0.0
    per_second = [attempts.get(t, 0) for t in range(first, last + 1)]
    if storm:
        problems.fail(f"connection storm: (second, attempts, needed) in 10 s {storm[:5]}")
    if ratio > 3.0:
        problems.fail(f"{sum(attempts.values())} connection attempts for {needed_total} needed")
    half = [s for s in samples if s[0] >= config.duration / 2]
    growth = (half[-1][1] - half[0][1]) / half[0][1] if len(half) > 1 else 0.0
    if growth >= 0.05:
        problems.fail(f"RSS grew {growth:.1%} over the last half")
    if turns.exact == 0:
        problems.fail("no turn completed")
    realtime = result["realtime"]
    if realtime["delivered"] == 0:
        problems.fail("no realtime message was delivered")
    if not sent.statuses[429] or not any(c >= 500 for c in sent.statuses):
        problems.fail(f"the REST faults did not happen: {dict(sent.statuses)}")
    sockets = result["sockets"]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rows = [
        ("duration", f"{config.duration:.0f} s"),
        ("Daguito sessions / Linktor sockets", f"{config.sessions} / {config.sockets}"),
        (
            "turns: exact / cut by a drop (no duplicate, in order) / wrong",
            f"{turns.exact:,} / {turns.interrupted:,} / {turns.wrong}",
        ),
        ("tokens in exact turns", f"{turns.tokens:,} ({turns.tokens / config.duration:,.0f}/s)"),
        ("Daguito sessions opened (first + replacing cut ones)", f"{turns.sessions_opened:,}"),
        (
            "realtime messages: sent / delivered to sockets / missed while down / lost",
            f"{sum(map(len, sent.at.values())):,} / {realtime['delivered']:,} / "
            f"{realtime['excused']:,} / "
            f"{realtime['lost']}",
        ),
        (
            "realtime: the last messages reached every connected socket after",
            f"{realtime['drained']:.1f} s (at most {config.drain:g})",
        ),
        (
            "realtime duplicates / out of order",
            f"{sum(s.duplicates for s in sockets)} / {sum(s.reordered for s in sockets)}",
        ),
        (
            "realtime reconnects / frames the client could not read",
            f"{sum(s.reconnects for s in sockets):,} / {sum(s.malformed for s in sockets)}",
        ),
        (
            "REST answers: 2xx / 429 / 5xx (retried) / sends failed after retries",
            f"{sum(n for c, n in sent.statuses.items() if c < 300):,} / {sent.statuses[429]:,} / "
            f"{sum(n for c, n in sent.statuses.items() if c >= 500):,} / {sent.failed}",
        ),
        (
            "connections dropped by the proxy / accepted and dropped at once",
            f"{sum(drops.values()):,} / {sum(flaps.values()):,}",
        ),
        (
            "connection attempts: total / per second mean / max",
            f"{sum(per_second):,} / {sum(per_second) / max(1, len(per_second)):.1f} / "
            f"{max(per_second, default=0)}",
        ),
        ("attempts per connection needed", f"{ratio:.2f}"),
        (
            "RSS at half-time / at the end",
            f"{half[0][1] / 2**20:.1f} / {half[-1][1] / 2**20:.1f} MiB ({growth:+.1%})"
            if len(half) > 1
            else "-",
        ),
        ("client CPU", f"{usage.ru_utime + usage.ru_stime:.0f} s"),
        (
            "errors logged / unhandled exceptions",
            f"{len(problems.logged)} / {len(problems.unhandled)}",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"soak, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    failures = (
        problems.failed
        + [f"logged: {m}" for m in problems.logged]
        + [f"unhandled: {m}" for m in problems.unhandled]
    )
    if failures:
        print(f"FAIL ({len(failures)} problems):")
        for line in failures[:30]:
            print(f"  {line}")
        return 1
    print("PASS")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--tokens", type=int, default=20, help="tokens per turn")
    parser.add_argument("--token-delay", type=float, default=0.05, help="slow tokens (s)")
    parser.add_argument("--think", type=float, nargs=2, default=(1.0, 3.0), help="pause range")
    parser.add_argument("--message-interval", type=float, default=1.0)
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=None,
        help="Linktor requests per second (default: 1.2 times the producer's mean rate, so that"
        " its bursts get 429s)",
    )
    parser.add_argument("--fault-interval", type=float, default=4.0, help="REST 5xx (s)")
    parser.add_argument("--drop-interval", type=float, default=3.0)
    parser.add_argument("--drop-fraction", type=float, default=0.05)
    parser.add_argument("--flap-seconds", type=float, default=1.0)
    parser.add_argument("--ramp", type=float, default=5.0, help="seconds to open everything")
    parser.add_argument("--turn-timeout", type=float, default=30.0)
    parser.add_argument(
        "--drain",
        type=float,
        default=20.0,
        help="seconds the sockets get to receive the last messages before they disconnect",
    )
    parser.add_argument("--verbose", action="store_true", help="a line per second on stderr")
    parser.add_argument("--objects", action="store_true", help="print which objects grew")
    config = parser.parse_args()
    if config.rate_limit is None:
        config.rate_limit = max(2, int(1.2 * config.conversations / config.message_interval))

    problems = Problems()
    logging.getLogger().addHandler(problems)
    sys.unraisablehook = problems.unraisable
    server, urls = start_server(config)
    # Bounded: whatever happens, the run ends a few minutes after its duration.
    limit = config.duration + 240
    try:
        result = asyncio.run(bounded(soak(config, urls, problems), limit, server))
    except asyncio.TimeoutError:
        print(f"FAIL: the soak did not finish within {limit:.0f} s")
        return 1
    finally:
        proxy = stop_server(server)
    return report(config, result, proxy, problems)


if __name__ == "__main__":
    sys.exit(main())
