// The real reference server (`chatsync-server`) on loopback, and helpers to drive it
// through its admin endpoints (docs/protocol.md, "Admin and fault injection").

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

/// One running `chatsync-server --faults` process on 127.0.0.1, killed on `stop()`.
final class ReferenceServer: @unchecked Sendable {
    // @unchecked: every property is set in init and never changed.
    struct User: Decodable {
        let id: String
        let role: String
        let fullName: String
        let token: String
    }

    private struct Startup: Decodable {
        let address: String
        let users: [User]
        let adminToken: String?
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let process: Process
    let baseURL: URL
    let requester: User
    let technician: User
    let adminToken: String
    /// The server's log (stderr), kept until the test process ends.
    let logURL: URL

    /// Starts the binary named by `CHATSYNC_SERVER_BIN` (set by ios/scripts/test.sh)
    /// with `tickets` seeded tickets of `messages` messages each.
    init(tickets: Int, messages: Int) throws {
        guard let binary = ProcessInfo.processInfo.environment["CHATSYNC_SERVER_BIN"], !binary.isEmpty else {
            throw Failure(description: "CHATSYNC_SERVER_BIN is not set: run the suite with ios/scripts/test.sh")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--addr", "127.0.0.1:0", "--seed-tickets", String(tickets), "--seed-messages", String(messages), "--faults",
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["RUST_LOG"] = environment["RUST_LOG"] ?? "warn"
        process.environment = environment
        let stdout = Pipe()
        process.standardOutput = stdout
        // Logs go to a file, not to the runner's output: a server outliving a
        // crashed runner must not hold the test script's output open.
        let logURL = FileManager.default.temporaryDirectory.appendingPathComponent("chatsync-server-\(UUID().uuidString).log")
        guard FileManager.default.createFile(atPath: logURL.path, contents: nil) else {
            throw Failure(description: "cannot create \(logURL.path)")
        }
        process.standardError = try FileHandle(forWritingTo: logURL)
        self.logURL = logURL
        try process.run()
        // The server prints exactly one JSON line once it listens.
        var line = Data()
        let reader = stdout.fileHandleForReading
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = reader.availableData
            if chunk.isEmpty {
                process.terminate()
                throw Failure(description: "chatsync-server exited before printing its address")
            }
            line.append(chunk)
        }
        let startup = try JSONDecoder().decode(Startup.self, from: line)
        guard let requester = startup.users.first(where: { $0.role == "requester" }),
              let technician = startup.users.first(where: { $0.role == "technician" }),
              let adminToken = startup.adminToken,
              let baseURL = URL(string: "http://\(startup.address)")
        else {
            process.terminate()
            throw Failure(description: "unexpected startup line: \(String(decoding: line, as: UTF8.self))")
        }
        self.process = process
        self.baseURL = baseURL
        self.requester = requester
        self.technician = technician
        self.adminToken = adminToken
    }

    /// Stops the server (SIGTERM) and waits for it to exit.
    func stop() {
        if process.isRunning {
            // SIGKILL: the server's graceful shutdown waits for idle keep-alive
            // connections (URLSession keeps one), which can take indefinitely.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    // MARK: HTTP

    /// A JSON request to the server; returns the body, failing on an unexpected status.
    @discardableResult
    func request(
        _ method: String,
        _ path: String,
        token: String,
        json: [String: any Sendable]? = nil,
        expect: Set<Int> = [200, 201, 204]
    ) async throws -> Data {
        var request = URLRequest(url: baseURL.appendingPathComponent(path))
        request.httpMethod = method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        if let json {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONSerialization.data(withJSONObject: json)
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard expect.contains(status) else {
            throw Failure(description: "\(method) \(path) answered \(status): \(String(decoding: data, as: UTF8.self))")
        }
        return data
    }

    /// `POST /admin/v1/<path>` with the admin token.
    @discardableResult
    func admin(_ path: String, _ json: [String: any Sendable]? = nil) async throws -> Data {
        try await request("POST", "admin/v1/\(path)", token: adminToken, json: json)
    }

    /// The server's counters (`GET /admin/v1/stats`).
    func stats() async throws -> [String: Int] {
        let data = try await request("GET", "admin/v1/stats", token: adminToken)
        return try JSONDecoder().decode([String: Int].self, from: data)
    }

    /// Posts a message as the technician through the normal path; returns its sequence.
    @discardableResult
    func postAsTechnician(_ requestId: String, _ content: String) async throws -> Int64 {
        let data = try await admin("messages", ["requestId": requestId, "senderId": technician.id, "content": content])
        struct Posted: Decodable { let sequenceNumber: Int64 }
        return try JSONDecoder().decode(Posted.self, from: data).sequenceNumber
    }

    /// The ticket ids, as the requester sees them (most recent activity first).
    func ticketIds() async throws -> [String] {
        let data = try await request("GET", "api/v1/chat/requests", token: requester.token)
        struct List: Decodable {
            struct Ticket: Decodable { let id: String }
            let chatMessages: [Ticket]
        }
        return try JSONDecoder().decode(List.self, from: data).chatMessages.map(\.id)
    }
}

/// A timeout of a test wait.
struct TimedOut: Error, CustomStringConvertible {
    let description: String
}

/// Consumes `stream` until `done` holds for an element (returning every element
/// seen, that one included), or throws ``TimedOut`` after `timeout`. Consuming
/// ends the stream's subscription when it returns.
func collect<Element: Sendable>(
    _ stream: AsyncStream<Element>,
    timeout: Duration = .seconds(20),
    _ what: String,
    until done: @escaping @Sendable (Element) -> Bool
) async throws -> [Element] {
    try await withThrowingTaskGroup(of: [Element]?.self) { group in
        group.addTask {
            var seen: [Element] = []
            for await element in stream {
                seen.append(element)
                if done(element) { return seen }
            }
            return nil
        }
        group.addTask {
            try await Task.sleep(for: timeout)
            throw TimedOut(description: "timed out after \(timeout) waiting for \(what)")
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let seen = first else {
            throw TimedOut(description: "the stream ended while waiting for \(what)")
        }
        return seen
    }
}

/// True when `stream` finishes (after any number of elements) within `timeout`.
func streamEnds<Element: Sendable>(_ stream: AsyncStream<Element>, within timeout: Duration) async -> Bool {
    await withTaskGroup(of: Bool.self) { group in
        group.addTask {
            for await _ in stream {}
            return !Task.isCancelled
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return false
        }
        let first = await group.next() ?? false
        group.cancelAll()
        return first
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes.
func eventually(
    isolation: isolated (any Actor)? = #isolation,
    timeout: Duration = .seconds(20),
    _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}
