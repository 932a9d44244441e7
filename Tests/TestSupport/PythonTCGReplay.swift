// SPDX-License-Identifier: Apache-2.0
// An independent TDX event-log replay for tests: Python and hashlib, written from the TCG PC Client
// spec and Intel's quote layout, sharing no code with ccagent.

/// An independent replay written from the TCG PC Client spec and Intel's quote layout: Python, hashlib.
public enum PythonTCGReplay {
    public static let script = #"""
        import hashlib, struct, sys
        quote = open(sys.argv[1], "rb").read()
        log = open(sys.argv[2], "rb").read()
        # TCG_PCClientPCREvent (SHA-1 format) header: PCR, type, SHA-1 digest, size, TCG_EfiSpecIDEvent.
        pcr, etype = struct.unpack_from("<II", log, 0)
        assert etype == 3, "first event is not EV_NO_ACTION"
        size, = struct.unpack_from("<I", log, 28)
        spec = log[32:32 + size]
        assert spec[:15] == b"Spec ID Event03"
        count, = struct.unpack_from("<I", spec, 24)
        sizes = {}
        for i in range(count):
            alg, dsize = struct.unpack_from("<HH", spec, 28 + 4 * i)
            sizes[alg] = dsize
        off = 32 + size
        rtmr = [bytes(48)] * 4
        events = 0
        while off + 8 <= len(log):
            index, etype = struct.unpack_from("<II", log, off)
            if index == 0xFFFFFFFF or (index == 0 and etype == 0):
                break
            ndig, = struct.unpack_from("<I", log, off + 8)
            off += 12
            sha384 = None
            for _ in range(ndig):
                alg, = struct.unpack_from("<H", log, off)
                digest = log[off + 2:off + 2 + sizes[alg]]
                if alg == 0x000C:
                    sha384 = digest
                off += 2 + sizes[alg]
            dlen, = struct.unpack_from("<I", log, off)
            off += 4 + dlen
            events += 1
            if 1 <= index <= 4 and sha384 is not None:
                rtmr[index - 1] = hashlib.sha384(rtmr[index - 1] + sha384).digest()
        # TDX quote v4: a 48-byte header, then the TD report body; RTMR0 is 328 bytes into the body.
        quoted = [quote[48 + 328 + 48 * i:48 + 328 + 48 * (i + 1)] for i in range(4)]
        if rtmr == quoted:
            print("replay matches RTMR0-3 (%d events)" % events)
        else:
            print("MISMATCH", [i for i in range(4) if rtmr[i] != quoted[i]])
        """#

    /// Runs the replay on two files; its output says "replay matches RTMR0-3" or "MISMATCH [registers]".
    public static func run(quote: String, log: String) throws -> String {
        try Subprocess.run(["/usr/bin/python3", "-c", script, quote, log]).output
    }
}
