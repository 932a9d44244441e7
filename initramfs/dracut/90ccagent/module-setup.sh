#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# dracut module: ccagent's attested LUKS2 unlock in the systemd initrd.

# shellcheck disable=SC2034,SC2154  # dracut provides $initdir, $systemdsystemunitdir, inst_* helpers

check() {
    require_binaries ccagent || return 1
    # Only when a LUKS2 volume is needed at boot, unless asked explicitly.
    return 255
}

depends() {
    echo systemd network crypt
    return 0
}

install() {
    inst_binary ccagent
    inst_simple "${systemdsystemunitdir}/ccagent-unlock.service"
    systemctl --root "$initdir" add-wants cryptsetup.target ccagent-unlock.service
    inst_simple /etc/ccagent/ccagent.conf
    [[ -f /etc/ccagent/broker-ca.pem ]] && inst_simple /etc/ccagent/broker-ca.pem
    [[ -f /usr/lib/systemd/catalog/ccagent.catalog ]] && inst_simple /usr/lib/systemd/catalog/ccagent.catalog
    [[ -f /etc/crypttab ]] && inst_simple /etc/crypttab
    # TLS and name resolution for the broker.
    inst_multiple -o /etc/ssl/certs/ca-certificates.crt /etc/resolv.conf /etc/hosts /etc/nsswitch.conf
    inst_libdir_file -o "libnss_dns.so.*" "libnss_files.so.*" "libresolv.so.*"
    # The TEE guest drivers.
    instmods -c sev-guest tdx-guest 2>/dev/null || :
    inst_dir /run/cryptsetup
}
