#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job on a machine with no TEE: a ccbroker on 127.0.0.1 with a test CA, a LUKS2 image,
# enrollment on the SNP simulator, the secret stored at the broker, an attested unlock — then it
# stops everything it started. Usage: scripts/demo.sh [BUILD_DIR]   (default: swift build's bin dir)
set -euo pipefail

bin=${1:-$(swift build --show-bin-path)}
ccagent=$bin/ccagent
ccbroker=$bin/ccbroker
work=$(mktemp -d /tmp/ccagent-demo.XXXXXX)
broker_pid=
cleanup() {
    if [[ -n $broker_pid ]]; then kill "$broker_pid" 2>/dev/null || true; wait "$broker_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Test CA and a TLS certificate for the broker on 127.0.0.1"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=ccagent demo CA" \
    -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$work/broker.key" -out "$work/broker.csr" 2>/dev/null
openssl x509 -req -in "$work/broker.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial -days 2 \
    -extfile <(printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n') -out "$work/broker.pem" 2>/dev/null
echo "CA: $work/ca.pem"

step "SNP simulator (no TEE on this machine): a fresh chip with its own ARK/ASK/VCEK"
"$ccagent" simulator init --simulator-dir "$work/sim"
"$ccagent" simulator roots --simulator-dir "$work/sim" >"$work/sim-roots.pem"

step "ccbroker on 127.0.0.1 (TLS), trusting only this simulator's root and only its launch measurement"
measurement=$("$ccagent" simulator show --simulator-dir "$work/sim" | sed -n 's/^  measurement : //p')
printf '{"default": {"snp": {"measurements": ["%s"]}}}\n' "$measurement" >"$work/policy.json"
cat "$work/policy.json"
mkdir -m 0700 "$work/resources"
"$ccbroker" serve --listen 127.0.0.1:0 --resources "$work/resources" \
    --tls-cert "$work/broker.pem" --tls-key "$work/broker.key" --policy "$work/policy.json" \
    --trust-simulator "$work/sim-roots.pem" >"$work/broker.log" 2>&1 &
broker_pid=$!
port=
for _ in $(seq 1 100); do
    port=$(sed -n 's#.*listening on https://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$work/broker.log" | head -1)
    [[ -n $port ]] && break
    kill -0 "$broker_pid" 2>/dev/null || { cat "$work/broker.log"; exit 1; }
    sleep 0.1
done
[[ -n $port ]] || { echo "broker did not start"; cat "$work/broker.log"; exit 1; }
broker=https://127.0.0.1:$port
echo "broker: $broker"

step "A LUKS2 image with a human passphrase (keyslot 0)"
image=$work/disk.img
truncate -s 32M "$image"
printf 'correct horse battery staple' >"$work/passphrase"
cryptsetup luksFormat --batch-mode --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
    --key-file "$work/passphrase" "$image"
uuid=$(cryptsetup luksUUID "$image")
echo "image: $image (UUID $uuid)"

step "Enroll: add ccagent's keyslot and token (binding: broker)"
"$ccagent" enroll "$image" --broker "$broker" --ca "$work/ca.pem" --resource "default/luks/$uuid" \
    --bind broker --key-file "$work/passphrase" --secret-out "$work/volume-secret"

step "Broker admin: store the volume secret as resource default/luks/$uuid"
"$ccbroker" resource put --resources "$work/resources" "default/luks/$uuid" --in "$work/volume-secret"
rm -f "$work/volume-secret"

step "The header now carries our token and a pbkdf2 keyslot"
cryptsetup luksDump "$image" | sed -n '/^Keyslots:/,/^Digests:/p'

step "Unlock: attest on the simulator, fetch the secret, open only our keyslot (verify-only: no device-mapper here)"
"$ccagent" unlock "$image" --broker "$broker" --ca "$work/ca.pem" --tee sim-snp --simulator-dir "$work/sim" \
    --verify-only

step "Unlock again as an Azure confidential VM would (sim-az-snp: the paravisor's vTPM on swtpm, a stand-in IMDS)"
"$ccagent" unlock "$image" --broker "$broker" --ca "$work/ca.pem" --tee sim-az-snp --simulator-dir "$work/sim" \
    --verify-only

step "Volumes with a ccagent token"
"$ccagent" volumes "$image"

step "Broker audit log"
cat "$work/broker.log"
printf '\nDemo complete: attested on the simulator (SNP, and SNP behind a simulated Azure vTPM), unlocked through libcryptsetup, everything stopped.\n'
