import ButlerClient
import ButlerModel
import ButlerTestSupport
import Foundation

/// A store under a fresh temporary folder, in memory or on disk.
enum StoreKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case memory, disk
    var description: String { rawValue }
}

func makeStore(_ kind: StoreKind, in directory: URL, clock: any WallClock = SystemWallClock(), initialized: Bool = true) throws -> ClientStore {
    let store: ClientStore
    switch kind {
    case .memory: store = try ClientStore.inMemory(blobDirectory: directory.appendingPathComponent("blobs"), clock: clock)
    case .disk: store = try ClientStore.open(home: directory.appendingPathComponent("home"), clock: clock)
    }
    if initialized {
        try store.initialize(name: "李管家", serverURL: "http://127.0.0.1:9", token: "bt_test", replica: ReplicaID("li-handheld"))
    }
    return store
}
