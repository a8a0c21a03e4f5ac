"""Which channel (UI, API, CLI, job) the current unit of work came through.

A context variable, set once at the edge (middleware, management command, job runner), so
services never need a `channel` argument and cannot forget it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

from levier.audit.choices import Channel

_channel: contextvars.ContextVar[Channel] = contextvars.ContextVar(
    "levier_audit_channel", default=Channel.SYSTEM
)


def current_channel() -> Channel:
    return _channel.get()


@contextmanager
def channel(value: Channel) -> Iterator[None]:
    token = _channel.set(value)
    try:
        yield
    finally:
        _channel.reset(token)
