// SPDX-License-Identifier: Apache-2.0
// `ccagent simulator init|show|roots`: the software SNP/TDX firmware for machines without a TEE.

import AgentBase
import AgentCore
import CommandLineInterface
import TEEDevice
import TEEEvidence
import TEESimulator

struct SimulatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulator", abstract: "Manage the SNP/TDX simulator (never used unless asked for).",
        subcommands: [Init.self, Show.self, Roots.self])

    struct Directory: ParsableArguments {
        @Option(
            name: .customLong("simulator-dir"), help: "State directory (default: \(SimulatorState.defaultDirectory)).")
        var simulatorDirectory: String = SimulatorState.defaultDirectory
    }

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a simulated chip (kept if it exists).")
        @OptionGroup var directory: Directory
        @Flag(help: "Replace an existing simulator (its keys are lost).") var force = false

        func run() throws {
            do {
                let state = try SimulatorState.initialize(directory: directory.simulatorDirectory, force: force)
                print("SIMULATED SNP/TDX firmware ready in '\(state.directory)'")
                print("  chip id     : \(state.launch.chipID.prefix(32))…")
                print("  measurement : \(state.launch.measurement)")
                print("  trust it only where you mean to: 'ccagent simulator roots' prints its root certificates")
            } catch { throw fail(error) }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Describe the simulated chip and launch.")
        @OptionGroup var directory: Directory

        func run() throws {
            do {
                let state = try SimulatorState.load(directory: directory.simulatorDirectory)
                print("SIMULATED platform in '\(state.directory)'")
                print("  SNP product : Genoa (CPUID 19h/11h/1), reported TCB \(SimulatorState.reportedTCB)")
                print("  chip id     : \(state.launch.chipID)")
                print("  measurement : \(state.launch.measurement)")
                print("  host data   : \(state.launch.hostData)")
                print("  policy      : 0x\(String(state.launch.policy, radix: 16))")
                print("  TDX MRTD    : \(state.launch.mrTD)")
                if let log = try? CCELEventLog(parsing: state.firmwareLog.bytes) {
                    let boot = TDXBootDigests(log)
                    print(
                        "  TDX kernel  : \(boot.kernel.map { Hex.encode($0) } ?? "-") (CCEL event digest, policy tdx.kernel)"
                    )
                    print("  TDX initrd  : \(boot.initrd.map { Hex.encode($0) } ?? "-")")
                    print("  TDX cmdline : \(boot.cmdline.map { Hex.encode($0) } ?? "-")")
                }
                print("  ARK         : \(state.ark.subject)")
                print("  VCEK        : \(state.vcek.subject)")
            } catch { throw fail(error) }
        }
    }

    struct Roots: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the PEM roots to trust: the SNP ASK then ARK, then the TDX root.")
        @OptionGroup var directory: Directory

        func run() throws {
            do {
                print(try SimulatorState.load(directory: directory.simulatorDirectory).rootsPEM, terminator: "")
            } catch { throw fail(error) }
        }
    }
}
