// App resume → the core's `onAppResume`: a UIKit notification observer and a SwiftUI
// scene-phase modifier. Compiled only where the frameworks exist.

#if canImport(UIKit)
import UIKit

/// Calls ``ChatSync/onAppResume()`` each time the app is about to enter the
/// foreground (`UIApplication.willEnterForegroundNotification`). Keep it alive
/// while signed in; releasing it stops the observation.
public final class AppResumeObserver {
    private let center: NotificationCenter
    private let token: any NSObjectProtocol

    /// Observes `center` (the default center unless testing) for `chatSync`.
    @MainActor
    public init(chatSync: ChatSync, center: NotificationCenter = .default) {
        self.center = center
        token = center.addObserver(
            forName: UIApplication.willEnterForegroundNotification,
            object: nil,
            queue: nil
        ) { _ in
            chatSync.onAppResume()
        }
    }

    deinit { center.removeObserver(token) }
}
#endif

#if canImport(SwiftUI)
import SwiftUI

/// Calls ``ChatSync/onAppResume()`` when the scene becomes active after having
/// been in the background (not on the first activation, nor after a brief
/// inactive phase such as the app switcher).
struct ChatSyncLifecycleModifier: ViewModifier {
    @Environment(\.scenePhase) private var scenePhase
    @State private var wasInBackground = false
    let chatSync: ChatSync

    func body(content: Content) -> some View {
        content.onChange(of: scenePhase) { _, phase in
            switch phase {
            case .background:
                wasInBackground = true
            case .active where wasInBackground:
                wasInBackground = false
                chatSync.onAppResume()
            default:
                break
            }
        }
    }
}

extension View {
    /// Wires the scene phase to `chatSync` (app resume). Apply it once, at the root view.
    public func chatSyncLifecycle(_ chatSync: ChatSync) -> some View {
        modifier(ChatSyncLifecycleModifier(chatSync: chatSync))
    }
}
#endif
