// SPDX-License-Identifier: Apache-2.0
// What a failed boot leads to: power off by default, the prompt only when asked, never outside the boot.

import AgentCore
import Logging
import Testing

@Suite("Boot fallback decision")
struct BootFallbackTests {
    static func state(_ outcome: BootState.Outcome, code: String = "broker.policy-deny") -> BootState {
        BootState(
            startedAt: "", bootPhase: "initrd", tee: "sim-snp", broker: nil, outcome: outcome, phases: [],
            volumes: outcome.isFailure
                ? [.init(device: "/dev/vda", name: "root", outcome: .failed, errorCode: code)] : [],
            totalMilliseconds: 1)
    }

    func action(_ fallback: BootFallback, boot: Bool) -> BootFallbackAction {
        BootFallbackAction(
            fallback: fallback, boot: boot, statePath: "/nonexistent/state.json", logger: Logger(label: "t"))
    }

    @Test("the default configuration powers a failed boot off, naming the volume and the error code")
    func defaultPowersOff() {
        #expect(AgentConfiguration().fallback == .poweroff)
        guard case .powerOff(let line) = action(AgentConfiguration().fallback, boot: true).decide(Self.state(.failed))
        else {
            Issue.record("a failed boot did not power off")
            return
        }
        #expect(line.hasPrefix("ccagent: powering off: cannot unlock root (broker.policy-deny)"))
        #expect(action(.poweroff, boot: true).decide(Self.state(.partial)) != .none)
    }

    @Test("fallback = passphrase leaves the prompt; an unlocked or empty boot does nothing")
    func passphraseAndSuccess() {
        #expect(
            action(.passphrase, boot: true).decide(Self.state(.failed))
                == .passphrase(
                    "1 volume(s) left for the passphrase prompt: root (broker.policy-deny)"))
        for outcome in [BootState.Outcome.unlocked, .nothingToDo, .disabled] {
            #expect(action(.poweroff, boot: true).decide(Self.state(outcome)) == .none)
        }
    }

    @Test("outside the boot (a manual unlock --all) nothing is ever powered off")
    func notTheBoot() {
        guard case .passphrase = action(.poweroff, boot: false).decide(Self.state(.failed)) else {
            Issue.record("a manual unlock --all would power the machine off")
            return
        }
    }

    @Test("fallback and the pins come from the file and the kernel command line; typos keep strict defaults")
    func configuration() {
        let file = """
            fallback = passphrase
            bindings = broker
            snp-key-fields = measurement,policy,guest-svn
            resources = default/luks/* prod/luks/*
            volume = 0F0E0D0C-1111-2222-3333-444455556666 default/luks/root
            allow-discards = maybe
            snp-vmpl = 7
            """
        let configuration = AgentConfiguration.load(path: "/c", kernelCommandLine: "ccagent.fallback=poweroff") { _ in
            file
        }
        #expect(configuration.fallback == .poweroff)
        #expect(configuration.volumePolicy.bindings == [.broker])
        #expect(configuration.volumePolicy.snpFields.names == ["policy", "measurement", "guest-svn"])
        #expect(configuration.volumePolicy.resourcePatterns == ["default/luks/*", "prod/luks/*"])
        #expect(configuration.volumePolicy.volumes == ["0f0e0d0c-1111-2222-3333-444455556666": "default/luks/root"])
        #expect(configuration.volumePolicy.allowDiscards == false)
        #expect(configuration.volumePolicy.snpVMPL == 0)
        #expect(configuration.warnings.count == 2, "\(configuration.warnings)")
    }
}
