"""dns: one query over UDP; up when the answer comes back with the expected rcode.

dnspython builds the query (names, IDNA, type codes) and parses the reply: a reply that is not
a well-formed answer to this very question (id, flags, question section) is a failure, not a
success with a lucky rcode. A truncated reply still carries its rcode and counts.
"""

from __future__ import annotations

import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype

from ipvsctl.health.checkers.udp import UdpProbe
from ipvsctl.health.spec import DnsCheck


class DnsProbe(UdpProbe):
    __slots__ = ("query",)

    def payload(self) -> bytes:
        spec = self.probe.target.spec
        assert isinstance(spec, DnsCheck)
        self.query = dns.message.make_query(spec.name, dns.rdatatype.from_text(spec.qtype))
        return self.query.to_wire()

    def reply(self, data: bytes) -> None:
        spec = self.probe.target.spec
        assert isinstance(spec, DnsCheck)
        try:
            answer = dns.message.from_wire(data, ignore_trailing=True, raise_on_truncation=False)
        except dns.exception.DNSException as exc:
            self.finish(False, f"not a DNS reply: {exc}")
            return
        if not self.query.is_response(answer):
            self.finish(False, "the reply does not answer the query")
            return
        rcode = dns.rcode.to_text(answer.rcode())
        if rcode == spec.rcode:
            self.finish(True, f"rcode {rcode}, {sum(len(r) for r in answer.answer)} answer(s)")
        else:
            self.finish(False, f"rcode {rcode}, expected {spec.rcode}")
