#!/usr/bin/env bash
# The director: the VIPs on its private interface (as keepalived would put them; the lab does
# the same), then the one command that makes the IPVS table match the file.
#   director.sh CLUSTER_FILE OWN_ADDRESS
set -euo pipefail
cluster=$1 own=$2
iface=$(ip -o -4 address show to "$own/32" | awk '{print $2; exit}')
[[ -n $iface ]] || { echo "director.sh: no interface holds $own" >&2; exit 1; }
modprobe ip_vs
# The VIPs as ipvsctl's own loader reads them (every default filled, every problem reported).
vips=$(/opt/ipvsctl/bin/python - "$cluster" <<'PY'
import sys
from ipvsctl.config import load
print(" ".join(sorted({k.address for k in load(sys.argv[1]).services if not k.is_fwmark})))
PY
)
for vip in $vips; do
    ip address replace "$vip/32" dev "$iface"
done
ipvsctl apply "$cluster"
ipvsctl show
