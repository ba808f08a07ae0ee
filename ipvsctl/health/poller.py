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
ONESHOT = select.EPOLLONESHOT
BATCH = 1024


class Poller:
    __slots__ = ("_arms", "_closed", "_epoll", "_handlers", "_once")

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._handlers: dict[int, Handler] = {}
        self._closed: set[int] = set()  # forgotten during the current batch
        self._once: dict[int, int] = {}  # one-shot descriptors: their armed mask
        self._arms = 0  # counts arming, so dispatch sees whether a handler armed again

    @property
    def busy(self) -> bool:
        """Any socket being watched?"""
        return bool(self._handlers)

    def watch(self, fd: int, events: int, handler: Handler) -> None:
        self._handlers[fd] = handler
        self._epoll.register(fd, events)

    def watch_once(self, fd: int, events: int, handler: Handler, registered: bool) -> None:
        """Watch one-shot; `registered`: the descriptor is in the set already (a kept socket,
        disarmed)."""
        self._handlers[fd] = handler
        mask = events | ONESHOT
        self._once[fd] = mask
        self._arms += 1
        if registered:
            self._epoll.modify(fd, mask)
        else:
            self._epoll.register(fd, mask)

    def modify(self, fd: int, events: int, handler: Handler) -> None:
        self._handlers[fd] = handler
        once = self._once
        if fd in once:
            events |= ONESHOT
            once[fd] = events
            self._arms += 1
        self._epoll.modify(fd, events)

    def forget(self, fd: int) -> None:
        """Before the socket is closed (closing drops it from the epoll set) or kept idle
        (a one-shot one: disarmed by the event its handler ended on)."""
        if self._handlers.pop(fd, None) is not None:
            self._closed.add(fd)
            self._once.pop(fd, None)

    def dispatch(self) -> int:
        """Run the handler of every ready socket; how many there were."""
        handlers = self._handlers
        closed = self._closed
        once = self._once
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
                if handler is None:
                    continue
                mask = once.get(fd)
                if mask is None:
                    handler(events)
                    continue
                arms = self._arms
                handler(events)
                if self._arms == arms and fd in once:  # still waiting, for the same thing
                    self._epoll.modify(fd, mask)
            seen += len(ready)
            if len(ready) < BATCH:
                break
        return seen

    def close(self) -> None:
        self._epoll.close()
        self._handlers.clear()
        self._once.clear()
