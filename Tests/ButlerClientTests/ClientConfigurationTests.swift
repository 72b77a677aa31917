import ButlerTestSupport
import ButlerClient
import ButlerModel
import Foundation
import Logging
import Testing

@Suite("Client configuration")
struct ClientConfigurationTests {
    @Test("no variables: ~/.butler, no key, no upload cap, info")
    func defaults() throws {
        let configuration = try ClientConfiguration.fromEnvironment([:])
        #expect(configuration == ClientConfiguration())
        #expect(configuration.home == FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".butler", isDirectory: true))
        #expect(configuration.keyFile == nil)
        #expect(configuration.maxUploadBytesPerSecond == nil)
        #expect(configuration.logLevel == .info)
        #expect(ClientConfiguration.defaultHome(environment: [:]) == configuration.home)
    }

    @Test("each variable sets its field", arguments: [
        (["BUTLER_HOME": "/var/lib/butler"], ClientConfiguration(home: URL(fileURLWithPath: "/var/lib/butler", isDirectory: true))),
        (["BUTLER_KEY_FILE": "/run/creds/butler.key"], ClientConfiguration(keyFile: URL(fileURLWithPath: "/run/creds/butler.key"))),
        (["BUTLER_MAX_UPLOAD_RATE": "200000"], ClientConfiguration(maxUploadBytesPerSecond: 200_000)),
        (["BUTLER_MAX_UPLOAD_RATE": "0"], ClientConfiguration()),
        (["BUTLER_LOG_LEVEL": "debug"], ClientConfiguration(logLevel: .debug)),
        (["BUTLER_LOG_LEVEL": "Critical"], ClientConfiguration(logLevel: .critical)),
    ])
    func variables(environment: [String: String], expected: ClientConfiguration) throws {
        #expect(try ClientConfiguration.fromEnvironment(environment) == expected)
    }

    @Test("BUTLER_HOME is what defaultHome has always returned")
    func defaultHome() throws {
        let environment = ["BUTLER_HOME": "/srv/handheld"]
        #expect(ClientConfiguration.defaultHome(environment: environment) == URL(fileURLWithPath: "/srv/handheld", isDirectory: true))
        #expect(try ClientConfiguration.fromEnvironment(environment).home == ClientConfiguration.defaultHome(environment: environment))
    }

    @Test("a variable set to the empty string counts as unset")
    func emptyIsUnset() throws {
        let environment = ["BUTLER_HOME": "", "BUTLER_KEY_FILE": "", "BUTLER_MAX_UPLOAD_RATE": "", "BUTLER_LOG_LEVEL": ""]
        #expect(try ClientConfiguration.fromEnvironment(environment) == ClientConfiguration())
    }

    @Test("a tool's own defaults apply where no variable is set, and variables override them")
    func toolDefaults() throws {
        let quiet = ClientConfiguration(logLevel: .warning)
        #expect(try ClientConfiguration.fromEnvironment([:], defaults: quiet).logLevel == .warning)
        #expect(try ClientConfiguration.fromEnvironment(["BUTLER_LOG_LEVEL": "trace"], defaults: quiet).logLevel == .trace)
    }

    @Test("a flag set over the environment wins, as the tools do it")
    func flagOverEnvironment() throws {
        var configuration = try ClientConfiguration.fromEnvironment(["BUTLER_HOME": "/from/env", "BUTLER_MAX_UPLOAD_RATE": "1000"])
        configuration.home = URL(fileURLWithPath: "/from/flag", isDirectory: true)
        configuration.maxUploadBytesPerSecond = try ClientConfiguration.uploadRate("5000", from: "--max-upload-rate")
        #expect(configuration.home.path == "/from/flag")
        #expect(configuration.maxUploadBytesPerSecond == 5000)
    }

    @Test("the server's legacy LOG_LEVEL does not configure the client tools")
    func legacyIgnored() throws {
        #expect(try ClientConfiguration.fromEnvironment(["LOG_LEVEL": "debug"]).logLevel == .info)
        #expect(try ClientConfiguration.fromEnvironment(["LOG_LEVEL": "not-a-level"]).logLevel == .info)
    }

