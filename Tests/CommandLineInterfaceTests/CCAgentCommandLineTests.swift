// SPDX-License-Identifier: Apache-2.0
// ccagent's own command line as a user meets it: the help texts (unchanged from the swift-argument-parser days,
// byte for byte), and the bash completion script sourced into a real bash.

import TestSupport
import Testing

@Suite("ccagent command line (help, completion)", .tags(.integration))
struct CCAgentCommandLineTests {
    /// stdout alone, and the exit status.
    static func run(_ arguments: [String]) throws -> (output: String, status: Int32) {
        let quoted = ([Binaries.ccagent] + arguments).map { "'" + $0 + "'" }.joined(separator: " ")
        let result = try Subprocess.run(["/bin/sh", "-c", quoted + " 2>/dev/null"])
        return (result.output, result.exitCode)
    }

    @Test("ccagent --help, exactly")
    func rootHelp() throws {
        let (output, status) = try Self.run(["--help"])
        #expect(status == 0)
        #expect(
            output == """
                OVERVIEW: In-guest attestation agent for confidential VMs (AMD SEV-SNP, Intel
                TDX).

                USAGE: ccagent <subcommand>

                OPTIONS:
                  --version               Show the version.
                  -h, --help              Show help information.

                SUBCOMMANDS:
                  status                  Platform, evidence, broker, volumes, last boot and
                                          secrets. Exit 0 ok, 10 degraded, 11 broken.
                  enroll                  Add a ccagent keyslot and token to a LUKS2 volume.
                  unlock                  Attest, fetch the volume key and open a LUKS2 volume
                                          (or --all of them).
                  unenroll                Remove ccagent's keyslot and token (other keyslots
                                          are untouched).
                  volumes                 List LUKS2 volumes carrying a ccagent token.
                  fetch                   Attest to a broker and fetch one resource (written
                                          0600).
                  report                  Get evidence from the TEE, or decode evidence from a
                                          file.
                  derive-key              Get an SNP derived key (MSG_KEY_REQ), written 0600.
                  daemon                  Run as a systemd service (Type=notify): boot unlock,
                                          READY=1, then serve LoadCredential= secrets.
                  secret                  Seal, unseal, list and remove workload secrets.
                  verify                  Verify SNP or TDX evidence offline against the pinned
                                          AMD/Intel roots.
                  simulator               Manage the SNP/TDX simulator (never used unless asked
                                          for).

                  See 'ccagent help <subcommand>' for detailed help.

                """)
        #expect(try Self.run([]).output == output)
        #expect(try Self.run(["help"]).output == output)
    }

    @Test("ccagent unlock --help, exactly")
    func unlockHelp() throws {
        let (output, status) = try Self.run(["unlock", "--help"])
        #expect(status == 0)
        #expect(
            output == """
                OVERVIEW: Attest, fetch the volume key and open a LUKS2 volume (or --all of
                them).

                USAGE: ccagent unlock [<options>] [<device>]

                ARGUMENTS:
                  <device>                LUKS2 device or image file (omit with --all).

                OPTIONS:
                  --config <config>       Configuration file (default:
                                          /etc/ccagent/ccagent.conf); the kernel command line
                                          applies on top. (default: /etc/ccagent/ccagent.conf)
                  --broker <broker>       Broker URL (default: 'broker' in
                                          /etc/ccagent/ccagent.conf).
                  --ca <ca>               PEM CA file that signed the broker's TLS certificate.
                  --pin <pin>             SHA-256 of the broker's SubjectPublicKeyInfo (64 hex
                                          digits), instead of --ca.
                  --allow-insecure-http   Allow a plain http:// broker (testing only).
                  --deadline <deadline>   Overall deadline in seconds (retries included).
                  --tee <tee>             Evidence source: auto (hardware, Azure's vTPM
                                          included), a TEE, a sim-* simulator, or sample.
                                          (values: auto, snp, tdx, sim-snp, sim-tdx, az-snp,
                                          az-tdx, sim-az-snp, sim-az-tdx, sample)
                  --simulator-dir <simulator-dir>
                                          Simulator state directory (default:
                                          /var/lib/ccagent/simulator).
                  --name <name>           dm-crypt mapping name (default: from /etc/crypttab,
                                          else luks-<UUID>).
                  --verify-only           Check the key without activating (no device-mapper
                                          needed).
                  --all                   Unlock every volume with a ccagent token: attest
                                          once, write /run/ccagent/state.json.
                  --state-file <state-file>
                                          Where --all records its outcome. (default:
                                          /run/ccagent/state.json)
                  --only <only>           With --all: only these devices instead of scanning
                                          (repeatable).
                  --crypttab <crypttab>   With --all: the crypttab that names the mappings
                                          (initramfs-tools: /cryptroot/crypttab). (default:
                                          /etc/crypttab)
                  --boot                  With --all: this is the boot. Apply the configured
                                          fallback; 'poweroff' (the default) powers the machine
                                          off when a volume the boot needs stays locked.
                  --version               Show the version.
                  -h, --help              Show help information.


                """)
        #expect(try Self.run(["help", "unlock"]).output == output)
        #expect(try Self.run(["unlock", "-h"]).output == output)
    }

    @Test("--version")
    func version() throws {
        let version = try Self.run(["--version"])
        #expect(version.output == "0.1.0\n" && version.status == 0)
    }

    @Test("the bash completion script completes subcommands, options and option values")
    func bashCompletion() throws {
        let directory = try Fixtures.temporaryDirectory("ccagent-completion")
        defer { Fixtures.removeTree(directory) }
        let script = directory + "/ccagent.bash"
        try Subprocess.run(["/usr/bin/touch", directory + "/crypttab"]).check()
        try Subprocess.run(["/bin/sh", "-c", "'\(Binaries.ccagent)' --generate-completion-script bash > '\(script)'"])
            .check()
        let driver = """
            source '\(script)'
            complete_words() {
                COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()
                _ccagent
                printf '%s|' "${COMPREPLY[@]}"; printf '\\n'
            }
            complete -p ccagent
            complete_words ccagent ''
            complete_words ccagent ve
            complete_words ccagent verify ''
            complete_words ccagent verify snp --kds-o
            complete_words ccagent unlock --tee sim-
            complete_words ccagent secret put --sealing ''
            complete_words ccagent unlock --all --crypttab '\(directory)/cryptt'
            """
        let result = try Subprocess.run(["/bin/bash", "-c", driver])
        #expect(result.exitCode == 0, "\(result.output)")
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(
            lines == [
                "complete -o filenames -F _ccagent ccagent",
                "status|enroll|unlock|unenroll|volumes|fetch|report|derive-key|daemon|secret|verify|simulator|",
                "verify|", "snp|tdx|azure|", "--kds-offline|", "sim-snp|sim-tdx|sim-az-snp|sim-az-tdx|", "snp|broker|",
                directory + "/crypttab|",
            ], "\(result.output)")
    }
}
