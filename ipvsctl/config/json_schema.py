"""A JSON Schema (draft 2020-12) of the cluster file, for editors (`ipvsctl schema`).

It checks structure, types, choices and ranges from the same table as the validator
(`vocabulary.py`). Rules that span fields (DR port equals the service port, duplicate services,
address families) only the loader checks; the schema never rejects a file the loader accepts.
"""

from __future__ import annotations

from typing import Any

from ipvsctl.config import vocabulary as R
from ipvsctl.health.spec import DEFAULT_FALL, DEFAULT_INTERVAL, DEFAULT_RISE, DEFAULT_TIMEOUT
from ipvsctl.model import (
    DEFAULT_FORWARD,
    DEFAULT_PERSISTENCE_TIMEOUT,
    DEFAULT_RECONCILE_INTERVAL,
    DEFAULT_SCHEDULER,
    DEFAULT_SYNC_GROUP,
    DEFAULT_SYNC_PORT,
    DEFAULT_SYNC_TTL,
    DEFAULT_WEIGHT,
)


def _int(bounds: tuple[int, int], description: str, **extra: Any) -> dict[str, Any]:
    lo, hi = bounds
    return {"type": "integer", "minimum": lo, "maximum": hi, "description": description, **extra}


def _enum(choices: tuple[str, ...], description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "enum": list(choices), "description": description, **extra}


def _object(properties: dict[str, Any], description: str, nullable: bool = True,
            **extra: Any) -> dict[str, Any]:
    # null is accepted where a section's contents are all commented out.
    return {"type": ["object", "null"] if nullable else "object", "description": description,
            "properties": properties, "additionalProperties": False, **extra}


