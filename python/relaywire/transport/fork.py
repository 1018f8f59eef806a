"""Fork safety: what a forked child must not inherit.

``os.fork()`` copies the parent's memory but only the thread that called it. Servers fork after
importing and warming up the application (gunicorn ``--preload``, Celery's prefork pool,
``multiprocessing`` with the ``fork`` start method), so a child can inherit:

* an event loop whose thread does not exist in the child (the sync runner): anything submitted
  to it waits forever;
* pooled connections whose sockets the parent keeps using: two processes writing one socket
  corrupt each other's requests;
* a lock that another parent thread held at fork time: it is never released in the child.

Objects that hold such things register here; right after a fork, in the child, each one's
``_after_fork_in_child()`` runs (and each registered function), before any other code of the
child. What the parent still owns is parked with :func:`abandon`: the child never uses it, never
closes it (closing a TLS or HTTP/2 connection could send bytes on the parent's socket) and never
lets it be collected (its finalizers would warn about, or close, what is not the child's).
The parent is untouched.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["ForkAware", "abandon", "on_fork_in_child", "register"]


class ForkAware(Protocol):
    def _after_fork_in_child(self) -> None: ...


_objects: weakref.WeakSet[Any] = weakref.WeakSet()
_functions: list[Callable[[], None]] = []
#: Inherited objects the child must leave alone (see the module documentation).
_abandoned: list[Any] = []


def register(obj: ForkAware) -> None:
    """Call ``obj._after_fork_in_child()`` in every child forked while ``obj`` lives."""
    _objects.add(obj)


def on_fork_in_child(function: Callable[[], None]) -> Callable[[], None]:
    """Call ``function()`` in every forked child (usable as a decorator)."""
    _functions.append(function)
    return function


def abandon(*things: Any) -> None:
    """Keep ``things`` referenced and untouched for the life of this (child) process."""
    _abandoned.extend(thing for thing in things if thing is not None)


def _after_fork_in_child() -> None:
    for function in list(_functions):
        function()
    for obj in list(_objects):
        obj._after_fork_in_child()


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_after_fork_in_child)
