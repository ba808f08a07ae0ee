"""The cluster file's vocabulary: keys, choices and ranges.

One table shared by the validator (`loader.py`) and the JSON Schema (`json_schema.py`), so the
two cannot drift apart.
"""

from __future__ import annotations

from ipvsctl.model import (
    FORWARDS,
    MAX_PERSISTENCE_TIMEOUT,
    PERSISTENCE_ENGINES,
    PROTOCOLS,
    SCHED_FLAG_BITS,
    SCHEDULERS,
    TUNNEL_CSUMS,
    TUNNEL_TYPES,
)

TOP_KEYS = ("defaults", "scope", "director", "services")
DEFAULTS_KEYS = ("scheduler", "forward", "weight", "protocol")
SCOPE_KEYS = ("vips", "fwmarks")
DIRECTOR_KEYS = ("timeouts", "sysctls", "drain_timeout")
TIMEOUT_KEYS = ("tcp", "tcpfin", "udp")
SERVICE_KEYS = (
    "name", "vip", "port", "protocol", "fwmark", "family", "scheduler", "scheduler_flags",
    "persistence", "one_packet", "forward", "real_servers",
)
PERSISTENCE_KEYS = ("timeout", "netmask", "engine")
REAL_SERVER_KEYS = (
    "address", "port", "weight", "state", "forward", "tunnel", "upper_threshold",
    "lower_threshold",
)
TUNNEL_KEYS = ("type", "port", "csum")

# Settings under net.ipv4.vs that ipvsctl may manage (integer-valued ones).
SYSCTLS = (
    "am_droprate", "amemthresh", "backup_only", "cache_bypass", "conn_reuse_mode", "conntrack",
    "drop_entry", "drop_packet", "expire_nodest_conn", "expire_quiescent_template",
    "ignore_tunneled", "nat_icmp_send", "pmtu_disc", "schedule_icmp", "secure_tcp",
    "sloppy_sctp", "sloppy_tcp", "snat_reroute", "sync_persist_mode", "sync_ports",
    "sync_qlen_max", "sync_refresh_period", "sync_retries", "sync_sock_size", "sync_threshold",
    "sync_version", "run_estimation", "est_nice",
)
# Known to the kernel but not integers, so not representable here (Director.sysctls is int).
UNMANAGED_SYSCTLS = {
    "est_cpulist": "takes a CPU list, which ipvsctl does not manage; set it with sysctl",
}

FAMILIES = {"ipv4": 4, "ipv6": 6}
STATES = ("active", "draining")
# Which scheduler each scheduler flag belongs to (they share kernel bits).
FLAG_SCHEDULER = {flag: flag.split("-", 1)[0] for flag in SCHED_FLAG_BITS}
SCHEDULER_FLAGS = tuple(SCHED_FLAG_BITS)
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
FWMARK_RANGE_PATTERN = r"^\s*[0-9]+\s*-\s*[0-9]+\s*$"
DOTTED_MASK_PATTERN = r"^[0-9]{1,3}(\.[0-9]{1,3}){3}$"

# Inclusive ranges.
PORT = (0, 65535)
WEIGHT = (0, 65535)
FWMARK = (1, 2**32 - 1)
THRESHOLD = (0, 2**32 - 1)
PERSISTENCE_TIMEOUT = (1, MAX_PERSISTENCE_TIMEOUT)
TIMEOUT = (1, 2147483)  # seconds; the kernel keeps them in jiffies in an int
DRAIN_TIMEOUT = (0, 2**31 - 1)
SYSCTL_VALUE = (0, 2**31 - 1)
TUNNEL_PORT = (1, 65535)
PREFIX_V4 = (1, 32)
PREFIX_V6 = (1, 128)

__all__ = [
    "FORWARDS", "PERSISTENCE_ENGINES", "PROTOCOLS", "SCHEDULERS", "TUNNEL_CSUMS", "TUNNEL_TYPES",
]
