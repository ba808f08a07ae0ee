#!/bin/bash
# A restore script as found in deployment guides: sudo in front, ipvsadm by its full path,
# shell variables for the addresses, and a listing at the end to show the result.
VIP=192.0.2.45
PORT=443
sudo ipvsadm -C
sudo /usr/sbin/ipvsadm -A -t ${VIP}:${PORT} -s rr
sudo /usr/sbin/ipvsadm -a -t $VIP:$PORT -r 10.0.5.1 -g -w 1
sudo -u root ipvsadm -a -t $VIP:$PORT -r 10.0.5.2 -g -w 1 && echo added
sudo ipvsadm -L -n
