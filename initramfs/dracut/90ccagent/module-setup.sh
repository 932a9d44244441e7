#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# dracut module: ccagent's attested LUKS2 unlock in the systemd initrd.
#
# Files come from the running system. CCAGENT_DESTDIR=DIR takes ccagent's own files (binary, unit,
# catalog, configuration, broker CA, crypttab) from a staged `make install DESTDIR=DIR` tree instead,
# for image pipelines that build the initramfs before installing the package.

# Azure confidential VMs (docs/azure.md): with CCAGENT_AZURE=1, or a configuration whose `tee` is az-snp
# or az-tdx, the TPM drivers and the tpm2-tss libraries ccagent dlopens are added too. Other images do
# not grow: ccagent never needs them off Azure.

# shellcheck disable=SC2034,SC2154  # dracut provides $initdir, $systemdsystemunitdir, inst_* helpers

# ccagent_azure CONFIG: whether the image is built for Azure.
ccagent_azure() {
    [[ ${CCAGENT_AZURE:-0} == 1 ]] && return 0
    [[ -f $1 ]] && grep -Eq '^[[:space:]]*tee[[:space:]]*=[[:space:]]*"?az-(snp|tdx)"?[[:space:]]*(#.*)?$' "$1"
}

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
    # Loaded with dlopen on first use, so the ELF dependency walk above does not see them: libcryptsetup
    # (required) and libsystemd (journald logging; without it the agent logs to kmsg).
    inst_libdir_file "libcryptsetup.so.12*" || dfatal "ccagent: libcryptsetup.so.12 not found (libcryptsetup12)"
    inst_libdir_file -o "libsystemd.so.0*"
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
    if ccagent_azure "$root/etc/ccagent/ccagent.conf"; then
        # The paravisor's vTPM (CRB on Azure, TIS elsewhere) and the libraries VTPM dlopens; dracut
        # follows their dependencies (libtss2-sys, libtss2-mu, libcrypto).
        instmods tpm_crb tpm_tis 2>/dev/null || :
        inst_libdir_file "libtss2-esys.so.0*" "libtss2-tctildr.so.0*" "libtss2-tcti-device.so.0*" ||
            dfatal "ccagent: Azure image needs libtss2-esys-3.0.2-0, libtss2-tctildr0 and libtss2-tcti-device0"
    fi
    inst_dir /run/cryptsetup
    return 0
}
