#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Name resolution for ccagent in a systemd initrd, from the boot's own network configuration: dracut's
# network-legacy writes /etc/resolv.conf itself, and systemd-resolved links it to its stub; with
# systemd-networkd alone nothing does. Then the DNS servers networkd learned (DHCP or ip=...:DNS1:DNS2)
# are written to /etc/resolv.conf, else those the kernel command line names (ip= fields 8 and 9,
# nameserver=). Never the build machine's resolver: the dracut module installs none.
if [ -L /etc/resolv.conf ] || grep -qs '^nameserver' /etc/resolv.conf; then
    exit 0
fi
servers=
for link in /run/systemd/netif/links/*; do
    [ -f "$link" ] || continue
    servers="$servers $(sed -n 's/^DNS=//p' "$link")"
done
case "$servers" in
*[0-9]*) have_servers=yes ;;
*) have_servers= ;;
esac
if [ -z "$have_servers" ]; then
    read -r cmdline </proc/cmdline
    for word in $cmdline; do
        case "$word" in
        nameserver=*) servers="$servers ${word#nameserver=}" ;;
        ip=*:*:*:*:*:*:*:*)
            fields=${word#ip=}
            old_ifs=$IFS IFS=:
            # shellcheck disable=SC2086  # split the ip= fields on ':'
            set -- $fields
            IFS=$old_ifs
            servers="$servers ${8:-} ${9:-}"
            ;;
        esac
    done
fi
for server in $servers; do
    case "$server" in
    *.*.*.*) echo "nameserver $server" ;;
    esac
done >/etc/resolv.conf.ccagent
if [ -s /etc/resolv.conf.ccagent ]; then
    mv /etc/resolv.conf.ccagent /etc/resolv.conf
else
    rm -f /etc/resolv.conf.ccagent
fi
exit 0
