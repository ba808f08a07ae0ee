"""The real-server side: VIPs on a non-ARP interface, ARP sysctls, boot-time files, checks."""
