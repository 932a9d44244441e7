// SPDX-License-Identifier: Apache-2.0
// In-process micro-benchmarks (not tests): JWE decryption and the libcryptsetup cost of our unlock
// against the default argon2id keyslot. Usage: UnlockBenchmark WORK_DIR — prints Markdown table rows.

import Cryptsetup
import KBSProtocol
import SecureMemory

#if canImport(Glibc)
import Glibc
#endif

func now() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) * 1000 + Double(time.tv_nsec) / 1e6
}

func format(_ value: Double) -> String {
    let scaled = (value * 1000).rounded() / 1000
    return "\(scaled)"
}

/// Median and spread (p10–p90) in milliseconds of `runs` executions of `body`.
func measure(_ name: String, runs: Int, _ body: () throws -> Void) rethrows {
    var samples: [Double] = []
    for _ in 0..<runs {
        let start = now()
        try body()
        samples.append(now() - start)
    }
    samples.sort()
    let median = samples[samples.count / 2]
    let p10 = samples[samples.count / 10]
    let p90 = samples[samples.count * 9 / 10]
    print("| \(name) | \(format(median)) | \(format(p10))–\(format(p90)) | \(runs) |")
}

let arguments = CommandLine.arguments
guard arguments.count == 2 else {
    print("usage: UnlockBenchmark WORK_DIR")
    exit(64)
}
let work = arguments[1]

print("| measurement | median ms | p10–p90 ms | runs |")
print("|---|---|---|---|")
let key = try TEEKeyPair(type: .p256)
let jwe = try JWE.encrypt(SecretBytes(copying: [UInt8](repeating: 1, count: 32)), to: key.publicJWK)
try measure("JWE ECDH-ES+A256KW/A256GCM decryption (P-256)", runs: 200) { _ = try key.decrypt(jwe) }

// libcryptsetup: our pbkdf2-sha512/1000 keyslot against the default argon2id one, verify-only.
func shell(_ command: String) {
    guard system(command) == 0 else {
        print("failed: \(command)")
        exit(1)
    }
}
let image = work + "/bench.img"
shell(
    "truncate -s 32M \(image) && printf pass > \(work)/pass && printf '0123456789abcdef0123456789abcdef' > \(work)/ours"
)
shell("cryptsetup luksFormat -q --type luks2 --key-file \(work)/pass \(image)")
shell(
    "cryptsetup luksAddKey -q --pbkdf pbkdf2 --hash sha512 --pbkdf-force-iterations 1000 --key-file \(work)/pass \(image) \(work)/ours"
)
let device = try CryptDevice(path: image)
let ours = SecretBytes(copying: Array("0123456789abcdef0123456789abcdef".utf8))
let human = SecretBytes(copying: Array("pass".utf8))
try measure("libcryptsetup unlock of our keyslot (pbkdf2-sha512, 1000 it., slot named)", runs: 50) {
    try device.activate(name: nil, slot: 1, passphrase: ours)
}
try measure("libcryptsetup unlock of the default keyslot (argon2id, benchmarked cost)", runs: 5) {
    try device.activate(name: nil, slot: 0, passphrase: human)
}
let cheap = work + "/bench-cheap-digest.img"
shell(
    "truncate -s 32M \(cheap) && cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 "
        + "--key-file \(work)/pass \(cheap) && cryptsetup luksAddKey -q --pbkdf pbkdf2 --hash sha512 "
        + "--pbkdf-force-iterations 1000 --key-file \(work)/pass \(cheap) \(work)/ours")
let cheapDevice = try CryptDevice(path: cheap)
try measure("  same keyslot on a volume whose digest has 1000 iterations (isolates our keyslot)", runs: 50) {
    try cheapDevice.activate(name: nil, slot: 1, passphrase: ours)
}
try measure("libcryptsetup unlock trying every slot (CRYPT_ANY_SLOT, what askpass paths do)", runs: 5) {
    try device.activate(name: nil, slot: -1, passphrase: ours)
}
