"""Load and validate a cluster file into a fully normalised `Cluster`.

Every default is filled here, at the edge, so the planner compares like with like. Every problem
in the file is reported at once, each as `PATH:LINE:COL: services[1].real_servers[0].weight:
must be 0..65535`. The file format is documented in docs/cluster-file.md.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from yaml.nodes import MappingNode, Node, ScalarNode

from ipvsctl.config import vocabulary as R
from ipvsctl.config.fast_json import load_json
from ipvsctl.config.nodes import TAG, Pairs, Problems, Reader, compose, kind, suggest
from ipvsctl.errors import ConfigError
from ipvsctl.gcpause import gc_paused
from ipvsctl.model import (
    DEFAULT_FORWARD,
    DEFAULT_PERSISTENCE_TIMEOUT,
    DEFAULT_SCHEDULER,
    DEFAULT_WEIGHT,
    Cluster,
    Director,
    Persistence,
    RealServer,
    RealServerKey,
    RealServerSpec,
    Scope,
    Service,
    ServiceKey,
    ServiceSpec,
    Timeouts,
    Tunnel,
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def load(path: str | Path) -> Cluster:
    """Read and validate a cluster file; messages name `path` as the caller gave it."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{name}: not UTF-8 text (bad byte at offset {exc.start})"]) from exc
    except OSError as exc:
        raise ConfigError([f"{name}: cannot read: {exc.strerror or exc}"]) from exc
    return loads(text, name)


def loads(text: str, path: str = "<string>") -> Cluster:
    """Validate cluster-file text. Raises ConfigError listing every problem found."""
    with gc_paused():  # a large file makes a million objects, none in a cycle
        return _loads(text, path)


def _loads(text: str, path: str) -> Cluster:
    fast = load_json(text, path)  # large generated files in JSON; None: read it carefully
    if fast is not None:
        return fast
    problems = Problems(path)
    root = compose(text, problems)
    cluster = Cluster(path=path)
    if root is not None:
        cluster = _Builder(Reader(problems), path).cluster(root)
    problems.raise_if_any()
    return cluster


@dataclass(slots=True)
class _Defaults:
    scheduler: str = DEFAULT_SCHEDULER
    forward: str = DEFAULT_FORWARD
    weight: int = DEFAULT_WEIGHT
    protocol: str = "tcp"


@dataclass(slots=True)
class _ServiceContext:
    """What a real server needs to know about its service (None where the service was bad)."""

    key: ServiceKey | None
    family: int | None
    port: int | None
    vip: IPAddress | None
    forward: str


@functools.lru_cache(maxsize=65536)
def _parse_ip(text: str) -> IPAddress:
    """Parsing is the loader's hot spot; real servers recur across services."""
    return ipaddress.ip_address(text)


def _value(pairs: Pairs, key: str) -> Node | None:
    pair = pairs.get(key)
    return pair[1] if pair else None


