"""The words and numbers of IPVS as ipvsctl reads them: keys, choices, ranges, scheduler flags.

The one source for every name list and range: the validator (`loader.py`), the JSON fast path,
the JSON Schema (`json_schema.py`), the command-line references, the importers and the IPVS
adapter read them here, so they cannot drift apart. Plain data: it imports nothing.
"""

from __future__ import annotations

PROTOCOLS = ("tcp", "udp", "sctp")
FORWARDS = ("dr", "tunnel", "nat")
TUNNEL_TYPES = ("ipip", "gue", "gre")
TUNNEL_CSUMS = ("nocsum", "csum", "remcsum")
# Every scheduler the kernel ships (twos only from Linux 6.2 on).
SCHEDULERS = (
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos",
)
PERSISTENCE_ENGINES = ("sip",)

# The kernel has three scheduler flag bits (IP_VS_SVC_F_SCHED1..3) and each scheduler gives them
# its own meaning: a named flag is (its scheduler, its bit number 1..3). A bit the service's
# scheduler has no name for reads as flag-1..flag-3, ipvsadm's names.
SCHEDULER_FLAG_BITS: dict[str, tuple[str, int]] = {
    "sh-fallback": ("sh", 1), "sh-port": ("sh", 2),
    "mh-fallback": ("mh", 1), "mh-port": ("mh", 2),
}
GENERIC_FLAGS = ("flag-1", "flag-2", "flag-3")


def scheduler_flag(scheduler: str, number: int) -> str | None:
    """The scheduler's name for flag bit `number` (1..3), or None if it gives the bit none."""
    for name, (owner, bit) in SCHEDULER_FLAG_BITS.items():
        if owner == scheduler and bit == number:
            return name
    return None


TOP_KEYS = ("defaults", "scope", "director", "ha", "bgp", "services")
DEFAULTS_KEYS = ("scheduler", "forward", "weight", "protocol", "check", "min_healthy")
SCOPE_KEYS = ("vips", "fwmarks")
DIRECTOR_KEYS = ("timeouts", "sysctls", "drain_timeout", "reconcile_interval")
TIMEOUT_KEYS = ("tcp", "tcpfin", "udp")
SERVICE_KEYS = (
    "name", "vip", "port", "protocol", "fwmark", "family", "scheduler", "scheduler_flags",
    "persistence", "one_packet", "forward", "check", "min_healthy", "sorry_server",
    "announce", "real_servers",
)
PERSISTENCE_KEYS = ("timeout", "netmask", "engine")
REAL_SERVER_KEYS = (
    "address", "port", "weight", "state", "forward", "tunnel", "upper_threshold",
    "lower_threshold", "check",
)
TUNNEL_KEYS = ("type", "port", "csum")
# A sorry server is a real server that is never checked.
SORRY_SERVER_KEYS = tuple(k for k in REAL_SERVER_KEYS if k not in ("check", "state"))

# Health checks (`check:` under defaults, a service or a real server; docs/health.md).
CHECK_TYPES = ("tcp", "http", "https", "udp", "dns", "exec", "none")
CHECK_COMMON_KEYS = ("type", "interval", "timeout", "rise", "fall", "port", "via")
# Each type's own keys; a key of another type is refused.
CHECK_TYPE_KEYS: dict[str, tuple[str, ...]] = {
    "tcp": (),
    "http": ("path", "status", "body", "host"),
    "https": ("path", "status", "body", "host", "sni", "verify"),
    "udp": ("payload", "expect"),
    "dns": ("name", "query_type", "rcode"),
    "exec": ("argv",),
    "none": (),
}
CHECK_KEYS = CHECK_COMMON_KEYS + tuple(dict.fromkeys(
    k for keys in CHECK_TYPE_KEYS.values() for k in keys))
CHECK_VIAS = ("vip", "address")
DNS_TYPES = ("A", "AAAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT", "ANY")
DNS_RCODES = ("NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED")
HTTP_PATH_PATTERN = r"^/[\x21-\x7e]*$"  # printable ASCII, no space: one request-target
HTTP_STATUS_PATTERN = r"^\s*[1-5][0-9][0-9]\s*(-\s*[1-5][0-9][0-9]\s*)?$"
MIN_HEALTHY_PERCENT_PATTERN = r"^(100|[0-9]{1,2})(\.[0-9]{1,2})?%$"
# The director pair: keepalived's VRRP (rendered by ipvsctl) and the kernel's sync daemon.
HA_KEYS = (
    "virtual_router_id", "interface", "advert_interval", "vrrp_version", "transport",
    "health_weight", "vips", "directors", "sync",
)
HA_DIRECTOR_KEYS = ("name", "hostname", "address", "priority", "interface")
SYNC_KEYS = ("interface", "id", "maxlen", "port", "ttl", "group")
TRANSPORTS = ("unicast", "multicast")
# Many directors behind a router's ECMP: each announces the VIPs of its healthy services over
# BGP (BIRD 2 speaks it; ipvsctl renders its configuration and drives it).
BGP_KEYS = ("local_as", "hold_time", "bfd", "withdraw_wait", "neighbours", "directors")
BGP_DIRECTOR_KEYS = ("name", "hostname", "router_id", "local_address", "local_as",
                     "neighbours")
