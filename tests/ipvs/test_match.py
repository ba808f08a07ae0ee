"""The no-op read's shortcut (_match) against the plain read, on kernel-shaped replies (host).

A read given the desired table may name a service instead of building it only when the plain
read of the same bytes gives exactly the desired settings and real servers; any other service
must read exactly as the plain read gives it. Checked on every field, on added, missing and
repeated replies, and on every single-byte change of one reply.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest

from ipvsctl import model as m
from ipvsctl.ipvs import _consts as C
from ipvsctl.ipvs import _wire as w
from ipvsctl.ipvs._adapter import IpvsAdapter
from tests.ipvs.test_wire import (
    FAMILY,
    done_message,
    kernel_dest_reply,
    linux_service_reply,
)

K, RK, RS = m.ServiceKey, m.RealServerKey.of, m.RealServerSpec
Parse = Callable[[bytearray, int, int], "tuple[bool, w.Ack | None]"]


def service(key: m.ServiceKey, *rss: tuple[m.RealServerKey, m.RealServerSpec]) -> m.Service:
    return m.Service(key, m.ServiceSpec("wrr"), {k: m.RealServer(k, s) for k, s in rss})


DESIRED = [
    service(K.vip("tcp", "192.0.2.10", 80), (RK("192.0.2.21", 80), RS(1)),
            (RK("192.0.2.22", 80), RS(3)), (RK("192.0.2.23", 8080), RS(0, "nat", 100, 10))),
    service(K.vip("tcp", "192.0.2.11", 80),
            (RK("192.0.2.31", 80), RS(1, "tunnel", tunnel=m.Tunnel("ipip"))),
            (RK("192.0.2.32", 80), RS(2, "tunnel", tunnel=m.Tunnel("gue", 6080, "csum"))),
            (RK("192.0.2.33", 80), RS(65535, "tunnel", tunnel=m.Tunnel("gre", 0, "remcsum")))),
    service(K.vip("udp", "2001:db8::10", 53), (RK("2001:db8::21", 53), RS(2)),
            (RK("2001:db8:0:1::22", 53), RS(4, "nat"))),
    service(K.mark(7, 4), (RK("192.0.2.41", 0), RS(1))),
    service(K.vip("tcp", "192.0.2.12", 443)),
    service(K.vip("tcp", "2001:db8::18", 80), (RK("192.0.2.51", 80),
                                              RS(1, "tunnel", tunnel=m.Tunnel("ipip"))),
            (RK("2001:db8::51", 80), RS(1))),  # two families: never compared
]


class Kernel:
    """Serves a service dump and then each service's destination dump, as recorded bytes."""

    family, seq = FAMILY, 9

    def __init__(self, services: list[m.Service], dests: list[bytes]) -> None:
        self.services = b"".join(linux_service_reply(s) for s in services)
        self.dests = dests
        self.buf = bytearray(256 << 10)

    def dump_into(self, cmd: int, body: bytes, parse: Parse) -> None:
        reads = ([self.services, done_message(9)] if cmd == C.CMD_GET_SERVICE
                 else [next(self.pending), done_message(9)])
        for data in reads:
            self.buf[:len(data)] = data
            if parse(self.buf, len(data), 9)[0]:
                return

    def read(self, expect: dict[m.ServiceKey, m.Service] | None) -> m.Observed:
        self.pending: Iterator[bytes] = iter(self.dests)
        adapter = IpvsAdapter()
        adapter._chan = self  # type: ignore[assignment]
        adapter.timeouts = m.Timeouts  # type: ignore[method-assign]
        adapter.sysctls = dict  # type: ignore[method-assign]
        adapter.sync_daemons = dict  # type: ignore[method-assign]
        return adapter.observe(expect=expect)


def dump_of(svc: m.Service) -> bytes:
    return b"".join(kernel_dest_reply(rs, active=i) for i, rs in
                    enumerate(svc.real_servers.values()))


def specs(svc: m.Service) -> tuple[m.ServiceSpec, dict[m.RealServerKey, m.RealServerSpec]]:
    return svc.spec, {k: rs.spec for k, rs in svc.real_servers.items()}


def assert_agrees(dests: list[bytes]) -> m.Observed:
    """The shortcut's read against the plain read of the same bytes."""
    kernel = Kernel(DESIRED, dests)
    desired = {s.key: s for s in DESIRED}
    try:
        plain = kernel.read(None)
    except Exception as exc:  # the plain read refuses these bytes: so must the shortcut
        with pytest.raises(type(exc)):
            kernel.read(desired)
        return m.Observed()
    found = kernel.read(desired)
    assert found.as_desired | set(found.services) == set(plain.services)
    for key in found.as_desired:
        assert specs(plain.services[key]) == specs(desired[key])
    for key, svc in found.services.items():
        assert svc == plain.services[key]
    return found


