// SPDX-License-Identifier: Apache-2.0
// Substring search without the regex module: what String.contains(String) would link in.

extension StringProtocol {
    /// Whether `text` occurs in this string, comparing UTF-8 bytes (for the ASCII names and markers the
    /// agent looks for, the same answer as `contains(_:)`). `contains(_: String)` comes from
    /// `_StringProcessing`, whose regex engine (about 1 MB) would then be linked into the agent.
    public func containsText(_ text: some StringProtocol) -> Bool {
        let haystack = Array(utf8)
        let needle = Array(text.utf8)
        guard !needle.isEmpty else { return true }
        guard haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            var index = 1
            while index < needle.count && haystack[start + index] == needle[index] { index += 1 }
            if index == needle.count { return true }
        }
        return false
    }
}
