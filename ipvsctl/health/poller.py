"""One epoll set for every check socket, polled by the runner's tick.

asyncio's add_reader/add_writer cost several Python-level objects and two epoll_ctl calls per
watch, and a loop iteration per ready socket; at ten thousand checks a second that was most of
a check's cost. Here the check sockets live in one epoll set of our own: registering is one C
call, closing a socket removes it from the set (no unregister), and the runner's tick collects
every ready socket at once (poll with no wait). The loop never watches the set: while any
socket is in it, the runner ticks every 10 ms (a timer), which costs less than asking the loop
to watch the set and to forget it again on every tick, and bounds the wait for a ready socket
just the same. Level-triggered, so nothing is ever lost.
"""

from __future__ import annotations

import select
from collections.abc import Callable

Handler = Callable[[int], None]  # called with the epoll event mask
IN = select.EPOLLIN
OUT = select.EPOLLOUT
BATCH = 1024


class Poller:
    __slots__ = ("_closed", "_epoll", "_handlers")

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._handlers: dict[int, Handler] = {}
        self._closed: set[int] = set()  # forgotten during the current batch

    @property
    def busy(self) -> bool:
        """Any socket being watched?"""
        return bool(self._handlers)

    def watch(self, fd: int, events: int, handler: Handler) -> None:
        self._handlers[fd] = handler
        self._epoll.register(fd, events)

    def modify(self, fd: int, events: int, handler: Handler) -> None:
        self._handlers[fd] = handler
        self._epoll.modify(fd, events)

    def forget(self, fd: int) -> None:
        """Before the socket is closed (closing drops it from the epoll set)."""
        if self._handlers.pop(fd, None) is not None:
            self._closed.add(fd)

    def dispatch(self) -> int:
        """Run the handler of every ready socket; how many there were."""
        handlers = self._handlers
        closed = self._closed
        seen = 0
        while handlers:
            closed.clear()
            ready = self._epoll.poll(0, BATCH)
            for fd, events in ready:
                # A socket closed earlier in this batch may already have a successor on the
                # same descriptor number: its stale event is skipped (level-triggered: a real
                # one comes again).
                if fd in closed:
                    continue
                handler = handlers.get(fd)
                if handler is not None:
                    handler(events)
            seen += len(ready)
            if len(ready) < BATCH:
                break
        return seen

    def close(self) -> None:
        self._epoll.close()
        self._handlers.clear()
