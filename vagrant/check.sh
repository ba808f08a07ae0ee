#!/usr/bin/env bash
# From the host, after `vagrant up`: send traffic from the client and check direct routing.
#   12 HTTP requests and 12 datagrams to the VIP: hits per real server (weights 1:2 and 1:1);
#   the director's IPVS OutPkts (0 in DR); the VIP's MAC on the client (= the director's).
set -euo pipefail
cd -- "$(dirname -- "${BASH_SOURCE[0]}")"
vip=10.10.0.100
on() { local machine=$1; shift; vagrant ssh "$machine" -c "sudo $*" 2>/dev/null; }

echo "== HTTP hits (expect 10.10.0.11: 4, 10.10.0.12: 8)"
on client "sh -c 'for i in \$(seq 12); do curl -s --max-time 3 http://$vip/; done'" | sort | uniq -c
echo "== UDP hits (expect 6 each)"
on client "sh -c 'for i in \$(seq 12); do echo hi | socat -T2 - UDP4:$vip:53; done'" | sort | uniq -c
echo "== director (OutPkts must be 0 in DR)"
on director "ipvsctl show"
director_mac=$(on director "sh -c 'cat /sys/class/net/\$(ip -o -4 address show to 10.10.0.254/32 | cut -d\" \" -f2)/address'" | tr -d '[:space:]')
client_mac=$(on client "ip neigh show $vip" | awk '{print $5}')
echo "== VIP $vip on the client resolves to ${client_mac:-nothing}; the director's MAC is $director_mac"
if [[ -n $client_mac && $client_mac == "$director_mac" ]]; then
    echo "PASS: the client reaches the VIP through the director"
else
    echo "FAIL: the VIP does not resolve to the director (ARP flux?)"; exit 1
fi
