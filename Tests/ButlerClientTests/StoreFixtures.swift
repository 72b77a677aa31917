import ButlerClient
import ButlerModel
import Foundation

/// A store under a fresh temporary folder, in memory or on disk.
enum StoreKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case memory, disk
    var description: String { rawValue }
}

struct TempDirectory: ~Copyable {
    let url: URL

    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("butler-test-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }
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

func writeFile(_ directory: URL, _ name: String, bytes: Int, seed: UInt8 = 1) throws -> URL {
    let url = directory.appendingPathComponent(name)
    let data = Data((0..<bytes).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) })
    try data.write(to: url)
    return url
}
