// swift-tools-version:6.0
//
// ChatSync for iOS requester apps: the shared Rust sync core (chatsync-ffi) through
// UniFFI, with an idiomatic Swift layer on top. See ios/README.md.
//
// Targets:
// - `ChatSyncBindingsFFI`: the C header of the Rust library. By default a system
//   library target whose module map links `libchatsync_ffi` found through the
//   linker search path (`-Xlinker -L<dir>`: Linux tests, macOS development). When
//   `releaseXCFramework` below is set (ios/scripts/build-xcframework.sh prints the
//   values), it is the released XCFramework of static libraries instead.
// - `ChatSyncBindings`: the Swift file UniFFI generates (checked in; the test script
//   fails when it is not what the current Rust crate generates).
// - `ChatSync`: the hand-written layer apps import (async/await, AsyncStream, an
//   Observation chat model, lifecycle/connectivity/background-refresh helpers).

import PackageDescription

/// The released XCFramework (zip URL and `swift package compute-checksum` value),
/// or nil to link the Rust library from the linker search path.
let releaseXCFramework: (url: String, checksum: String)? = nil

/// `CHATSYNC_LOCAL_XCFRAMEWORK=1`: use the XCFramework that
/// ios/scripts/build-xcframework.sh left in ios/Frameworks/ (try a release build
/// before publishing it).
let useLocalXCFramework = Context.environment["CHATSYNC_LOCAL_XCFRAMEWORK"] == "1"

let ffiTarget: Target
if let release = releaseXCFramework {
    ffiTarget = .binaryTarget(name: "ChatSyncBindingsFFI", url: release.url, checksum: release.checksum)
} else if useLocalXCFramework {
    ffiTarget = .binaryTarget(name: "ChatSyncBindingsFFI", path: "Frameworks/ChatSyncBindingsFFI.xcframework")
} else {
    ffiTarget = .systemLibrary(name: "ChatSyncBindingsFFI", path: "Sources/ChatSyncBindingsFFI")
}

let package = Package(
    name: "ChatSync",
    platforms: [.iOS(.v17), .macOS(.v14)],
    products: [
        .library(name: "ChatSync", targets: ["ChatSync"]),
    ],
    targets: [
        ffiTarget,
        .target(
            name: "ChatSyncBindings",
            dependencies: ["ChatSyncBindingsFFI"],
            path: "Sources/ChatSyncBindings"
        ),
        .target(
            name: "ChatSync",
            dependencies: ["ChatSyncBindings"],
            path: "Sources/ChatSync"
        ),
        // Linux only: supplies a symbol Debian's libswiftObservation.so needs (see its shim.c).
        .target(name: "LinuxToolchainShim", path: "Tests/LinuxToolchainShim"),
        .testTarget(
            name: "ChatSyncTests",
            dependencies: [
                "ChatSync",
                .target(name: "LinuxToolchainShim", condition: .when(platforms: [.linux])),
            ],
            path: "Tests/ChatSyncTests"
        ),
    ],
    swiftLanguageModes: [.v6]
)
