// SPDX-License-Identifier: Apache-2.0
// The simulated TD's firmware event log (what TDVF publishes as the CCEL) and its RTMRs.

import AgentBase
import Cryptography
import TEEDevice
import TEEEvidence

#if canImport(Glibc)
import Glibc
#endif

/// The events TDVF records for a direct (`-kernel`) boot of the simulated TD, derived from its MRTD so
/// every simulator has its own values and an old state directory needs nothing new:
///
/// - MR index 1 (RTMR0): the TD HOB (EV_EFI_HANDOFF_TABLES2 "TdxTable"), the configuration firmware
///   volume (EV_EFI_PLATFORM_FIRMWARE_BLOB2), SecureBoot (EV_EFI_VARIABLE_DRIVER_CONFIG), the separator,
///   the ACPI tables (EV_PLATFORM_CONFIG_FLAGS "ACPI DATA");
/// - MR index 2 (RTMR1): the kernel (EV_EFI_BOOT_SERVICES_APPLICATION, device path `File(kernel)`),
///   "Calling EFI Application from Boot Option", the separator, and the two ExitBootServices actions;
/// - MR index 3 (RTMR2): the command line (EV_EVENT_TAG "LOADED_IMAGE::LoadOptions") and the initrd
///   (EV_EVENT_TAG "Linux initrd").
///
/// RTMR3 starts at zero; the simulated TD's extensions (``SimulatedTDXDevice/extendRTMR3(digest:)``)
/// are explained by the agent's runtime log, not by this one.
public struct SimulatedFirmwareLog: Sendable {
    public let events: [CCELEvent]
    /// The simulated kernel command line.
    public static let commandLine = "console=hvc0 root=/dev/vda1 ro ccagent.simulated=1"

    public init(mrTD: [UInt8]) {
        func sha384(_ bytes: [UInt8]) -> [UInt8] { DigestAlgorithm.sha384.hash(bytes) }
        func derived(_ label: String) -> [UInt8] { sha384(Array("ccagent simulator \(label)".utf8) + mrTD) }
        func text(_ string: String) -> [UInt8] { Array(string.utf8) }
        func utf16(_ string: String) -> [UInt8] {
            var bytes: [UInt8] = []
            for unit in string.utf16 {
                bytes += [UInt8(truncatingIfNeeded: unit), UInt8(truncatingIfNeeded: unit >> 8)]
            }
            return bytes
        }
        func tagged(_ id: UInt32, _ name: String) -> [UInt8] {
            var w = ByteWriter()
            let data = text(name) + [0]
            w.u32(id)
            w.u32(UInt32(data.count))
            w.append(data)
            return w.bytes
        }
        let separator = [UInt8](repeating: 0, count: 4)
        var events: [CCELEvent] = []
        func add(_ index: UInt32, _ type: UInt32, _ digest: [UInt8], _ data: [UInt8]) {
            events.append(CCELEvent(mrIndex: index, eventType: type, sha384: digest, eventData: data))
        }
        // RTMR0: firmware configuration.
        var hob = ByteWriter()
        hob.u8(8)
        hob.append(text("TdxTable"))
        hob.u64(1)
        hob.append([UInt8](repeating: 0x11, count: 16))  // vendor GUID
        hob.u64(0x0080_9000)
        add(1, CCELEventType.efiHandoffTables2, derived("td hob"), hob.bytes)
        var blob = ByteWriter()
        let fv = text("Fv(SIMULATED-CFV)")
        blob.u8(UInt8(fv.count))
        blob.append(fv)
        blob.u64(0xFFC0_0000)
        blob.u64(0x0004_0000)
        add(1, CCELEventType.efiPlatformFirmwareBlob2, derived("configuration firmware volume"), blob.bytes)
        var variable = ByteWriter()
        variable.append([
            0x61, 0xDF, 0xE4, 0x8B, 0xCA, 0x93, 0xD2, 0x11, 0xAA, 0x0D, 0x00, 0xE0, 0x98, 0x03, 0x2B, 0x8C,
        ])
        variable.u64(10)
        variable.u64(1)
        variable.append(utf16("SecureBoot"))
        variable.u8(0)
        add(1, CCELEventType.efiVariableDriverConfig, sha384(variable.bytes), variable.bytes)
        add(1, CCELEventType.separator, sha384(separator), separator)
        add(1, CCELEventType.platformConfigFlags, derived("acpi tables"), text("ACPI DATA") + [0, 0, 0])
        // RTMR1: the kernel and the boot actions.
        var image = ByteWriter()
        image.u64(0x7CB3_0018)
        image.u64(0x00A5_A200)
        image.u64(0)
        var path = ByteWriter()
        path.append([0x04, 0x03, 0x14, 0x00])  // VenMedia (QEMU kernel loader file system)
        path.append([0x72, 0xF7, 0x28, 0x14, 0x4A, 0xB6, 0x1E, 0x44, 0xB8, 0xC3, 0x9E, 0xBD, 0xD7, 0xF8, 0x93, 0xC7])
        let file = utf16("kernel") + [0, 0]
        path.append([0x04, 0x04])  // File(kernel)
        path.u16(UInt16(4 + file.count))
        path.append(file)
        path.append([0x7F, 0xFF, 0x04, 0x00])  // end
        image.u64(UInt64(path.bytes.count))
        image.append(path.bytes)
        add(2, CCELEventType.efiBootServicesApplication, derived("kernel image"), image.bytes)
        let calling = text("Calling EFI Application from Boot Option")
        add(2, CCELEventType.efiAction, sha384(calling), calling)
        add(2, CCELEventType.separator, sha384(separator), separator)
        // RTMR2: the command line (UTF-16, NUL-terminated, as LoadOptions) and the initrd.
        let loadOptions = utf16(Self.commandLine) + [0, 0]
        add(
            3, CCELEventType.eventTag, sha384(loadOptions),
            tagged(TDXBootDigests.loadOptionsTag, "LOADED_IMAGE::LoadOptions"))
        add(3, CCELEventType.eventTag, derived("initrd"), tagged(TDXBootDigests.initrdTag, "Linux initrd"))
        let exitInvocation = text("Exit Boot Services Invocation")
        add(2, CCELEventType.efiAction, sha384(exitInvocation), exitInvocation)
        let exitReturned = text("Exit Boot Services Returned with Success")
        add(2, CCELEventType.efiAction, sha384(exitReturned), exitReturned)
        self.events = events
    }

