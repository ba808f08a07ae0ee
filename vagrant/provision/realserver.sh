#!/usr/bin/env bash
# A real server: the same backend setup the lab runs (VIPs on lo, ARP sysctls on the
# client-facing interface), persisted for reboots, then the services the lab's servers offer:
# HTTP answering this server's address (GET /big: 1 MB), a UDP echo answering it too.
#   realserver.sh CLUSTER_FILE OWN_ADDRESS
set -euo pipefail
cluster=$1 own=$2
ipvsctl backend-setup "$cluster" --persist

mkdir -p /srv/lab
printf '%s\n' "$own" >/srv/lab/index.html
head -c 1048576 /dev/zero >/srv/lab/big
# Every service of the file that lists this host, as "protocol vip port" lines.
services=$(/opt/ipvsctl/bin/python - "$cluster" "$own" <<'PY'
import sys
from ipvsctl.config import load
for key, svc in sorted(load(sys.argv[1]).services.items()):
    if not key.is_fwmark and any(rs.key.address == sys.argv[2] for rs in svc.real_servers.values()):
        print(key.protocol, key.address, key.port)
PY
)
while read -r protocol vip port; do
    unit=lab-$protocol-$port
    systemctl stop "$unit" 2>/dev/null || true
    case $protocol in
        tcp) systemd-run --unit="$unit" --collect \
                 python3 -m http.server "$port" --directory /srv/lab ;;
        # Bound to the VIP, so DR replies leave from the VIP (a wildcard UDP socket answers from
        # the interface's own address, and the client drops that).
        udp) systemd-run --unit="$unit" --collect \
                 socat "UDP4-RECVFROM:$port,bind=$vip,fork" "SYSTEM:echo $own" ;;
    esac
done <<<"$services"
ipvsctl backend-check "$cluster" || true
