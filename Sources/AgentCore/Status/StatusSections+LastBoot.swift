// SPDX-License-Identifier: Apache-2.0
// The "Last boot" section of `ccagent status`, from /run/ccagent/state.json.

extension StatusSection {
    /// Builds the section from the state file's content (nil: no boot unlock ran since start-up).
    public static func lastBoot(_ state: BootState?, readError: (any Error)? = nil) -> StatusSection {
        if let readError {
            return StatusSection(findings: [
                Finding(
                    .degraded, code: "state.unreadable",
                    "cannot read \(BootState.defaultPath): \(readError)",
                    hint: "the file is written by 'ccagent unlock --all' at boot; check the journal: "
                        + "journalctl -b -t ccagent")
            ])
        }
        guard let state else {
            return StatusSection(
                facts: [Fact("State file", "\(BootState.defaultPath) (absent)")],
                findings: [
                    Finding(
                        .ok, code: "state.absent",
                        "no boot unlock has run since this machine started",
                        hint: "expected when the root is not unlocked by ccagent; otherwise check that "
                            + "ccagent-unlock.service is in the initramfs (lsinitrd | grep ccagent)")
                ])
        }
        var section = StatusSection(facts: [
            Fact("Started", "\(state.startedAt) (\(state.bootPhase))"),
            Fact("Outcome", state.outcome.rawValue),
            Fact("TEE", state.tee ?? "none"),
            Fact("Broker", state.broker ?? "none"),
            Fact("Total", formatMilliseconds(state.totalMilliseconds)),
        ])
        for phase in state.phases {
            var value = "\(phase.outcome.rawValue), \(formatMilliseconds(phase.durationMilliseconds))"
            if let code = phase.errorCode { value += " [\(code)]" }
            section.facts.append(Fact("Phase \(phase.name)", value))
        }
        for phase in state.phases where phase.outcome == .failed {
            section.add(
                Finding(
                    .broken, code: phase.errorCode ?? "phase.failed",
                    "phase '\(phase.name)' failed: \(phase.message ?? "no detail recorded")",
                    hint: BootFailureHints.hint(for: phase.errorCode)))
        }
        for volume in state.volumes {
            var value = volume.outcome.rawValue
            if let code = volume.errorCode { value += " [\(code)]" }
            section.facts.append(Fact("Volume \(volume.name)", "\(value) (\(volume.device))"))
            let explainedByPhase = state.phases.contains { $0.outcome == .failed && $0.errorCode == volume.errorCode }
            if volume.outcome == .failed && !explainedByPhase {
                section.add(
                    Finding(
                        .broken, code: volume.errorCode ?? "volume.failed",
                        "volume '\(volume.name)' was not unlocked: \(volume.message ?? "no detail recorded")",
                        hint: BootFailureHints.hint(for: volume.errorCode)))
            }
        }
        if state.outcome == .disabled {
            section.add(
                Finding(
                    .degraded, code: "boot.disabled", "the boot unlock was disabled (ccagent.disable)",
                    hint: "remove ccagent.disable from the kernel command line to unlock automatically"))
        }
        return section
    }

    private static func formatMilliseconds(_ value: Double) -> String {
        value >= 1000 ? "\((value / 100).rounded() / 10) s" : "\(Int(value.rounded())) ms"
    }
}

/// The next step for each documented error code of the boot flow.
public enum BootFailureHints {
    /// A hint for `code`; a generic one for codes this version does not know.
    public static func hint(for code: String?) -> String {
        guard let code else { return generic }
        if let exact = table[code] { return exact }
        if let family = table[String(code.prefix { $0 != "." }) + ".*"] { return family }
        return generic
    }

    static let generic = "read the agent's journal entries: journalctl -b -t ccagent -o verbose"

    static let table: [String: String] = [
        "broker.unreachable":
            "check the guest network in the initramfs (ip addr; the network-online.target ordering) and that "
            + "the broker URL in /etc/ccagent/ccagent.conf is reachable from the VM",
        "broker.tls":
            "the broker's certificate does not match the configured CA or pin; compare 'ca'/'pin' in "
            + "/etc/ccagent/ccagent.conf with the broker's certificate",
        "broker.policy-deny":
            "the broker refused the evidence; read its audit log for the failing rule and update the reference "
            + "values (measurement, TCB, VMPL) after an image or firmware update",
        "broker.resource-missing":
            "the broker has no secret for this volume; the admin stores it with 'ccbroker resource put' "
            + "(or the KBS resource API) under the resource named in the token",
        "broker.version":
            "the broker speaks another protocol version; use a Trustee KBS release speaking RCAR 0.4.0",
        "broker.*": "check the broker's log for this request and the agent's journal for the HTTP status",
        "deadline.reached":
            "the unlock gave up at its deadline; raise it with ccagent.timeout= on the kernel command line or "
            + "'deadline' in the config file, or fix the slow step shown above",
        "header.rejected":
            "the LUKS2 header failed the agent's checks and may have been tampered with by the host; compare "
            + "'cryptsetup luksDump' with the enrolled image, and re-enroll only from a trusted copy",
        "header.*":
            "the LUKS2 header is not what was enrolled; do not unlock it automatically — investigate the disk",
        "token.broker-mismatch":
            "the volume's token names a broker other than the configured one; a host may have swapped the disk, "
            + "or the config changed — re-enroll against the configured broker if the disk is genuine",
        "token.policy-refused":
            "the volume's token asks for a binding, SNP key fields or a resource the configuration does not allow "
            + "(bindings, snp-key-fields, resources, volume in /etc/ccagent/ccagent.conf); a host may have made "
            + "this disk — re-enroll within the configuration only if it is genuine",
        "volume.identity-mismatch":
            "the device is not the volume the boot names (its UUID differs); check rd.luks.uuid= and crypttab, and "
            + "whether the host swapped the disk",
        "volume.mapping-mismatch":
            "the active dm-crypt mapping did not match the verified header and was removed; report this, it means "
            + "the kernel or libcryptsetup applied something the header did not say",
        "volume.missing":
            "the disk the boot names did not appear before the deadline; check that it is attached and that "
            + "rd.luks.uuid= or crypttab names the right UUID",
        "tee.unavailable":
            "no TEE interface was usable; check that /dev/sev-guest or /dev/tdx_guest (or configfs-tsm) exists "
            + "in the initramfs (modules sev-guest / tdx-guest)",
        "tee.firmware":
            "the TEE firmware refused the request; the guest channel is disabled until reboot — reboot and read "
            + "the kernel log (dmesg | grep -i sev)",
        "keyslot.wrong-key":
            "the released secret does not open the enrolled keyslot; the broker holds another secret for this "
            + "resource — re-enroll or restore the resource",
        "config.invalid": "fix the reported line in /etc/ccagent/ccagent.conf and rebuild the initramfs",
    ]
}
