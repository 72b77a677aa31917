import ButlerClient
import ButlerModel
import Foundation
import Hummingbird
import Logging

/// Builds the handheld page's application over `store`: bound to 127.0.0.1 only, its "sync now"
/// runner among its services, so `runService()` serves until SIGTERM or SIGINT and stops gracefully.
///
/// ```swift
/// let store = try ClientStore.open(home: home)
/// let app = try await buildHandheldApplication(store: store, configuration: .init(port: 0)) { port in
///     print("http://127.0.0.1:\(port)/")
/// }
/// try await app.runService()
/// ```
///
/// - Parameters:
///   - makeEngine: the sync engine "sync now" runs (default: ``SyncEngine/forStore(_:configuration:maxUploadBytesPerSecond:logger:)``,
///     libcurl to the server the store was initialised with, as `butler sync`).
///   - onServerRunning: called with the bound port once the server listens.
public func buildHandheldApplication(
    store: ClientStore, configuration: HandheldConfiguration = HandheldConfiguration(), logger: Logger = Logger(label: "butler.ui"),
    makeEngine: (@Sendable () throws -> SyncEngine)? = nil,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    let runner = SyncRunner(logger: logger, makeEngine: makeEngine ?? { try SyncEngine.forStore(store) })
    let router = try await buildHandheldRouter(store: store, configuration: configuration, sync: runner, logger: logger)
    return Application(
        router: router,
        configuration: .init(address: .hostname("127.0.0.1", port: configuration.port), serverName: "butler-ui"),
        services: [runner],
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger)
}

func buildHandheldRouter(
    store: ClientStore, configuration: HandheldConfiguration, sync: SyncRunner, logger: Logger
) async throws -> Router<BasicRequestContext> {
    let pages = try await PageRenderer.bundled()
    // Read once here, at start: the routes then find the form templates in memory.
    _ = try ClientError.mapping { try TemplateCatalog.bundled() }
    let guardian = RequestGuard(token: configuration.formToken)
    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: PageMiddleware(pages: pages, guardian: guardian, logger: logger))
    HandheldRoutes(store: store, pages: pages, guardian: guardian, sync: sync, configuration: configuration, logger: logger).register(on: router)
    return router
}

/// Checks every request's `Host` (``RequestGuard/checkHost(_:)``) and turns every refusal into a
/// page: a ``PageError`` or a store error shows its message under its status; an unknown path is
/// a 404 page; anything else is logged and shown as a 500 without internals.
struct PageMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let pages: PageRenderer
    let guardian: RequestGuard
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            try guardian.checkHost(request)
            return try await next(request, context)
        } catch let error as PageError {
            return pages.error(error)
        } catch let error as ClientError {
            let page = PageError(error)
            if page.status == .internalServerError {
                logger.error("request failed", metadata: ["ui.path": "\(request.uri.path)", "error.code": "\(error.code)", "error.message": "\(error.message)"])
            }
            return pages.error(page)
        } catch let error as ModelError {
            return pages.error(PageError(ClientError(error)))
        } catch let error as HTTPError where error.status == .notFound {
            return pages.error(PageError(.notFound, "找不到页面", "没有这个页面。"))
        } catch let error as HTTPError where error.status.code < 500 {
            return pages.error(PageError(error.status, "请求有误", error.body ?? "这个请求无法处理，未做任何修改。"))
        } catch {
            logger.error("request failed", metadata: ["ui.path": "\(request.uri.path)", "error": "\(error)"])
            return pages.error(PageError(.internalServerError, "出错了", "处理这个请求时出错，未做任何修改。"))
        }
    }
}
