"""``daguito.emitter.Emitter``: daguito-sdk's semantics, async listeners (bug B17), and the
copy-on-write listener tuples that keep ``emit`` cheap."""

from __future__ import annotations

import asyncio
import collections.abc
import gc
import logging
import typing
from typing import Any

import pytest

from daguito import emitter as emitter_module
from daguito.emitter import Emitter, Listener


def recorder() -> tuple[list[tuple[str, Any]], Any]:
    calls: list[tuple[str, Any]] = []

    def make(name: str) -> Listener:
        def listener(payload: Any) -> None:
            calls.append((name, payload))

        return listener

    return calls, make


def test_listeners_run_in_subscription_order_with_the_payload() -> None:
    calls, make = recorder()
    emitter = Emitter()
    first, second = make("first"), make("second")
    emitter.on("node.token", first)
    emitter.on("node.token", second)
    emitter.on("other", make("other"))
    emitter.emit("node.token", {"token": "hi"})
    assert calls == [("first", {"token": "hi"}), ("second", {"token": "hi"})]


def test_a_listener_subscribed_twice_runs_twice_and_off_removes_one() -> None:
    calls, make = recorder()
    emitter = Emitter()
    listener = make("l")
    unsubscribe = emitter.on("e", listener)
    emitter.on("e", listener)
    emitter.emit("e", 1)
    assert calls == [("l", 1), ("l", 1)]
    calls.clear()
    emitter.off("e", listener)
    emitter.emit("e", 2)
    assert calls == [("l", 2)]
    calls.clear()
    unsubscribe()
    emitter.emit("e", 3)
    assert calls == []
    unsubscribe()  # a second call, and off() of unknown listeners or events, are harmless
    emitter.off("e", listener)
    emitter.off("never", listener)


def test_bound_methods_can_be_unsubscribed() -> None:
    class Sink:
        def __init__(self) -> None:
            self.seen: list[Any] = []

        def take(self, payload: Any) -> None:
            self.seen.append(payload)

    sink = Sink()
    emitter = Emitter()
    emitter.on("e", sink.take)
    emitter.off("e", sink.take)  # a new bound-method object, equal to the subscribed one
    emitter.emit("e", 1)
    assert sink.seen == []


def test_remove_all() -> None:
    calls, make = recorder()
    emitter = Emitter()
    emitter.on("a", make("a"))
    emitter.on("b", make("b"))
    emitter.remove_all()
    emitter.emit("a", 1)
    emitter.emit("b", 1)
    assert calls == []
    assert not emitter.has_listeners("a")


def test_a_raising_listener_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls, make = recorder()
    emitter = Emitter()

    def broken(payload: Any) -> None:
        raise ValueError("boom")

    emitter.on("e", broken)
    emitter.on("e", make("after"))
    with caplog.at_level(logging.ERROR, logger="daguito.emitter"):
        emitter.emit("e", 1)
    assert calls == [("after", 1)]
    (record,) = caplog.records
    assert record.name == "daguito.emitter"
    assert "'e'" in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], ValueError)


def test_base_exceptions_are_not_swallowed() -> None:
    emitter = Emitter()

    def interrupt(payload: Any) -> None:
        raise KeyboardInterrupt

    emitter.on("e", interrupt)
    with pytest.raises(KeyboardInterrupt):
        emitter.emit("e", None)


def test_changes_during_emit_apply_from_the_next_emit() -> None:
    calls, make = recorder()
    emitter = Emitter()
    late = make("late")
    removed = make("removed")

    def reshuffle(payload: Any) -> None:
        calls.append(("reshuffle", payload))
        emitter.on("e", late)
        emitter.off("e", removed)

    emitter.on("e", reshuffle)
    emitter.on("e", removed)
    emitter.emit("e", 1)
    # The walk in progress saw the listeners as they were when it started.
    assert calls == [("reshuffle", 1), ("removed", 1)]
    calls.clear()
    emitter.off("e", reshuffle)
    emitter.emit("e", 2)
    assert calls == [("late", 2)]


