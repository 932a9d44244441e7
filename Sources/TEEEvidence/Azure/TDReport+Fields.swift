// SPDX-License-Identifier: Apache-2.0
// The TDREPORT fields a TD quote's body repeats, by name, to compare the HCL report's TDREPORT with the quote.

extension TDReport {
    /// The fields a quote body repeats, read in layout order (TEE_TCB_INFO at 256, TDINFO at 512).
    public var quotedFields: [(name: String, value: [UInt8])] {
        var r = ByteReader(rawBytes, context: "TDREPORT", offset: 264)
        // The offsets are within the 1024 bytes init(parsing:) checked, so no read can fail.
        guard
            let tcb = try? (
                r.bytes(16, "TEE_TCB_SVN"), r.bytes(48, "MRSEAM"), r.bytes(48, "MRSIGNERSEAM"),
                r.bytes(8, "SEAMATTRIBUTES")
            ),
            (try? r.skip(to: 512)) != nil,
            let info = try? (
                r.bytes(8, "ATTRIBUTES"), r.bytes(8, "XFAM"), r.bytes(48, "MRTD"), r.bytes(48, "MRCONFIGID"),
                r.bytes(48, "MROWNER"), r.bytes(48, "MROWNERCONFIG")
            ),
            let rtmr = try? (0..<4).map({ index throws(EvidenceError) in try r.bytes(48, "RTMR\(index)") })
        else { return [] }
        return [
            ("TEE_TCB_SVN", tcb.0), ("MRSEAM", tcb.1), ("MRSIGNERSEAM", tcb.2), ("SEAMATTRIBUTES", tcb.3),
            ("TDATTRIBUTES", info.0), ("XFAM", info.1), ("MRTD", info.2), ("MRCONFIGID", info.3), ("MROWNER", info.4),
            ("MROWNERCONFIG", info.5), ("RTMR0", rtmr[0]), ("RTMR1", rtmr[1]), ("RTMR2", rtmr[2]), ("RTMR3", rtmr[3]),
            ("REPORTDATA", reportData),
        ]
    }
}

extension TDReportBody {
    /// The same fields, by the same names, from a quote body.
    public var quotedFields: [(name: String, value: [UInt8])] {
        [
            ("TEE_TCB_SVN", teeTCBSVN), ("MRSEAM", mrSeam), ("MRSIGNERSEAM", mrSignerSeam),
            ("SEAMATTRIBUTES", seamAttributes), ("TDATTRIBUTES", tdAttributes), ("XFAM", xfam), ("MRTD", mrTD),
            ("MRCONFIGID", mrConfigID), ("MROWNER", mrOwner), ("MROWNERCONFIG", mrOwnerConfig), ("RTMR0", rtmr[0]),
            ("RTMR1", rtmr[1]), ("RTMR2", rtmr[2]), ("RTMR3", rtmr[3]), ("REPORTDATA", reportData),
        ]
    }
}
