import ArgumentParser
import ButlerClient
import ButlerModel
import Foundation

struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Set this handheld up with a server and the token its supervisor issued.",
        discussion: """
            Creates the store (an SQLite file and a photo folder) and a fresh replica id. If the server \
            is reachable, checks the token and learns the device's zones; otherwise sets up offline and \
            checks on the first sync.

            Example:
              butler init --server http://10.0.0.5:8080 --token bt_5f0c… --name 李管家
            """)

    @OptionGroup var home: HomeOptions
    @Option(help: ArgumentHelp("The sync server's URL.", valueName: "url")) var server: String
    @Option(help: ArgumentHelp("The device token from `butler-server device add`.", valueName: "token")) var token: String
    @Option(help: ArgumentHelp("Your name as it appears on your edits (default: the device name the server knows).", valueName: "name"))
    var name: String?

    func run() async throws {
        let store = try home.create()
        var device: DeviceInfo?
        do {
            var config = CurlTransport.Configuration(baseURL: server, token: token)
            config.connectTimeout = .seconds(5)
            config.requestTimeout = .seconds(10)
            device = try await CurlTransport(configuration: config).device()
        } catch let error as ClientError where error.isTransient {
            FileHandle.standardError.write(Data("butler: server not reachable now (\(error.message)); set up offline\n".utf8))
        }
        let identity = try store.initialize(
            name: name ?? device?.name ?? ProcessInfo.processInfo.environment["USER"] ?? "butler", serverURL: server, token: token)
        if let device { try store.setDeviceInfo(device) }
        let zones = device.map { " in zone(s) \($0.zones.map(\.rawValue).joined(separator: ","))" } ?? ""
        FileHandle.standardError.write(Data("butler: set up as \(identity.name) (replica \(identity.replica))\(zones)\n".utf8))
    }
}