def test_listeners_are_a_tuple_replaced_on_change_not_copied_per_emit() -> None:
    _, make = recorder()
    emitter = Emitter()
    first = make("first")
    emitter.on("e", first)
    before = emitter.listeners("e")
    assert before == (first,)
    emitter.emit("e", 1)
    assert emitter.listeners("e") is before  # emit neither copies nor rebuilds it
    second = make("second")
    emitter.on("e", second)
    assert before == (first,)  # copy on write: a walk holding the old tuple is undisturbed
    assert emitter.listeners("e") == (first, second)


def test_events_without_listeners_leave_no_trace() -> None:
    _, make = recorder()
    emitter = Emitter()
    emitter.emit("nobody", 1)
    assert emitter.listeners("nobody") == ()
    assert not emitter.has_listeners("nobody")
    listener = make("l")
    emitter.on("e", listener)
    assert emitter.has_listeners("e")
    emitter.off("e", listener)
    # The last off() drops the event, so emit("e") is again a single failed lookup.
    assert not emitter.has_listeners("e")
    assert "e" not in emitter._listeners


async def test_async_listeners_run_as_tasks() -> None:
    # Bug B17: daguito-sdk called async listeners and dropped the coroutine, never awaited.
    seen: list[Any] = []
    emitter = Emitter()

    async def slow(payload: Any) -> None:
        await asyncio.sleep(0)
        seen.append(payload)

    emitter.on("e", slow)
    emitter.emit("e", 1)
    emitter.emit("e", 2)
    assert seen == []  # scheduled, not run inline
    await emitter.drain()
    assert sorted(seen) == [1, 2]
    assert not emitter._tasks


async def test_pending_listener_tasks_are_strongly_referenced() -> None:
    release = asyncio.Event()
    finished: list[int] = []
    emitter = Emitter()

    async def waits(payload: int) -> None:
        await release.wait()
        finished.append(payload)

    emitter.on("e", waits)
    for number in range(5):
        emitter.emit("e", number)
    await asyncio.sleep(0)
    gc.collect()  # tasks only referenced weakly by the loop would be at risk here
    assert len(emitter._tasks) == 5
    release.set()
    await emitter.drain()
    assert sorted(finished) == [0, 1, 2, 3, 4]


async def test_async_listener_failures_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    emitter = Emitter()
    ran: list[str] = []

    async def broken(payload: Any) -> None:
        raise RuntimeError("async boom")

    async def fine(payload: Any) -> None:
        ran.append("fine")

    emitter.on("e", broken)
    emitter.on("e", fine)
    with caplog.at_level(logging.ERROR, logger="daguito.emitter"):
        emitter.emit("e", None)
        await emitter.drain()
    assert ran == ["fine"]
    (record,) = caplog.records
    assert "async listener for event 'e' failed" in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)


async def test_a_cancelled_listener_task_is_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    emitter = Emitter()
    started = asyncio.Event()

    async def forever(payload: Any) -> None:
        started.set()
        await asyncio.Event().wait()

    emitter.on("e", forever)
    emitter.emit("e", None)
    await started.wait()
    (task,) = emitter._tasks
    task.cancel()
    with caplog.at_level(logging.ERROR, logger="daguito.emitter"):
        await emitter.drain()
    assert caplog.records == []


async def test_a_listener_returning_a_future_is_tracked() -> None:
    emitter = Emitter()
    future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    emitter.on("e", lambda payload: future)
    emitter.emit("e", None)
    assert len(emitter._tasks) == 1
    future.set_result("done")
    await emitter.drain()
    assert not emitter._tasks


def test_async_listener_without_a_running_loop_is_logged_not_leaked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # With filterwarnings=error, a coroutine left un-awaited would fail this test at GC.
    emitter = Emitter()
    calls: list[Any] = []

    async def listener(payload: Any) -> None:
        calls.append(payload)

    emitter.on("e", listener)
    with caplog.at_level(logging.ERROR, logger="daguito.emitter"):
        emitter.emit("e", 1)
    gc.collect()
    assert calls == []
    (record,) = caplog.records
    assert "needs a running event loop" in record.getMessage()


def test_module_surface_matches_daguito_sdk() -> None:
    assert emitter_module.log.name == "daguito.emitter"
    assert typing.get_origin(Listener) is collections.abc.Callable
    assert typing.get_args(Listener) == ([Any], type(None))
    assert repr(Listener) == "typing.Callable[[typing.Any], NoneType]"
    unsubscribe = Emitter().on("e", lambda payload: None)
    assert callable(unsubscribe)
