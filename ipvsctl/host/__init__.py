"""The host beneath both roles: network namespaces, sysctl I/O, state records and locks."""