_ADDRESS = {"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}


def _address(description: str) -> dict[str, Any]:
    return {**_ADDRESS, "description": description}


def _seconds(bounds: tuple[float, float], description: str, **extra: Any) -> dict[str, Any]:
    lo, hi = bounds
    return {"type": "number", "minimum": lo, "maximum": hi, "description": description, **extra}


def _any_case(words: tuple[str, ...]) -> str:
    """Upper or lower case (a JSON Schema pattern is ECMA-262: no inline flags)."""
    return "^(" + "|".join([*words, *(w.lower() for w in words)]) + ")$"


def _check() -> dict[str, Any]:
    """A health check. Without a `type` it refines the check of the level above (any key);
    with one, only the common keys and that type's own."""
    status_item = {"oneOf": [_int(R.HTTP_STATUS, "A status code."),
                             {"type": "string", "pattern": R.HTTP_STATUS_PATTERN}]}
    text = {"type": "string"}
    own: dict[str, Any] = {
        "path": {**text, "pattern": R.HTTP_PATH_PATTERN, "default": "/",
                 "description": "The request path."},
        "status": {"description": "Accepted status codes and ranges (\"200-399\").",
                   "oneOf": [status_item, {"type": "array", "items": status_item,
                                           "minItems": 1, "maxItems": 32}]},
        "body": {**text, "description": "A regular expression searched in the body."},
        "host": {**text, "description": "The Host header (default: the address)."},
        "sni": {**text, "description": "TLS server name (default: host, when a name)."},
        "verify": {"type": "boolean", "default": False,
                   "description": "Verify the certificate chain and name."},
        "payload": {**text, "description": "Bytes to send (one per character)."},
        "expect": {**text, "minLength": 1, "description": "Bytes the reply must contain."},
        "name": {**text, "default": ".", "description": "The name to query."},
        "query_type": {**text, "description": "The query type.", "default": "SOA",
                       "pattern": _any_case(R.DNS_TYPES)},
        "rcode": {**text, "description": "The expected rcode.", "default": "NOERROR",
                  "pattern": _any_case(R.DNS_RCODES)},
        "argv": {"type": "array", "minItems": 1, "maxItems": R.CHECK_ARGV,
                 "items": text, "description": "The program by its absolute path, then its "
                                               "arguments (no shell)."},
    }
    check = _object({
        "type": _enum(R.CHECK_TYPES, "What to check (inherited from the level above when "
                                     "left out)."),
        "interval": _seconds(R.CHECK_INTERVAL, "Seconds between checks.",
                             default=DEFAULT_INTERVAL),
        "timeout": _seconds(R.CHECK_TIMEOUT, "Seconds a check may take (at most the "
                                             "interval).", default=DEFAULT_TIMEOUT),
        "rise": _int(R.CHECK_COUNT, "Successes in a row to be up.", default=DEFAULT_RISE),
        "fall": _int(R.CHECK_COUNT, "Failures in a row to be down.", default=DEFAULT_FALL),
        "port": _int(R.CHECK_PORT, "Port to check (default: the real server's)."),
        "via": _enum(R.CHECK_VIAS, "vip: along the DR path to VIP:port (default for dr and "
                                   "tunnel); address: to the real server's own address."),
        **own,
    }, "A health check; the most specific level wins, key by key.")
    check["allOf"] = [
        {"if": {"type": "object", "required": ["type"], "properties": {"type": {"const": t}}},
         "then": {"propertyNames": {"enum": [*R.CHECK_COMMON_KEYS, *keys]}}}
        for t, keys in R.CHECK_TYPE_KEYS.items()]
    return check


def schema() -> dict[str, Any]:
    """The schema as a JSON-ready dict."""
    tunnel = _object({
        "type": _enum(R.TUNNEL_TYPES, "Encapsulation.", default="ipip"),
        "port": _int(R.TUNNEL_PORT, "GUE destination port (type gue only, required there)."),
        "csum": _enum(R.TUNNEL_CSUMS, "Tunnel checksum mode.", default="nocsum"),
    }, "Tunnel encapsulation (forward: tunnel only).")
    tunnel["if"] = {"type": "object", "required": ["type"],
                    "properties": {"type": {"const": "gue"}}}
    tunnel["then"] = {"required": ["port"]}
    tunnel["else"] = {"not": {"type": "object", "required": ["port"]}}
    real_server = _object({
        "address": _address("Real server IP address."),
        "port": _int(R.PORT, "Defaults to the service port (0 for fwmark services); "
                             "with dr and tunnel it must equal it."),
        "weight": _int(R.WEIGHT, "0 = quiesced.", default=DEFAULT_WEIGHT),
        "state": _enum(R.STATES, "draining = kept at weight 0, never deleted by ipvsctl.",
                       default="active"),
        "forward": _enum(R.FORWARDS, "Forwarding method.", default=DEFAULT_FORWARD),
        "tunnel": tunnel,
        "upper_threshold": _int(R.THRESHOLD, "Connection limit; 0 = none.", default=0),
        "lower_threshold": _int(R.THRESHOLD, "Resume below this many connections.", default=0),
        "check": _check(),
    }, "A real server (destination).", nullable=False, required=["address"])
    sorry_server = {**real_server, "description": "Pooled when no real server is healthy.",
                    "properties": {k: v for k, v in real_server["properties"].items()
                                   if k in R.SORRY_SERVER_KEYS}}
    min_healthy = {"description": "Never depool below this many healthy real servers: a "
                                  "count, or a percentage (\"50%\").",
                   "oneOf": [_int(R.MIN_HEALTHY, "A count."),
                             {"type": "string", "pattern": R.MIN_HEALTHY_PERCENT_PATTERN}]}
    persistence = {
        "description": "Client affinity: true for the defaults, or settings.",
        "oneOf": [
            {"type": "boolean"},
            _object({
                "timeout": _int(R.PERSISTENCE_TIMEOUT, "Seconds.",
                                default=DEFAULT_PERSISTENCE_TIMEOUT),
                "netmask": {"description": "Client granularity: a prefix length, or a dotted "
                                           "IPv4 netmask.",
                            "oneOf": [_int(R.PREFIX_V6, "Prefix length."),
                                      {"type": "string", "pattern": R.DOTTED_MASK_PATTERN}]},
                "engine": _enum(R.PERSISTENCE_ENGINES, "Persistence engine (sip: udp only)."),
            }, "Persistence settings."),
        ],
    }
    service = _object({
        "name": {"type": "string", "pattern": R.NAME_PATTERN,
                 "description": "Optional label, unique in the file."},
        "vip": _address("Virtual IP address."),
        "port": _int(R.PORT, "Service port; 0 = all ports (needs persistence)."),
        "protocol": _enum(R.PROTOCOLS, "Protocol.", default="tcp"),
        "fwmark": _int(R.FWMARK, "Firewall mark (instead of vip/port/protocol)."),
        "family": _enum(tuple(R.FAMILIES), "Address family of a fwmark service.",
                        default="ipv4"),
        "scheduler": _enum(R.SCHEDULERS, "Scheduler.", default=DEFAULT_SCHEDULER),
        "scheduler_flags": {"type": "array", "uniqueItems": True,
                            "items": _enum(R.SCHEDULER_FLAGS, "sh-* with sh, mh-* with mh."),
                            "description": "Scheduler flags."},
        "persistence": persistence,
        "one_packet": {"type": "boolean", "default": False,
                       "description": "One-packet scheduling (for UDP)."},
        "forward": _enum(R.FORWARDS, "Default forwarding method of its real servers."),
        "check": _check(),
        "min_healthy": min_healthy,
        "sorry_server": sorry_server,
        "announce": _announce(min_healthy),
        "real_servers": {"type": ["array", "null"], "items": real_server,
                         "description": "Real servers."},
    }, "A virtual service: vip + port (+ protocol), or fwmark (+ family).", nullable=False,
        oneOf=[
            {"required": ["vip", "port"],
             "not": {"anyOf": [{"required": ["fwmark"]}, {"required": ["family"]}]}},
            {"required": ["fwmark"],
             "not": {"anyOf": [{"required": [key]} for key in ("vip", "port", "protocol")]}},
        ])
    defaults = _object({
        "scheduler": _enum(R.SCHEDULERS, "Default scheduler.", default=DEFAULT_SCHEDULER),
        "forward": _enum(R.FORWARDS, "Default forwarding method.", default=DEFAULT_FORWARD),
        "weight": _int(R.WEIGHT, "Default real-server weight.", default=DEFAULT_WEIGHT),
        "protocol": _enum(R.PROTOCOLS, "Default protocol.", default="tcp"),
        "check": _check(),
        "min_healthy": min_healthy,
    }, "Inherited by every service and real server that does not say otherwise.")
    scope = _object({
        "vips": {"type": ["array", "null"], "description": "Networks whose services this file "
                                                           "owns (CIDR).",
                 "items": {"type": "string"}},
        "fwmarks": {"type": ["array", "null"], "description": "Marks or ranges (\"100-199\").",
                    "items": {"oneOf": [_int(R.FWMARK, "A mark."),
                                        {"type": "string", "pattern": R.FWMARK_RANGE_PATTERN}]}},
    }, "What this file owns beyond what it lists: services inside it but not in the file are "
       "removed.")
    director = _object({
        "timeouts": _object({
            name: _int(R.TIMEOUT, f"{name} timeout in seconds.") for name in R.TIMEOUT_KEYS
        }, "IPVS connection timeouts; unset = left as they are."),
        "sysctls": {"type": ["object", "null"], "description": "net.ipv4.vs.* settings.",
                    "propertyNames": {"enum": list(R.SYSCTLS)},
                    "properties": {name: {
                        "type": "array", "minItems": 2, "maxItems": 2,
                        "items": _int(R.SYSCTL_VALUE, "Value."),
                        "description": f"[{first}, {second}], as the kernel reads them."}
                        for name, (first, second) in R.PAIR_SYSCTLS.items()},
                    "additionalProperties": _int(R.SYSCTL_VALUE, "Value.")},
        "drain_timeout": _int(R.DRAIN_TIMEOUT, "Seconds to wait for a removed real server's "
                                               "connections before deleting it."),
        "reconcile_interval": _seconds(R.RECONCILE_INTERVAL, "`ipvsctl run`: seconds between "
                                                             "full reads of the live table.",
                                       default=DEFAULT_RECONCILE_INTERVAL),
    }, "Director-wide settings.")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ipvsctl cluster file",
        "type": "object",
        "additionalProperties": False,
        "required": ["services"],
        "properties": {
            "defaults": defaults,
            "scope": scope,
            "director": director,
            "ha": _ha(),
            "bgp": _bgp(),
            "services": {"type": "array", "items": service, "description": "Virtual services."},
        },
    }


