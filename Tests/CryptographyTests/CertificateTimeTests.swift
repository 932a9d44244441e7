// SPDX-License-Identifier: Apache-2.0
// Certificate and CRL times: UTCTime (1950-2049) and GeneralizedTime read back exactly, bad ones fail closed.

import AgentBase
import Cryptography
import Testing

@Suite("Certificate times")
struct CertificateTimeTests {
    static let key = Result { try PrivateKey.generateEC(.p256) }

    func certificate(notBefore: Timestamp, notAfter: Timestamp) throws -> Certificate {
        let key = try Self.key.get()
        let builder = CertificateBuilder(
            subject: [("CN", "times")], serial: [1], notBefore: notBefore, notAfter: notAfter, publicKey: key.publicKey)
        return try builder.sign(issuer: [("CN", "times")], key: key, alg: .sha256, rsaPSS: false)
    }

    /// The DER of an ASN.1 time: tag 0x17 (UTCTime) or 0x18 (GeneralizedTime), length, ASCII text.
    func encoded(_ text: String) -> [UInt8] {
        [text.utf8.count == 13 ? 0x17 : 0x18, UInt8(text.utf8.count)] + Array(text.utf8)
    }

    @Test(
        "a time is encoded as RFC 5280 requires and read back to the second",
        arguments: [
            ("1950-01-01T00:00:00Z", "500101000000Z"),  // the first UTCTime second
            ("1960-02-29T12:34:56Z", "600229123456Z"),  // a leap day in UTCTime's 19xx half
            ("1999-12-31T23:59:59Z", "991231235959Z"),
            ("2000-02-29T00:00:00Z", "000229000000Z"),  // a leap day in UTCTime's 20xx half
            ("2049-12-31T23:59:59Z", "491231235959Z"),  // the last UTCTime second
            ("2050-01-01T00:00:00Z", "20500101000000Z"),  // GeneralizedTime from 2050 on
            ("1949-12-31T23:59:59Z", "19491231235959Z"),  // and before 1950
            ("2400-02-29T00:00:00Z", "24000229000000Z"),
            ("9999-12-31T23:59:59Z", "99991231235959Z"),  // "no well-defined expiration date"
        ])
    func roundTrip(time: String, asn1: String) throws {
        let value = try #require(Timestamp(iso8601: time))
        let start = try #require(Timestamp(iso8601: "1949-01-01T00:00:00Z"))
        let certificate = try self.certificate(notBefore: start, notAfter: value)
        #expect(certificate.notAfter == value)
        #expect(certificate.notAfter.iso8601 == time)
        #expect(certificate.notBefore == start)
        #expect(certificate.der.firstRange(of: encoded(asn1)) != nil, "encoded as \(asn1)")
        #expect(certificate.isValid(at: value))
        #expect(!certificate.isValid(at: value + 1))
    }

    @Test(
        "an unreadable notAfter makes the certificate invalid at every time, never valid forever",
        arguments: ["491331235959Z", "490230235959Z", "4912312359xxZ"])
    func unreadable(bad: String) throws {
        let start = try #require(Timestamp(iso8601: "2000-01-01T00:00:00Z"))
        let end = try #require(Timestamp(iso8601: "2049-12-31T23:59:59Z"))
        var der = try certificate(notBefore: start, notAfter: end).der
        let range = try #require(der.firstRange(of: encoded("491231235959Z")))
        der.replaceSubrange(range, with: encoded(bad))
        let damaged = try Certificate(der: der)
        #expect(damaged.notAfter == .distantPast)
        #expect(!damaged.isValid(at: start + 86400))
    }

    @Test("a CRL's thisUpdate and nextUpdate read back exactly, across the UTCTime/GeneralizedTime boundary")
    func crlTimes() throws {
        let key = try Self.key.get()
        let thisUpdate = try #require(Timestamp(iso8601: "2049-12-31T23:00:00Z"))
        let nextUpdate = try #require(Timestamp(iso8601: "2050-01-31T00:00:00Z"))
        let crl = try CertificateRevocationList.sign(
            issuer: [("CN", "times")], revokedSerialNumbers: [[2]], thisUpdate: thisUpdate, nextUpdate: nextUpdate,
            key: key, alg: .sha256, rsaPSS: false)
        let parsed = try CertificateRevocationList(der: crl.der)
        #expect(parsed.thisUpdate == thisUpdate)
        #expect(parsed.nextUpdate == nextUpdate)
    }
}
