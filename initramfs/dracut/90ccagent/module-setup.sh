#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# dracut module: ccagent's attested LUKS2 unlock in the systemd initrd.
#
# Files come from the running system. CCAGENT_DESTDIR=DIR takes ccagent's own files (binary, unit,
# catalog, configuration, broker CA, crypttab) from a staged `make install DESTDIR=DIR` tree instead,
# for image pipelines that build the initramfs before installing the package.

# shellcheck disable=SC2034,SC2154  # dracut provides $initdir, $systemdsystemunitdir, inst_* helpers

check() {
    require_binaries "${CCAGENT_DESTDIR:-}/usr/bin/ccagent" || return 1
    # Only when a LUKS2 volume is needed at boot, unless asked explicitly.
    return 255
}

depends() {
    echo systemd network crypt
    return 0
}

# ccagent_inst PATH: install PATH (from CCAGENT_DESTDIR when set) at PATH in the initramfs.
ccagent_inst() {
    inst_simple "${CCAGENT_DESTDIR:-}$1" "$1"
}

install() {
    local root=${CCAGENT_DESTDIR:-}
    inst_binary "$root/usr/bin/ccagent" /usr/bin/ccagent
    # make install puts units in /usr/lib/systemd/system; dracut's unit directory may be /lib's.
    local unit=$root/usr/lib/systemd/system/ccagent-unlock.service
    [[ -f $unit ]] || unit=$root${systemdsystemunitdir}/ccagent-unlock.service
    inst_simple "$unit" "${systemdsystemunitdir}/ccagent-unlock.service"
    systemctl -q --root "$initdir" add-wants cryptsetup.target ccagent-unlock.service
    ccagent_inst /etc/ccagent/ccagent.conf
    [[ -f $root/etc/ccagent/broker-ca.pem ]] && ccagent_inst /etc/ccagent/broker-ca.pem
    [[ -f $root/usr/lib/systemd/catalog/ccagent.catalog ]] && ccagent_inst /usr/lib/systemd/catalog/ccagent.catalog
    [[ -f $root/etc/crypttab ]] && ccagent_inst /etc/crypttab
    # TLS and name resolution for the broker. Never the build machine's /etc/resolv.conf: the resolver
    # comes from the boot's own network configuration (DHCP, or ip=...:DNS1:DNS2), which dracut's network
    # module writes to /etc/resolv.conf in the initrd.
    inst_multiple -o /etc/ssl/certs/ca-certificates.crt /etc/hosts /etc/nsswitch.conf
    # With systemd-networkd in the initrd nothing writes /etc/resolv.conf: a step before the agent does.
    inst_multiple sed grep
    inst_script "$moddir/ccagent-resolv.sh" /usr/libexec/ccagent/ccagent-resolv
    mkdir -p "$initdir${systemdsystemunitdir}/ccagent-unlock.service.d"
    printf '[Service]\nExecStartPre=/usr/libexec/ccagent/ccagent-resolv\n' \
        >"$initdir${systemdsystemunitdir}/ccagent-unlock.service.d/resolv.conf"
    inst_libdir_file -o "libnss_dns.so.*" "libnss_files.so.*" "libresolv.so.*"
    # The TEE guest drivers.
    instmods -c sev-guest tdx-guest 2>/dev/null || :
    inst_dir /run/cryptsetup
    return 0
}
