#!/usr/bin/env bash
# Every machine: ipvsctl from the synced repository into /opt/ipvsctl, and `ipvsctl` on PATH.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends python3-venv iproute2 ipvsadm kmod curl socat
if [[ ! -x /opt/ipvsctl/bin/python ]]; then
    python3 -m venv /opt/ipvsctl
fi
/opt/ipvsctl/bin/pip install --quiet --upgrade /ipvsctl
ln -sf /opt/ipvsctl/bin/ipvsctl /usr/local/bin/ipvsctl
ipvsctl --help >/dev/null