def _announce(min_healthy: dict[str, Any]) -> dict[str, Any]:
    return {"description": "Announce the VIP over BGP while this service is healthy: true "
                           "(min_healthy 1) or settings. Needs a bgp section.",
            "oneOf": [{"type": "boolean"}, _object({
                "min_healthy": {**min_healthy, "description": "Announce while at least this "
                                "many real servers are healthy: a count or a percentage."},
                "med": _int(R.MED, "The route's MED (equal on every director, or no ECMP)."),
                "communities": {"type": ["array", "null"], "maxItems": R.MAX_COMMUNITIES,
                                "uniqueItems": True, "description": "Communities, AS:VALUE.",
                                "items": {"type": "string", "pattern": R.COMMUNITY_PATTERN}},
            }, "Announcement settings.")]}


def _bgp() -> dict[str, Any]:
    neighbour = _object({
        "address": _address("The router's address (its family: the VIPs it is sent)."),
        "as": _int(R.ASN, "The router's AS."),
        "port": _int(R.BGP_PORT, "Its BGP port.", default=179),
    }, "A router to announce to.", nullable=False, required=["address", "as"])
    neighbours = {"type": ["array", "null"], "maxItems": R.MAX_NEIGHBOURS, "items": neighbour,
                  "description": "The routers every director peers with."}
    director = _object({
        "name": {"type": "string", "pattern": R.NAME_PATTERN,
                 "description": "The director's name (`--node`), unique in the file."},
        "hostname": {"type": "string", "pattern": R.HOSTNAME_PATTERN,
                     "description": "Its host name, if not its name (`--node` default)."},
        "router_id": {"type": "string", "description": "BGP router id (an IPv4 address)."},
        "local_address": _address("Source address of its sessions (of that family)."),
        "local_as": _int(R.ASN, "Its AS, if not bgp.local_as."),
        "neighbours": {**neighbours, "description": "Its routers, if not bgp.neighbours."},
    }, "A director announcing the VIPs.", nullable=False, required=["name", "router_id"])
    bfd = {"description": "BFD on every session (the routers must run it too): true "
                          "(100 ms x 3) or settings.",
           "oneOf": [{"type": "boolean"}, _object({
               "interval_ms": _int(R.BFD_INTERVAL_MS, "Milliseconds between packets.",
                                   default=100),
               "multiplier": _int(R.BFD_MULTIPLIER, "Packets lost before the session is "
                                                    "down.", default=3),
           }, "BFD settings.")]}
    return _object({
        "local_as": _int(R.ASN, "The directors' AS."),
        "hold_time": _int(R.HOLD_TIME, "BGP hold time in seconds (keepalive: a third).",
                          default=R.DEFAULT_HOLD_TIME),
        "bfd": bfd,
        "withdraw_wait": _seconds(R.WITHDRAW_WAIT, "Seconds between withdrawing the VIPs and "
                                                   "stopping on SIGTERM.",
                                  default=R.DEFAULT_WITHDRAW_WAIT),
        "neighbours": neighbours,
        "directors": {"type": "array", "minItems": 1, "maxItems": R.MAX_BGP_DIRECTORS,
                      "items": director, "description": "The directors sharing this file."},
    }, "Many directors behind a router's ECMP: each announces its healthy services' VIPs over "
       "BGP (BIRD 2, driven by `ipvsctl run`).", required=["directors"])