    @Test("an unusable value is an invalid-argument error naming the variable", arguments: [
        ("BUTLER_LOG_LEVEL", "verbose"),
        ("BUTLER_LOG_LEVEL", "warn"),
        ("BUTLER_MAX_UPLOAD_RATE", "fast"),
        ("BUTLER_MAX_UPLOAD_RATE", "-5"),
        ("BUTLER_MAX_UPLOAD_RATE", "1.5"),
        ("BUTLER_MAX_UPLOAD_RATE", "200k"),
    ])
    func invalid(variable: String, value: String) throws {
        let error = #expect(throws: ClientError.self) { try ClientConfiguration.fromEnvironment([variable: value]) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("\(variable)=\"\(value)\"") == true, "\(error?.message ?? "")")
    }

    @Test("the key file: none without a variable, created on request, otherwise required to exist")
    func keyFile() throws {
        let dir = Scratch("store")
        #expect(try ClientConfiguration().atRestKey() == nil)
        let file = dir.url.appendingPathComponent("device.key")
        let configuration = try ClientConfiguration.fromEnvironment(["BUTLER_KEY_FILE": file.path])
        let missing = #expect(throws: ClientError.self) { try configuration.atRestKey() }
        #expect(missing?.code == .file)
        #expect(!FileManager.default.fileExists(atPath: file.path), "reading a key never creates one")
        let created = try #require(try configuration.atRestKey(creatingIfMissing: true))
        #expect(FileManager.default.fileExists(atPath: file.path))
        // A second `init` reads the key it made rather than replacing it: the store opens with both.
        let store = try ClientStore.open(home: dir.url.appendingPathComponent("home"), atRest: created)
        try store.initialize(name: "李管家", serverURL: "http://127.0.0.1:9", token: "bt_x")
        _ = try ClientStore.open(home: dir.url.appendingPathComponent("home"), atRest: try configuration.atRestKey(creatingIfMissing: true))
    }
}

@Suite("Log level setting")
struct LogLevelSettingTests {
    @Test("BUTLER_LOG_LEVEL, then LOG_LEVEL only where the legacy name is accepted")
    func precedence() throws {
        #expect(try LogLevelSetting.levelName(in: [:], acceptingLegacy: true) == nil)
        #expect(try LogLevelSetting.levelName(in: ["BUTLER_LOG_LEVEL": "debug"], acceptingLegacy: false) == "debug")
        #expect(try LogLevelSetting.levelName(in: ["LOG_LEVEL": "notice"], acceptingLegacy: true) == "notice")
        #expect(try LogLevelSetting.levelName(in: ["LOG_LEVEL": "notice"], acceptingLegacy: false) == nil)
        #expect(try LogLevelSetting.levelName(in: ["BUTLER_LOG_LEVEL": "error", "LOG_LEVEL": "trace"], acceptingLegacy: true) == "error")
        // An empty BUTLER_LOG_LEVEL is unset, so the legacy name still counts.
        #expect(try LogLevelSetting.levelName(in: ["BUTLER_LOG_LEVEL": "", "LOG_LEVEL": "trace"], acceptingLegacy: true) == "trace")
        // The legacy value is not even read when BUTLER_LOG_LEVEL is set.
        #expect(try LogLevelSetting.levelName(in: ["BUTLER_LOG_LEVEL": "info", "LOG_LEVEL": "loud"], acceptingLegacy: true) == "info")
    }

    @Test("every name is swift-log's, in any letter case")
    func names() throws {
        #expect(LogLevelSetting.levelNames == Logger.Level.allCases.map(\.rawValue))
        for name in LogLevelSetting.levelNames {
            #expect(try LogLevelSetting.validated(name.uppercased(), from: "BUTLER_LOG_LEVEL") == name)
        }
        #expect(try LogLevelSetting.validated(" warning ", from: "BUTLER_LOG_LEVEL") == "warning")
    }

    @Test("a BUTLER_LOG_LEVEL that is not a level is an invalid-value error naming it; a bad legacy LOG_LEVEL is ignored, as it always was")
    func invalid() throws {
        let error = #expect(throws: ModelError.self) { try LogLevelSetting.levelName(in: ["BUTLER_LOG_LEVEL": "loud"], acceptingLegacy: true) }
        #expect(error?.code == .invalidValue)
        #expect(error?.message.hasPrefix("BUTLER_LOG_LEVEL=\"loud\" is not a log level") == true)
        #expect(try LogLevelSetting.levelName(in: ["LOG_LEVEL": "loud"], acceptingLegacy: true) == nil)
        #expect(try LogLevelSetting.levelName(in: ["LOG_LEVEL": "debug"], acceptingLegacy: true) == "debug")
    }
}
