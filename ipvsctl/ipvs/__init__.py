"""The kernel adapter for IPVS: the only code in ipvsctl that speaks IPVS netlink."""

from ipvsctl.ipvs._adapter import BATCH, IpvsAdapter, ipvs_available

__all__ = ["BATCH", "IpvsAdapter", "ipvs_available"]
