#!/usr/bin/env bash
# The client needs nothing but its address on the segment (set by Vagrant) and the tools that
# install.sh brought (curl, socat). Traffic and checks: vagrant/check.sh.
#   client.sh CLUSTER_FILE OWN_ADDRESS
set -euo pipefail
ip -o -4 address show to "$2/32" | grep -q . || { echo "no $2 here" >&2; exit 1; }