BGP_NEIGHBOUR_KEYS = ("address", "as", "port")
BFD_KEYS = ("interval_ms", "multiplier")
ANNOUNCE_KEYS = ("min_healthy", "med", "communities")
VRRP_VERSIONS = (2, 3)

# Settings under net.ipv4.vs that ipvsctl may manage (integer-valued ones).
SYSCTLS = (
    "am_droprate", "amemthresh", "backup_only", "cache_bypass", "conn_reuse_mode", "conntrack",
    "drop_entry", "drop_packet", "expire_nodest_conn", "expire_quiescent_template",
    "ignore_tunneled", "nat_icmp_send", "pmtu_disc", "schedule_icmp", "secure_tcp",
    "sloppy_sctp", "sloppy_tcp", "snat_reroute", "sync_persist_mode", "sync_ports",
    "sync_qlen_max", "sync_refresh_period", "sync_retries", "sync_sock_size", "sync_threshold",
    "sync_version", "run_estimation", "est_nice",
)
# Settings the kernel reads as two integers, and what the two are (written as a list).
PAIR_SYSCTLS = {
    "sync_threshold": ("threshold", "period"),  # sync at the 3rd packet, then every 50th
}
# Known to the kernel but not integers, so not representable here.
UNMANAGED_SYSCTLS = {
    "est_cpulist": "takes a CPU list, which ipvsctl does not manage; set it with sysctl",
}

FAMILIES = {"ipv4": 4, "ipv6": 6}
STATES = ("active", "draining")
# The flags a cluster file may name, and the scheduler each belongs to.
SCHEDULER_FLAGS = tuple(SCHEDULER_FLAG_BITS)
FLAG_SCHEDULER = {flag: owner for flag, (owner, _) in SCHEDULER_FLAG_BITS.items()}
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
FWMARK_RANGE_PATTERN = r"^\s*[0-9]+\s*-\s*[0-9]+\s*$"
DOTTED_MASK_PATTERN = r"^[0-9]{1,3}(\.[0-9]{1,3}){3}$"

# Inclusive ranges.
PORT = (0, 65535)
WEIGHT = (0, 65535)
FWMARK = (1, 2**32 - 1)
THRESHOLD = (0, 2**32 - 1)
PERSISTENCE_TIMEOUT = (1, 86400 * 31)  # ipvsadm's own limit
TIMEOUT = (1, 2147483)  # seconds; the kernel keeps them in jiffies in an int
DRAIN_TIMEOUT = (0, 2**31 - 1)
SYSCTL_VALUE = (0, 2**31 - 1)
TUNNEL_PORT = (1, 65535)
PREFIX_V4 = (1, 32)
PREFIX_V6 = (1, 128)
# Health checks: seconds as numbers (integers or with a fraction).
CHECK_INTERVAL = (0.1, 3600.0)
CHECK_TIMEOUT = (0.05, 600.0)  # and never more than the interval
CHECK_COUNT = (1, 100)  # rise, fall
CHECK_PORT = (1, 65535)
CHECK_PAYLOAD = 1400  # bytes of a UDP payload or expected reply: one unfragmented packet
CHECK_ARGV = 64  # arguments of an exec check
HTTP_STATUS = (100, 599)
MIN_HEALTHY = (0, 65535)  # a count of real servers
RECONCILE_INTERVAL = (1.0, 86400.0)  # seconds between full reads of the live table
VIRTUAL_ROUTER_ID = (1, 255)
PRIORITY = (1, 254)  # 255 is the address owner's, which a pair of directors never is
HEALTH_WEIGHT = (1, 253)
ADVERT_V2 = (1, 255)  # whole seconds
ADVERT_V3_CENTIS = (1, 4095)  # 0.01..40.95 s
DEFAULT_HEALTH_WEIGHT = 60
DEFAULT_PRIORITIES = (190, 180)  # first and second director; healthy: 250 and 240
SYNC_ID = (0, 255)  # the sync message header carries it in one byte
SYNC_MAXLEN = (1, 65507)  # the largest UDP payload over IPv4
SYNC_PORT = (1, 65535)
SYNC_TTL = (1, 255)
# A Linux interface name: 1..15 bytes (IFNAMSIZ - 1), not "." or "..", no '/', ':' or space.
INTERFACE_PATTERN = r"^(?!\.\.?$)[A-Za-z0-9_.+-]{1,15}$"
HOSTNAME_PATTERN = r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?" \
                   r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
MAX_DIRECTORS = 8
ASN = (1, 2**32 - 1)  # 4-byte AS numbers (RFC 6793); 0 is reserved
HOLD_TIME = (3, 65535)  # BGP allows 0 too (no keepalives): a dead director would stay routed
WITHDRAW_WAIT = (0.0, 300.0)  # seconds between the withdrawal and stopping on SIGTERM
BFD_INTERVAL_MS = (10, 10000)
BFD_MULTIPLIER = (1, 255)
MED = (0, 2**32 - 1)
COMMUNITY_PART = (0, 65535)
COMMUNITY_PATTERN = r"^[0-9]{1,5}:[0-9]{1,5}$"
MAX_COMMUNITIES = 32
MAX_NEIGHBOURS = 16
MAX_BGP_DIRECTORS = 64
BGP_PORT = (1, 65535)
DEFAULT_HOLD_TIME = 3  # keepalive 1: a director that dies is unrouted within 3 s
DEFAULT_WITHDRAW_WAIT = 2.0
