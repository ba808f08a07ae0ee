"""ipvsctl: declarative Linux IPVS direct-routing load balancing."""

__version__ = "0.1.0"