def test_a_table_as_desired_is_only_named() -> None:
    found = assert_agrees([dump_of(s) for s in DESIRED])
    assert found.as_desired == {s.key for s in DESIRED[:-1]}
    assert set(found.services) == {DESIRED[-1].key}


def edits(rs: m.RealServer) -> Iterator[m.RealServer]:
    """The real server with each compared field changed in turn."""
    spec, tunnel = rs.spec, rs.spec.tunnel or m.Tunnel()
    yield dataclasses.replace(rs, key=RK(rs.key.address, rs.key.port + 1))
    yield dataclasses.replace(rs, key=RK("192.0.2.99" if ":" not in rs.key.address
                                         else "2001:db8::99", rs.key.port))
    yield dataclasses.replace(rs, spec=spec._replace(weight=spec.weight ^ 1))
    yield dataclasses.replace(rs, spec=spec._replace(upper_threshold=spec.upper_threshold + 1))
    yield dataclasses.replace(rs, spec=spec._replace(lower_threshold=spec.lower_threshold + 1))
    yield dataclasses.replace(rs, spec=spec._replace(
        forward="dr" if spec.forward != "dr" else "nat", tunnel=None))
    if spec.forward == "tunnel":
        yield dataclasses.replace(rs, spec=spec._replace(tunnel=tunnel._replace(port=6081)))
        yield dataclasses.replace(rs, spec=spec._replace(tunnel=tunnel._replace(
            csum="nocsum" if tunnel.csum != "nocsum" else "csum")))
        yield dataclasses.replace(rs, spec=spec._replace(tunnel=tunnel._replace(
            type="gue" if tunnel.type != "gue" else "gre", port=6080)))


CHANGED = [(i, j, changed) for i, svc in enumerate(DESIRED)
           for j, rs in enumerate(svc.real_servers.values()) for changed in edits(rs)]


@pytest.mark.parametrize(("i", "j", "changed"), CHANGED)
def test_every_compared_field_that_differs_is_read_in_full(i: int, j: int,
                                                           changed: m.RealServer) -> None:
    dests = [dump_of(s) for s in DESIRED]
    rss = list(DESIRED[i].real_servers.values())
    rss[j] = changed
    dests[i] = b"".join(kernel_dest_reply(rs) for rs in rss)
    found = assert_agrees(dests)
    assert DESIRED[i].key in found.services


def test_added_missing_and_repeated_replies_are_read_in_full() -> None:
    first = DESIRED[0]
    replies = [kernel_dest_reply(rs) for rs in first.real_servers.values()]
    extra = kernel_dest_reply(m.RealServer(RK("192.0.2.29", 80), RS(1)))
    for dump in ([*replies, extra], replies[:-1], [*replies[:-1], replies[0]], [extra],
                 [*replies, replies[0]]):
        dests = [b"".join(dump), *(dump_of(s) for s in DESIRED[1:])]
        found = assert_agrees(dests)
        assert first.key in found.services
    empty = [dump_of(s) if s.real_servers else extra for s in DESIRED]
    assert DESIRED[4].key in assert_agrees(empty).services


def test_connection_counts_and_counters_do_not_count() -> None:
    dests = [b"".join(kernel_dest_reply(rs, active=50 + n, base=1000 * n)
                      for n, rs in enumerate(s.real_servers.values())) for s in DESIRED]
    assert assert_agrees(dests).as_desired == {s.key for s in DESIRED[:-1]}


@pytest.mark.parametrize("xor", [0x01, 0x80])
def test_every_byte_of_a_reply_changed_agrees_with_the_plain_read(xor: int) -> None:
    """Each byte of the second reply of the first service flipped in turn (headers, padding,
    values, counters): the shortcut names the service only if the plain read agrees."""
    replies = [kernel_dest_reply(rs) for rs in DESIRED[0].real_servers.values()]
    named = 0
    for at in range(len(replies[1])):
        bad = bytearray(replies[1])
        bad[at] ^= xor
        dump = b"".join([replies[0], bytes(bad), replies[2]])
        found = assert_agrees([dump, *(dump_of(s) for s in DESIRED[1:])])
        named += DESIRED[0].key in found.as_desired
    assert 0 < named < len(replies[1])  # counters and padding differ harmlessly; values do not
