#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the built packages into a fresh minimal Debian 12 root (debootstrap, as an image pipeline does)
# and checks them there: the files land where debian/*.install says, `ccagent --version` and `man ccagent`
# work, the ccbroker user exists, nothing was started or enabled, and removing keeps the conffile while
# purging removes it. Usage: scripts/testing/deb_install_test.sh DEB_DIR   (as root)
set -euo pipefail

debs=$(cd "${1:?usage: $0 DEB_DIR}" && pwd)
repo=$(cd "$(dirname "$0")/../.." && pwd)
mirror=${CCAGENT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/ccagent-deb
work=$(mktemp -d /tmp/ccagent-deb-test.XXXXXX)
root=$work/root
cleanup() {
    umount "$root/proc" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "deb-test: FAIL: $*" >&2; exit 1; }
in_root() { chroot "$root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }

# A minimal bookworm root; the downloaded packages are kept as a tarball so later runs start offline.
mkdir -p "$cache"
tarball=$cache/bookworm-minbase.tgz
if [[ ! -f $tarball ]]; then
    echo "deb-test: debootstrap --make-tarball (once; cached in $cache)"
    debootstrap --variant=minbase --make-tarball="$tarball.part" bookworm "$work/tarball-root" "$mirror" >/dev/null
    mv "$tarball.part" "$tarball"
fi
echo "deb-test: debootstrap a fresh minimal Debian 12 root"
debootstrap --variant=minbase --unpack-tarball="$tarball" bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log"; fail "debootstrap"; }
mount -t proc proc "$root/proc"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# man-db is what `man` needs; a minbase root excludes manual pages unless told otherwise (dpkg path-exclude).
rm -f "$root/etc/dpkg/dpkg.cfg.d/excludes"
agent_deb=$(cd "$debs" && echo ccagent_*_amd64.deb)
broker_deb=$(cd "$debs" && echo ccbroker_*_amd64.deb)
[[ -f $debs/$agent_deb && -f $debs/$broker_deb ]] || fail "no ccagent and ccbroker packages in $debs"
cp "$debs/$agent_deb" "$debs/$broker_deb" "$root/tmp/"
echo "deb-test: apt-get install ./$agent_deb ./$broker_deb man-db"
in_root apt-get update -qq
in_root apt-get install -y -qq --no-install-recommends man-db "/tmp/$agent_deb" "/tmp/$broker_deb" \
    >"$work/install.log" 2>&1 || { tail -30 "$work/install.log"; fail "apt-get install"; }

# Every path the packaging lists is installed and owned by its package.
for package in ccagent ccbroker; do
    while read -r path; do
        [[ -z $path ]] && continue
        [[ -e $root/$path ]] || fail "$package: /$path is missing"
        in_root dpkg -S "/$path" 2>/dev/null | grep -q "^$package:" || fail "/$path is not owned by $package"
    done <"$repo/debian/$package.install"
done
# shellcheck disable=SC2016  # dpkg-query's own ${field} syntax
in_root dpkg-query -W -f='${Conffiles}\n' ccagent | grep -q '/etc/ccagent/ccagent.conf' \
    || fail "/etc/ccagent/ccagent.conf is not a conffile"

version=$(in_root ccagent --version)
[[ $version == "$(dpkg-parsechangelog -l "$repo/debian/changelog" -S Version)" ]] || fail "ccagent --version says '$version'"
in_root ccbroker --version >/dev/null || fail "ccbroker --version"
in_root man -P cat ccagent 2>/dev/null | grep -q 'In-guest attestation agent' || fail "man ccagent"
in_root man -P cat 5 ccagent.conf 2>/dev/null | grep -q 'snp-key-fields' || fail "man 5 ccagent.conf"
in_root man -P cat ccbroker 2>/dev/null | grep -q 'allow-any-measurement' || fail "man ccbroker"
in_root id ccbroker >/dev/null || fail "the ccbroker system user was not created"
for unit in ccagent.service ccagent-unlock.service ccbroker.service; do
    state=$(systemctl --root="$root" is-enabled "$unit" 2>/dev/null || true)
    [[ $state == disabled ]] || fail "$unit is '$state' after install (expected disabled)"
done
pgrep -f "$root/usr/bin/ccbroker" >/dev/null && fail "ccbroker was started at install"
echo "deb-test: installed: files, conffile, --version, manual pages, user, units disabled, nothing started"

# remove keeps the (modified) conffile, purge removes it.
echo "# local change" >>"$root/etc/ccagent/ccagent.conf"
in_root apt-get remove -y -qq ccagent >/dev/null 2>&1 || fail "apt-get remove"
[[ -f $root/etc/ccagent/ccagent.conf ]] || fail "remove deleted the conffile"
[[ ! -e $root/usr/bin/ccagent ]] || fail "remove left /usr/bin/ccagent"
# shellcheck disable=SC2016  # dpkg-query's own ${field} syntax
in_root dpkg-query -W -f='${db:Status-Abbrev}' ccagent | grep -q '^rc' || fail "ccagent is not in state rc"
in_root apt-get purge -y -qq ccagent ccbroker >/dev/null 2>&1 || fail "apt-get purge"
[[ ! -e $root/etc/ccagent/ccagent.conf ]] || fail "purge left /etc/ccagent/ccagent.conf"
echo "deb-test: remove keeps the conffile, purge removes it"
echo "deb-test: PASS"
