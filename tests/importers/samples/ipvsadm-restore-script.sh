#!/bin/sh
# Restore script for the web VIP, written by hand over the years.
ipvsadm -C
ipvsadm --set 7200 120 0

ipvsadm --add-service --tcp-service 192.0.2.40:80 --scheduler wlc --persistent --netmask 255.255.0.0
ipvsadm --add-server --tcp-service 192.0.2.40:80 --real-server 10.0.4.1 \
        --gatewaying --weight 5 --u-threshold 1000 --l-threshold 800
ipvsadm -a -t 192.0.2.40:80 -r 10.0.4.2 -g -w 5 -x 1000 -y 800
ipvsadm -a -t 192.0.2.40:80 -r 10.0.4.3:8080 -g -w 5     # the port is ignored for DR
ipvsadm -e -t 192.0.2.40:80 -r 10.0.4.2 -g -w 0          # drain .2
ipvsadm -A -t 192.0.2.41:80 -swrr -p900
ipvsadm -D -t 192.0.2.41:80
/sbin/ipvsadm --start-daemon master --mcast-interface eth0
echo "IPVS table restored"
