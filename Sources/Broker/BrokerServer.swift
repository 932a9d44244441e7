// SPDX-License-Identifier: Apache-2.0
// The HTTP(S) front of the broker on Hummingbird 2: routes /kbs/v0/* to KBSBroker, limits bodies to 2 MiB.

import Foundation
import Hummingbird
import HummingbirdTLS
import Logging

/// The request context: it remembers the peer address for the audit log.
public struct BrokerRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let peer: String

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peer = source.channel.remoteAddress.map { "\($0)" } ?? "unknown"
    }

    /// Trustee's default payload limit.
    public var maxUploadSize: Int { 2 * 1024 * 1024 }
}

/// Runs the broker until SIGTERM/SIGINT (graceful shutdown through the application's service group).
public enum BrokerServer {
    public static func run(
        broker: KBSBroker, host: String, port: Int, tls: (certificate: String, key: String)?,
        logger: Logger, onReady: @escaping @Sendable (String) -> Void
    ) async throws {
        let responder = CallbackResponder<BrokerRequestContext> { request, context in
            let body: [UInt8]
            do {
                let buffer = try await request.body.collect(upTo: context.maxUploadSize)
                body = Array(buffer.readableBytesView)
            } catch {
                return Response(
                    status: .contentTooLarge, headers: [.contentType: "text/plain"],
                    body: .init(byteBuffer: ByteBuffer(string: "payload reached size limit")))
            }
            var cookie: String?
            for field in request.headers[values: .cookie] {
                for pair in field.split(separator: ";") {
                    let trimmed = pair.trimmingCharacters(in: .whitespaces)
                    if trimmed.hasPrefix("kbs-session-id=") {
                        cookie = String(trimmed.dropFirst("kbs-session-id=".count))
                    }
                }
            }
            var bearer: String?
            if let authorization = request.headers[.authorization], authorization.hasPrefix("Bearer ") {
                bearer = String(authorization.dropFirst("Bearer ".count))
            }
            let answer = await broker.handleOffExecutor(
                BrokerRequest(
                    method: request.method.rawValue, path: request.uri.path, cookie: cookie, bearer: bearer, body: body,
                    peer: context.peer))
            var headers: HTTPFields = [.contentType: "application/json"]
            if let setCookie = answer.setCookie { headers[.setCookie] = setCookie }
            return Response(
                status: .init(code: answer.status), headers: headers,
                body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
        }
        let configuration = ApplicationConfiguration(address: .hostname(host, port: port), serverName: "ccbroker")
        if let tls {
            let certificates = try NIOSSLCertificate.fromPEMFile(tls.certificate)
            let key = try NIOSSLPrivateKey(file: tls.key, format: .pem)
            let tlsConfiguration = TLSConfiguration.makeServerConfiguration(
                certificateChain: certificates.map { .certificate($0) }, privateKey: .privateKey(key))
            let app = Application(
                responder: responder, server: try .tls(.http1(), tlsConfiguration: tlsConfiguration),
                configuration: configuration,
                onServerRunning: { onReady("https://\(host):\($0.localAddress?.port ?? port)") }, logger: logger)
            try await app.runService()
        } else {
            let app = Application(
                responder: responder, server: .http1(), configuration: configuration,
                onServerRunning: { onReady("http://\(host):\($0.localAddress?.port ?? port)") }, logger: logger)
            try await app.runService()
        }
    }
}