    /// The log's used bytes: the spec-ID header, then the events.
    public var bytes: [UInt8] { CCELEventLog.specIDHeader + events.flatMap(\.encoded) }

    /// RTMR0–2 after these events (RTMR3 is zero).
    public var registers: [[UInt8]] {
        var registers = [[UInt8]](repeating: [UInt8](repeating: 0, count: 48), count: 4)
        for event in events where (1...4).contains(event.mrIndex) {
            let index = Int(event.mrIndex) - 1
            registers[index] = DigestAlgorithm.sha384.hash(registers[index] + (event.sha384 ?? []))
        }
        return registers
    }
}

extension SimulatorState {
    /// The simulated TD's firmware log.
    public var firmwareLog: SimulatedFirmwareLog { SimulatedFirmwareLog(mrTD: Hex.decode(launch.mrTD) ?? []) }

    /// The simulated RTMR3 (`rtmr3` in the state directory; zero until the first extension). A file that
    /// is not 48 bytes is an error, never zero.
    public func rtmr3() throws(DeviceError) -> [UInt8] {
        let store = StateFiles(directory: directory)
        guard store.exists("rtmr3") else { return [UInt8](repeating: 0, count: 48) }
        let value: [UInt8]
        do {
            value = try FileIO.read(path: store.path("rtmr3"), limit: 64)
        } catch {
            throw DeviceError(.simulatorState, "failed to read the simulated RTMR3: \(error)")
        }
        guard value.count == 48 else {
            throw DeviceError(
                .simulatorState,
                "the simulated RTMR3 '\(store.path("rtmr3"))' is \(value.count) bytes, not 48; remove it and the "
                    + "runtime log '\(runtimeLogPath)' together to reset the simulated TD")
        }
        return value
    }

    /// Where the agent keeps its runtime log for the simulated TD (its `/run/ccagent/eventlog`).
    public var runtimeLogPath: String { directory + "/run/eventlog" }

    /// RTMR3 = SHA-384(RTMR3 ‖ digest), under a lock so concurrent extensions are not lost.
    func extendRTMR3(digest: [UInt8]) throws(DeviceError) {
        guard digest.count == 48 else {
            throw DeviceError(.invalidRequest, "an RTMR extension is 48 bytes, not \(digest.count)")
        }
        let store = StateFiles(directory: directory)
        let lockFD = open(store.path("rtmr3.lock"), O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lockFD >= 0 else {
            throw DeviceError(.simulatorState, "failed to open the simulated RTMR3 lock", errno: errno)
        }
        defer { close(lockFD) }
        while flock(lockFD, LOCK_EX) != 0 {
            guard errno == EINTR else { throw DeviceError(.simulatorState, "failed to lock RTMR3", errno: errno) }
        }
        let value = DigestAlgorithm.sha384.hash(try rtmr3() + digest)
        do {
            try store.write("rtmr3", value)
        } catch let error as DeviceError {
            throw error
        } catch {
            throw DeviceError(.simulatorState, "failed to write the simulated RTMR3: \(error)")
        }
    }
}