class _Builder:
    def __init__(self, reader: Reader, path: str) -> None:
        self.r = reader
        self.p = reader.problems
        self.path = path
        self.defaults = _Defaults()
        self.service_places: dict[ServiceKey, str] = {}
        self.name_places: dict[str, str] = {}

    def cluster(self, root: Node) -> Cluster:
        if not isinstance(root, MappingNode):
            self.p.add_at(1, 1, "", f"expected a mapping with a 'services' list, not {kind(root)}")
            return Cluster(path=self.path)
        top = self.r.mapping(root, "", R.TOP_KEYS) or {}
        if (node := _value(top, "defaults")) is not None:
            self._defaults(node)
        scope = Scope()
        if (node := _value(top, "scope")) is not None:
            scope = self._scope(node)
        director = Director()
        if (node := _value(top, "director")) is not None:
            director = self._director(node)
        services: dict[ServiceKey, Service] = {}
        node = _value(top, "services")
        if node is None:
            self.p.add(root, "", "missing required key 'services' (a list; write [] for none)")
        elif isinstance(node, ScalarNode) and node.tag == TAG + "null":
            self.p.add(node, "services", "must be a list of services (write [] for none), not null")
        else:
            for index, item in enumerate(self.r.seq(node, "services") or []):
                service = self._service(item, f"services[{index}]")
                if service is not None:
                    services.setdefault(service.key, service)
        return Cluster(services=services, director=director, scope=scope, path=self.path)

    # -- top-level sections ---------------------------------------------------------------------

    def _defaults(self, node: Node) -> None:
        m = self.r.mapping(node, "defaults", R.DEFAULTS_KEYS) or {}
        d = self.defaults
        if (v := _value(m, "scheduler")) is not None:
            d.scheduler = self.r.choice(v, "defaults.scheduler", R.SCHEDULERS, "scheduler") \
                or d.scheduler
        if (v := _value(m, "forward")) is not None:
            d.forward = self.r.choice(v, "defaults.forward", R.FORWARDS, "forwarding method") \
                or d.forward
        if (v := _value(m, "weight")) is not None:
            weight = self.r.integer(v, "defaults.weight", *R.WEIGHT)
            d.weight = d.weight if weight is None else weight
        if (v := _value(m, "protocol")) is not None:
            d.protocol = self.r.choice(v, "defaults.protocol", R.PROTOCOLS, "protocol") \
                or d.protocol

    def _scope(self, node: Node) -> Scope:
        m = self.r.mapping(node, "scope", R.SCOPE_KEYS) or {}
        networks: list[str] = []
        if (v := _value(m, "vips")) is not None:
            for index, item in enumerate(self.r.seq(v, "scope.vips") or []):
                net = self._network(item, f"scope.vips[{index}]")
                if net is not None and net not in networks:
                    networks.append(net)
        marks: list[tuple[int, int]] = []
        if (v := _value(m, "fwmarks")) is not None:
            for index, item in enumerate(self.r.seq(v, "scope.fwmarks") or []):
                span = self._mark_range(item, f"scope.fwmarks[{index}]")
                if span is not None and span not in marks:
                    marks.append(span)
        return Scope(networks=tuple(networks), fwmarks=tuple(marks))

    def _network(self, node: Node, where: str) -> str | None:
        text = self.r.string(node, where, " (a network such as 192.0.2.0/24)")
        if text is None:
            return None
        try:
            return str(ipaddress.ip_network(text.strip(), strict=True))
        except ValueError:
            pass
        try:
            loose = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            self.r.error(node, where, f"'{text}' is not a network (e.g. 192.0.2.0/24)")
            return None
        self.r.error(node, where, f"'{text}' has host bits set (did you mean {loose}?)")
        return None

    def _mark_range(self, node: Node, where: str) -> tuple[int, int] | None:
        if isinstance(node, ScalarNode) and node.tag == TAG + "int":
            mark = self.r.integer(node, where, *R.FWMARK)
            return None if mark is None else (mark, mark)
        hint = " or an integer (a mark, or a range such as \"100-199\")"
        text = self.r.string(node, where, hint)
        if text is None:
            return None
        if not re.match(R.FWMARK_RANGE_PATTERN, text):
            self.r.error(node, where, f"'{text}' is not a mark range (e.g. \"100-199\")")
            return None
        lo, hi = (int(part) for part in text.split("-"))
        lo_min, hi_max = R.FWMARK
        if not (lo_min <= lo <= hi_max and lo_min <= hi <= hi_max):
            self.r.error(node, where, f"marks must be {lo_min}..{hi_max}")
            return None
        if lo > hi:
            self.r.error(node, where, f"range {text} is reversed (did you mean {hi}-{lo}?)")
            return None
        return (lo, hi)

    def _director(self, node: Node) -> Director:
        m = self.r.mapping(node, "director", R.DIRECTOR_KEYS) or {}
        timeouts = Timeouts()
        if (v := _value(m, "timeouts")) is not None:
            t = self.r.mapping(v, "director.timeouts", R.TIMEOUT_KEYS) or {}
            values = {name: self.r.integer(t[name][1], f"director.timeouts.{name}", *R.TIMEOUT)
                      for name in R.TIMEOUT_KEYS if name in t}
            timeouts = Timeouts(**values)
        sysctls: dict[str, int] = {}
        if (v := _value(m, "sysctls")) is not None:
            for name, (key_node, value_node) in (self.r.pairs(v, "director.sysctls") or {}).items():
                where = f"director.sysctls.{name}"
                if name in R.UNMANAGED_SYSCTLS:
                    self.r.error(key_node, where, f"net.ipv4.vs.{name} {R.UNMANAGED_SYSCTLS[name]}")
                elif name not in R.SYSCTLS:
                    self.r.error(key_node, where, f"unknown sysctl net.ipv4.vs.{name} "
                                                  f"({suggest(name, R.SYSCTLS)})")
                elif (value := self.r.integer(value_node, where, *R.SYSCTL_VALUE)) is not None:
                    sysctls[name] = value
        drain_timeout = None
        if (v := _value(m, "drain_timeout")) is not None:
            drain_timeout = self.r.integer(v, "director.drain_timeout", *R.DRAIN_TIMEOUT)
        return Director(timeouts=timeouts, sysctls=sysctls, drain_timeout=drain_timeout)

    # -- services -------------------------------------------------------------------------------

    def _service(self, node: Node, where: str) -> Service | None:
        m = self.r.mapping(node, where, R.SERVICE_KEYS)
        if m is None:
            return None
        name = self._name(m, where)
        key, vip, port_node = self._service_key(node, m, where)
        family = key.family if key else None

        scheduler = self.defaults.scheduler
        if (v := _value(m, "scheduler")) is not None:
            scheduler = self.r.choice(v, f"{where}.scheduler", R.SCHEDULERS, "scheduler") \
                or scheduler
        flags = self._flags(m, where, scheduler)
        persistence = None
        if (v := _value(m, "persistence")) is not None:
            persistence = self._persistence(v, f"{where}.persistence", key)
        one_packet = False
        if (v := _value(m, "one_packet")) is not None:
            one_packet = bool(self.r.boolean(v, f"{where}.one_packet"))
        forward = self.defaults.forward
        if (v := _value(m, "forward")) is not None:
            forward = self.r.choice(v, f"{where}.forward", R.FORWARDS, "forwarding method") \
                or forward
        if key and not key.is_fwmark and key.port == 0 and persistence is None and port_node:
            self.r.error(port_node, f"{where}.port", "port 0 (all ports) needs persistence")

        context = _ServiceContext(key, family, key.port if key else None, vip, forward)
        real_servers: dict[RealServerKey, RealServer] = {}
        if (v := _value(m, "real_servers")) is not None:
            places: dict[RealServerKey, str] = {}
            for index, item in enumerate(self.r.seq(v, f"{where}.real_servers") or []):
                rs_where = f"{where}.real_servers[{index}]"
                rs = self._real_server(item, rs_where, context)
                if rs is None:
                    continue
                if rs.key in places:
                    self.r.error(item, rs_where, f"duplicate real server {rs.key}, "
                                                 f"first defined at {places[rs.key]}")
                    continue
                places[rs.key] = self.p.where(item)
                real_servers[rs.key] = rs
        if key is None:
            return None
        if key in self.service_places:
            self.r.error(node, where, f"duplicate service {key}, "
                                      f"first defined at {self.service_places[key]}")
            return None
        self.service_places[key] = self.p.where(node)
        spec = ServiceSpec(scheduler, frozenset(flags), persistence, one_packet)
        return Service(key, spec, real_servers, name=name, source=self.p.where(node))

    def _name(self, m: Pairs, where: str) -> str | None:
        node = _value(m, "name")
        if node is None:
            return None
        name = self.r.string(node, f"{where}.name")
        if name is None:
            return None
        if not re.match(R.NAME_PATTERN, name):
            self.r.error(node, f"{where}.name", "must be 1..63 letters, digits, '.', '_' or '-', "
                                                "starting with a letter or digit")
            return None
        if name in self.name_places:
            self.r.error(node, f"{where}.name", f"duplicate name '{name}', "
                                                f"first used at {self.name_places[name]}")
        else:
            self.name_places[name] = self.p.where(node)
        return name

    def _service_key(self, node: Node, m: Pairs, where: str
                     ) -> tuple[ServiceKey | None, IPAddress | None, Node | None]:
        """The service's kernel identity, its VIP and the node of its port (for messages)."""
        vip_node, mark_node = _value(m, "vip"), _value(m, "fwmark")
        if vip_node is not None and mark_node is not None:
            self.r.error(m["fwmark"][0], f"{where}.fwmark",
                         "a service has either 'vip' or 'fwmark', not both")
            return None, None, None
        if mark_node is not None:
            for extra in ("port", "protocol"):
                if extra in m:
                    self.r.error(m[extra][0], f"{where}.{extra}",
                                 "does not apply to a fwmark service (the mark selects packets)")
            mark = self.r.integer(mark_node, f"{where}.fwmark", *R.FWMARK)
            family = "ipv4"
            if (v := _value(m, "family")) is not None:
                family = self.r.choice(v, f"{where}.family", tuple(R.FAMILIES), "family") \
                    or family
            if mark is None:
                return None, None, None
            return ServiceKey.mark(mark, R.FAMILIES[family]), None, None
        if vip_node is None:
            self.r.error(node, where, "needs 'vip' and 'port', or 'fwmark'")
            return None, None, None
        if "family" in m:
            self.r.error(m["family"][0], f"{where}.family",
                         "only applies to fwmark services (a VIP's address sets the family)")
        vip = self._address(vip_node, f"{where}.vip")
        port_node = _value(m, "port")
        port = None
        if port_node is None:
            self.r.error(node, where, "missing required key 'port'")
        else:
            port = self.r.integer(port_node, f"{where}.port", *R.PORT)
        protocol = self.defaults.protocol
        if (v := _value(m, "protocol")) is not None:
            protocol = self.r.choice(v, f"{where}.protocol", R.PROTOCOLS, "protocol") or protocol
        if vip is None or port is None:
            return None, vip, port_node
        return ServiceKey(vip.version, protocol, vip.compressed, port), vip, port_node

    def _address(self, node: Node, where: str) -> IPAddress | None:
        if not isinstance(node, ScalarNode) or node.tag != TAG + "str":
            self.r.error(node, where, f"must be an IP address, not {kind(node)}"
                         + (" (quote it)" if node.tag == TAG + "int" else ""))
            return None
        try:
            ip = _parse_ip(node.value.strip())
        except ValueError:
            self.r.error(node, where, f"'{node.value}' is not an IP address")
            return None
        if ip.is_multicast:
            self.r.error(node, where, f"{ip} is a multicast address")
        elif ip.is_unspecified:
            self.r.error(node, where, f"{ip} is the unspecified address")
        elif isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
            self.r.error(node, where, "must not carry a zone index (%...)")
        elif isinstance(ip, ipaddress.IPv4Address) and ip == ipaddress.IPv4Address(2**32 - 1):
            self.r.error(node, where, f"{ip} is the broadcast address")
        else:
            return ip
        return None

    def _flags(self, m: Pairs, where: str, scheduler: str) -> list[str]:
        node = _value(m, "scheduler_flags")
        if node is None:
            return []
        flags: list[str] = []
        for index, item in enumerate(self.r.seq(node, f"{where}.scheduler_flags") or []):
            item_where = f"{where}.scheduler_flags[{index}]"
            flag = self.r.choice(item, item_where, R.SCHEDULER_FLAGS, "scheduler flag")
            if flag is None:
                continue
            if R.FLAG_SCHEDULER[flag] != scheduler:
                self.r.error(item, item_where,
                             f"'{flag}' needs scheduler {R.FLAG_SCHEDULER[flag]}, not {scheduler}")
                continue
            flags.append(flag)
        return flags

    def _persistence(self, node: Node, where: str, key: ServiceKey | None) -> Persistence | None:
        family = key.family if key else None
        full = 128 if family == 6 else 32
        if isinstance(node, ScalarNode) and node.tag == TAG + "bool":
            on = self.r.boolean(node, where)
            return Persistence(DEFAULT_PERSISTENCE_TIMEOUT, full) if on else None
        if not isinstance(node, MappingNode) and not (
                isinstance(node, ScalarNode) and node.tag == TAG + "null"):
            self.r.error(node, where, f"must be true, false or a mapping, not {kind(node)}")
            return None
        m = self.r.mapping(node, where, R.PERSISTENCE_KEYS) or {}
        timeout = DEFAULT_PERSISTENCE_TIMEOUT
        if (v := _value(m, "timeout")) is not None:
            timeout = self.r.integer(v, f"{where}.timeout", *R.PERSISTENCE_TIMEOUT) or timeout
        prefix = full
        if (v := _value(m, "netmask")) is not None:
            prefix = self._netmask(v, f"{where}.netmask", family) or prefix
        engine = None
        if (v := _value(m, "engine")) is not None:
            engine = self.r.choice(v, f"{where}.engine", R.PERSISTENCE_ENGINES,
                                   "persistence engine")
            if engine and key and key.protocol != "udp":
                what = "a fwmark service" if key.is_fwmark else key.protocol
                self.r.error(v, f"{where}.engine", f"engine {engine} needs protocol udp, "
                                                   f"not {what}")
        return Persistence(timeout, prefix, engine)

    def _netmask(self, node: Node, where: str, family: int | None) -> int | None:
        if isinstance(node, ScalarNode) and node.tag == TAG + "int":
            return self.r.integer(node, where, *(R.PREFIX_V4 if family == 4 else R.PREFIX_V6))
        text = self.r.string(node, where, " (a dotted IPv4 netmask) or a prefix length")
        if text is None:
            return None
        if family == 6:
            self.r.error(node, where, "IPv6 services take a prefix length 1..128, "
                                      "not a dotted netmask")
            return None
        try:
            mask = int(ipaddress.IPv4Address(text.strip()))
        except ValueError:
            mask = -1
        host_bits = ~mask & 0xFFFFFFFF
        if mask <= 0 or host_bits & (host_bits + 1):
            self.r.error(node, where, f"'{text}' is not a netmask (e.g. 255.255.255.0 or 24)")
            return None
        return 32 - host_bits.bit_length()

    # -- real servers ---------------------------------------------------------------------------

    def _real_server(self, node: Node, where: str, ctx: _ServiceContext) -> RealServer | None:
        m = self.r.mapping(node, where, R.REAL_SERVER_KEYS)
        if m is None:
            return None
        address_node = _value(m, "address")
        ip = None
        if address_node is None:
            self.r.error(node, where, "missing required key 'address'")
        else:
            ip = self._address(address_node, f"{where}.address")
        forward = ctx.forward
        if (v := _value(m, "forward")) is not None:
            forward = self.r.choice(v, f"{where}.forward", R.FORWARDS, "forwarding method") \
                or forward
        port = ctx.port or 0
        port_node = _value(m, "port")
        if port_node is not None:
            given = self.r.integer(port_node, f"{where}.port", *R.PORT)
            port = port if given is None else given
            if given is not None and forward != "nat" and ctx.port is not None \
                    and given != ctx.port:
                if ctx.key is not None and ctx.key.is_fwmark:
                    expect = f"must be 0 in a fwmark service with forward {forward}"
                else:
                    expect = f"must equal the service port {ctx.port} with forward {forward}"
                self.r.error(port_node, f"{where}.port", f"{expect} (only nat maps ports)")
        weight = self.defaults.weight
        if (v := _value(m, "weight")) is not None:
            given = self.r.integer(v, f"{where}.weight", *R.WEIGHT)
            weight = weight if given is None else given
        draining = False
        if (v := _value(m, "state")) is not None:
            draining = self.r.choice(v, f"{where}.state", R.STATES, "state") == "draining"
        tunnel = None
        if (v := _value(m, "tunnel")) is not None:
            if forward != "tunnel":
                self.r.error(m["tunnel"][0], f"{where}.tunnel",
                             f"only applies with forward tunnel, not {forward}")
            else:
                tunnel = self._tunnel(v, f"{where}.tunnel")
        if forward == "tunnel" and tunnel is None:
            tunnel = Tunnel()
        upper, lower = self._thresholds(m, where)
        if ip is not None and address_node is not None:
            if ctx.family is not None and ip.version != ctx.family and forward != "tunnel":
                self.r.error(address_node, f"{where}.address",
                             f"an IPv{ip.version} real server in an IPv{ctx.family} service "
                             f"needs forward tunnel")
            if ctx.vip is not None and ip == ctx.vip:
                self.r.error(address_node, f"{where}.address", "must not be the service's VIP")
        if ip is None:
            return None
        spec = RealServerSpec(0 if draining else weight, forward, upper, lower, tunnel)
        return RealServer(RealServerKey(ip.compressed, port), spec, draining,
                          source=self.p.where(node))

    def _thresholds(self, m: Pairs, where: str) -> tuple[int, int]:
        upper = lower = 0
        if (v := _value(m, "upper_threshold")) is not None:
            upper = self.r.integer(v, f"{where}.upper_threshold", *R.THRESHOLD) or 0
        if (v := _value(m, "lower_threshold")) is not None:
            lower = self.r.integer(v, f"{where}.lower_threshold", *R.THRESHOLD) or 0
            if upper and lower > upper:
                self.r.error(v, f"{where}.lower_threshold",
                             f"must not exceed upper_threshold ({upper})")
        return upper, lower

    def _tunnel(self, node: Node, where: str) -> Tunnel:
        m = self.r.mapping(node, where, R.TUNNEL_KEYS) or {}
        kind_ = "ipip"
        if (v := _value(m, "type")) is not None:
            kind_ = self.r.choice(v, f"{where}.type", R.TUNNEL_TYPES, "tunnel type") or kind_
        port = 0
        port_node = _value(m, "port")
        if kind_ == "gue" and port_node is None:
            self.r.error(node, where, "type gue needs 'port' (the GUE destination port)")
        elif port_node is not None and kind_ != "gue":
            self.r.error(m["port"][0], f"{where}.port", f"only applies to type gue, not {kind_}")
        elif port_node is not None:
            port = self.r.integer(port_node, f"{where}.port", *R.TUNNEL_PORT) or 0
        csum = "nocsum"
        if (v := _value(m, "csum")) is not None:
            csum = self.r.choice(v, f"{where}.csum", R.TUNNEL_CSUMS, "checksum mode") or csum
            if csum == "remcsum" and kind_ != "gue":
                self.r.error(v, f"{where}.csum", f"remcsum needs type gue, not {kind_}")
            elif csum == "csum" and kind_ == "ipip":
                self.r.error(v, f"{where}.csum", "ipip carries no checksum (gue and gre do)")
        return Tunnel(kind_, port, csum)