def _ha() -> dict[str, Any]:
    interface = {"type": "string", "pattern": R.INTERFACE_PATTERN,
                 "description": "Interface name (the VIPs and VRRP adverts go there)."}
    director = _object({
        "name": {"type": "string", "pattern": R.NAME_PATTERN,
                 "description": "The director's name (`--node`), unique in the file."},
        "hostname": {"type": "string", "pattern": R.HOSTNAME_PATTERN,
                     "description": "Its host name, if not its name (`--node` default)."},
        "address": _address("Its address on the VRRP interface (required with unicast)."),
        "priority": _int(R.PRIORITY, "VRRP base priority; healthy adds health_weight."),
        "interface": {**interface, "description": "Its VRRP interface, if not ha.interface."},
    }, "A director sharing this file.", nullable=False, required=["name"])
    sync = {"description": "The IPVS connection sync daemon: true (defaults), false (stopped), "
                           "or settings. Unset: left as it is.",
            "oneOf": [{"type": "boolean"}, _object({
                "interface": {**interface, "description": "Multicast interface (default: the "
                                                          "VRRP interface)."},
                "id": _int(R.SYNC_ID, "Sync id (default: virtual_router_id)."),
                "maxlen": _int(R.SYNC_MAXLEN, "UDP payload size (default: MTU - 28)."),
                "port": _int(R.SYNC_PORT, "Multicast port.", default=DEFAULT_SYNC_PORT),
                "ttl": _int(R.SYNC_TTL, "Multicast TTL.", default=DEFAULT_SYNC_TTL),
                "group": {"type": "string", "default": DEFAULT_SYNC_GROUP,
                          "description": "Multicast group (IPv4 or IPv6)."},
            }, "Sync daemon settings.")]}
    advert = {"description": "Seconds between adverts; fractions (0.01 steps) need VRRPv3.",
              "anyOf": [_int(R.ADVERT_V2, "Whole seconds."),
                        {"type": "number", "minimum": 0.01, "maximum": 40.95}],
              "default": 1}
    return _object({
        "virtual_router_id": _int(R.VIRTUAL_ROUTER_ID, "VRRP virtual router id."),
        "interface": interface,
        "advert_interval": advert,
        "vrrp_version": {"type": "integer", "enum": list(R.VRRP_VERSIONS),
                         "description": "VRRP version (default 2; 3 for a fractional advert)."},
        "transport": _enum(R.TRANSPORTS, "Adverts to the other directors' addresses, or to "
                                         "224.0.0.18.", default="unicast"),
        "health_weight": _int(R.HEALTH_WEIGHT, "Priority added while `ipvsctl run` reports "
                                               "healthy.", default=R.DEFAULT_HEALTH_WEIGHT),
        "vips": {"type": ["array", "null"], "items": _address("An address."),
                 "description": "Addresses keepalived holds beyond the services' VIPs."},
        "directors": {"type": "array", "minItems": 2, "maxItems": R.MAX_DIRECTORS,
                      "items": director, "description": "The directors sharing this file."},
        "sync": sync,
    }, "Director HA: keepalived's VRRP (rendered by `ipvsctl ha render`) and the sync daemon.",
        required=["virtual_router_id", "directors"])
