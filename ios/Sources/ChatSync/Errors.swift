// Swift conveniences over the generated `ChatSyncError`.

import ChatSyncBindings

extension ChatSyncError: CustomStringConvertible {
    /// What kind of failure this is (the classification observers see in
    /// `SyncEvent.failure`).
    public var kind: ErrorKind {
        switch self {
        case .Network: .network
        case .Timeout: .timeout
        case .Server: .server
        case .Unauthorized: .unauthorized
        case .BadData: .badData
        case .NotFound: .notFound
        case .Rejected: .rejected
        case .Cache: .cache
        case .InvalidArgument: .invalidArgument
        case .SignedOut: .signedOut
        }
    }

    /// The core's human-readable explanation, e.g. `network unavailable: connection refused`.
    public var message: String {
        switch self {
        case .Network(let message), .Timeout(let message), .Server(let message),
             .Unauthorized(let message), .BadData(let message), .NotFound(let message),
             .Rejected(let message), .Cache(let message), .InvalidArgument(let message),
             .SignedOut(let message):
            message
        }
    }

    /// The error of that kind with that text (used for observer failure events, so
    /// a failure reported in the background and one thrown by a call look alike).
    public init(kind: ErrorKind, message: String) {
        switch kind {
        case .network: self = .Network(message: message)
        case .timeout: self = .Timeout(message: message)
        case .server: self = .Server(message: message)
        case .unauthorized: self = .Unauthorized(message: message)
        case .badData: self = .BadData(message: message)
        case .notFound: self = .NotFound(message: message)
        case .rejected: self = .Rejected(message: message)
        case .cache: self = .Cache(message: message)
        case .invalidArgument: self = .InvalidArgument(message: message)
        case .signedOut: self = .SignedOut(message: message)
        }
    }

    /// The message (so `localizedDescription` and string interpolation read well).
    public var description: String { message }
}
