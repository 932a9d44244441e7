// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the config file and the kernel command line (never fail, never hang the boot).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfiguration(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    var configuration = AgentConfiguration()
    configuration.apply(configFile: text, source: "fuzz")
    configuration.apply(kernelCommandLine: text)
    precondition(configuration.deadlineSeconds > 0 && configuration.deadlineSeconds <= 3600, "deadline out of bounds")
    return 0
}
