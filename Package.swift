// swift-tools-version:6.1
// SPDX-License-Identifier: Apache-2.0
// The ccagent package: the in-guest attestation agent, its reference broker, and their modules.

import PackageDescription

/// Strict settings shared by every Swift target.
let strict: [SwiftSetting] = [
    .unsafeFlags(["-warnings-as-errors"])
]

let package = Package(
    name: "ccagent",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ccagent", targets: ["ccagent"]),
        .executable(name: "ccbroker", targets: ["ccbroker"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
    ],
    targets: [
        // MARK: C libraries, each imported by exactly one Swift module.
        .systemLibrary(
            name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]),
        .systemLibrary(
            name: "CTLS", path: "Sources/CTLS", pkgConfig: "libssl",
            providers: [.apt(["libssl-dev"])]),
        .systemLibrary(
            // Types only, without pkgConfig (it would link -lcryptsetup): Cryptsetup dlopens the library.
            name: "CCryptsetup", path: "Sources/CCryptsetup", providers: [.apt(["libcryptsetup-dev"])]),
        .systemLibrary(
            // Declarations only, without pkgConfig (it would link -lsystemd): SystemdSupport dlopens it.
            name: "CSystemd", path: "Sources/CSystemd", providers: [.apt(["libsystemd-dev"])]),
        .target(name: "CTEEGuest", path: "Sources/CTEEGuest"),
        // prctl and reboot, which Swift cannot call directly; imported by ProcessControl only.
        .target(name: "CProcess", path: "Sources/CProcess"),
        // The kernel's device-mapper table of an active mapping (DM_TABLE_STATUS); imported by Cryptsetup only.
        .target(name: "CDeviceMapper", path: "Sources/CDeviceMapper"),

        // MARK: Foundation modules (no dependencies on each other unless listed).
        // AgentBase is the bottom: the error-code vocabulary, the types every layer shares, careful file I/O.
        .target(name: "AgentBase", dependencies: ["SecureMemory", "CanonicalJSON"], swiftSettings: strict),
        // Process hardening and the fail-closed power-off: the one importer of CProcess.
        .target(name: "ProcessControl", dependencies: ["CProcess"], swiftSettings: strict),
        .target(name: "SecureMemory", swiftSettings: strict),
        .target(name: "TEEEvidence", dependencies: ["AgentBase", "CanonicalJSON"], swiftSettings: strict),
        .target(name: "CanonicalJSON", swiftSettings: strict),
        .target(name: "Cryptography", dependencies: ["AgentBase", "COpenSSL", "SecureMemory"], swiftSettings: strict),
        .target(
            name: "EvidenceVerification", dependencies: ["AgentBase", "TEEEvidence", "Cryptography", "CanonicalJSON"],
            swiftSettings: strict),
        .target(
            name: "TEEDevice",
            dependencies: [
                "AgentBase", "CTEEGuest", "TEEEvidence", "Cryptography", "SecureMemory",
                "CHyperV", "VTPM", "AzureIMDS", "CanonicalJSON",
            ],
            swiftSettings: strict),
        // The software SNP/TDX "firmware" for machines without a TEE (its own X.509 chain and keys).
        .target(
            name: "TEESimulator",
            dependencies: [
                "AgentBase", "CanonicalJSON", "TEEDevice", "TEEEvidence", "Cryptography", "SecureMemory",
                "VTPM", "AzureIMDS", "ProcessControl",
            ],
            swiftSettings: strict),
        .target(
            name: "KBSProtocol",
            dependencies: ["AgentBase", "CanonicalJSON", "Cryptography", "SecureMemory", "TEEEvidence"],
            swiftSettings: strict),
        // HTTP/1.1 over TCP and OpenSSL TLS: the one importer of CTLS (libssl).
        .target(name: "HTTPClient", dependencies: ["AgentBase", "CTLS"], swiftSettings: strict),
        // AMD KDS: VCEKs and CRLs by URL, checked against the report and AMD's pinned roots, cached on disk.
        .target(
            name: "AMDKDS",
            dependencies: ["AgentBase", "HTTPClient", "Cryptography", "TEEEvidence", "EvidenceVerification"],
            swiftSettings: strict),
        .target(
            name: "KBSClient",
            dependencies: [
                "CanonicalJSON",
                "AgentBase", "HTTPClient", "KBSProtocol", "SecureMemory",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .target(
            name: "Cryptsetup", dependencies: ["AgentBase", "CCryptsetup", "CDeviceMapper", "SecureMemory"],
            swiftSettings: strict),
        .target(
            name: "LUKSBinding",
            dependencies: ["AgentBase", "CanonicalJSON", "Cryptography", "SecureMemory"],
            swiftSettings: strict),
        .target(
            name: "SystemdSupport",
            dependencies: [
                "AgentBase", "CSystemd",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .target(
            name: "AgentCore",
            dependencies: [
                "TEESimulator",
                "ProcessControl",
                "CanonicalJSON",
                "AgentBase", "TEEEvidence", "TEEDevice", "KBSClient", "KBSProtocol", "LUKSBinding", "Cryptsetup",
                "SystemdSupport", "SecureMemory", "Cryptography",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // ccagent's command line (no Foundation, unlike swift-argument-parser): parsing, help, manual, completions.
        .target(name: "CommandLineInterface", swiftSettings: strict),
        .executableTarget(
            name: "ccagent",
            dependencies: [
                "TEESimulator",
                "AgentBase", "AgentCore", "TEEEvidence", "EvidenceVerification", "AMDKDS", "TEEDevice", "KBSClient",
                "KBSProtocol",
                "LUKSBinding", "SecureMemory", "Cryptography",
                "CanonicalJSON", "CommandLineInterface",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),

        // MARK: Azure confidential VMs: the paravisor's vTPM and the instance metadata service (issue #18).
        // tpm2-tss headers for types only (no link directive): VTPM dlopens the libraries on first use.
        .systemLibrary(name: "CTSS2", path: "Sources/CTSS2", providers: [.apt(["libtss2-dev"])]),
        // CPUID for the Hyper-V isolation leaves; imported by TEEDevice only.
        .target(name: "CHyperV", path: "Sources/CHyperV"),
        // The one importer of CTSS2: NV read/write, quote and PCR read through dlopen'd libtss2-esys.
        .target(name: "VTPM", dependencies: ["AgentBase", "CTSS2"], swiftSettings: strict),
        // Azure IMDS over plain http (169.254.169.254): the VCEK (SNP) and the TD quote (TDX), untrusted input.
        .target(name: "AzureIMDS", dependencies: ["AgentBase", "CanonicalJSON", "HTTPClient"], swiftSettings: strict),
        .executableTarget(
            name: "AzureEvidenceBenchmark",
            dependencies: [
                "AgentBase", "AzureIMDS", "TEEDevice", "TEESimulator", "VTPM", "EvidenceVerification", "TEEEvidence",
            ],
            path: "Benchmarks/AzureEvidenceBenchmark", swiftSettings: strict),
        // Needs swtpm (scripts/setup.sh installs it); tests that need it say so when it is missing.
        .testTarget(
            name: "VTPMTests",
            dependencies: [
                "AgentBase", "AgentCore", "AzureIMDS", "CanonicalJSON", "EvidenceVerification", "KBSProtocol",
                "TEEDevice", "TEEEvidence", "TEESimulator", "TestSupport", "VTPM", "Cryptography",
            ],
            swiftSettings: strict),

        // MARK: The reference broker (never linked into ccagent).
        .target(
            name: "Broker",
            dependencies: [
                "CanonicalJSON",
                "AgentBase",
                "KBSProtocol", "EvidenceVerification", "AMDKDS", "TEEEvidence", "Cryptography", "SecureMemory",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "ccbroker",
            dependencies: [
                "Broker", "AMDKDS", "AgentBase", "Cryptography", "EvidenceVerification", "KBSProtocol", "SecureMemory",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),

        // MARK: Benchmarks (not tests; run with scripts/bench/verify.sh).
        .executableTarget(
            name: "VerifyBenchmark", dependencies: ["AgentBase", "EvidenceVerification"],
            path: "Benchmarks/VerifyBenchmark", swiftSettings: strict),
        .executableTarget(
            name: "UnlockBenchmark", dependencies: ["Cryptsetup", "KBSProtocol", "SecureMemory"],
            path: "Benchmarks/UnlockBenchmark", swiftSettings: strict),

        // MARK: Tests.
        .target(
            name: "TestSupport", dependencies: ["ProcessControl"], path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(name: "SecureMemoryTests", dependencies: ["SecureMemory"], swiftSettings: strict),
        .testTarget(
            name: "CommandLineInterfaceTests", dependencies: ["CommandLineInterface", "TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "TEEEvidenceTests", dependencies: ["AgentBase", "CanonicalJSON", "TEEEvidence", "TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "CryptographyTests", dependencies: ["AgentBase", "Cryptography", "TestSupport"],
            swiftSettings: strict),
        .testTarget(name: "AgentBaseTests", dependencies: ["AgentBase", "CanonicalJSON"], swiftSettings: strict),
        .testTarget(
            name: "EvidenceVerificationTests",
            dependencies: [
                "AgentBase", "AMDKDS", "CanonicalJSON", "EvidenceVerification", "TEEEvidence", "Cryptography",
                "TestSupport",
            ],
            swiftSettings: strict),
        .testTarget(
            name: "TEEDeviceTests",
            dependencies: [
                "TEESimulator",
                "AgentBase", "TEEDevice", "TEEEvidence", "EvidenceVerification", "Cryptography",
                "TestSupport",
            ], swiftSettings: strict),
        .testTarget(
            name: "KBSTests",
            dependencies: [
                "CanonicalJSON",
                "AgentBase", "KBSProtocol", "KBSClient", "Cryptography", "SecureMemory", "TEEEvidence", "TestSupport",
                "HTTPClient",
            ],
            swiftSettings: strict),
        .testTarget(
            name: "CryptsetupTests", dependencies: ["CanonicalJSON", "AgentBase", "LUKSBinding", "SecureMemory"],
            swiftSettings: strict),
        .testTarget(
            name: "SystemdSupportTests", dependencies: ["SystemdSupport", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "BrokerTests",
            dependencies: [
                "AgentBase", "CanonicalJSON", "Broker", "AMDKDS", "TEESimulator", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "AgentCoreTests",
            dependencies: ["TEESimulator", "AgentBase", "AgentCore", "LUKSBinding", "TestSupport"],
            swiftSettings: strict),
        // Processes, brokers, LUKS2 images and deadlines: `swift test --skip Integration` leaves them out.
        .testTarget(
            name: "AgentCoreIntegrationTests",
            dependencies: [
                "TEESimulator",
                "CanonicalJSON",
                "AgentBase", "AgentCore", "Cryptsetup", "HTTPClient", "KBSProtocol", "LUKSBinding", "SecureMemory",
                "TEEDevice", "TestSupport",
            ],
            swiftSettings: strict),
    ]
)
