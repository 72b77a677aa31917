import ButlerFiles
import ButlerModel
import CCurl
import Foundation

/// One blocking libcurl transfer and the state its C callbacks reach through a context pointer.
///
/// The instance lives on the stack of ``run(_:configuration:cancelled:)`` for the whole
/// `curl_easy_perform` call, and only libcurl's callbacks on that same thread touch it.
final class CurlRequest {
    var body = Data()
    var uploadHandle: FileHandle?
    var uploadData: Data?
    var uploadRemaining: Int64 = 0
    var uploadedTotal: Int64 = 0
    var downloadHandle: FileHandle?
    var downloaded: Int64 = 0
    var failure: (any Error)?
    let cancelled: CancellationFlag
    let onUpload: (@Sendable (Int64) -> Void)?
    var status = 0

    init(cancelled: CancellationFlag, onUpload: (@Sendable (Int64) -> Void)?) {
        self.cancelled = cancelled
        self.onUpload = onUpload
    }

    static func run(_ request: CurlTransport.Request, configuration: CurlTransport.Configuration, cancelled: CancellationFlag) throws -> CurlTransport.Response {
        guard let handle = curl_easy_init() else { throw ClientError(.unreachable, "libcurl could not start a transfer") }
        defer { curl_easy_cleanup(handle) }
        let state = CurlRequest(cancelled: cancelled, onUpload: request.onUpload)
        let context = Unmanaged.passUnretained(state).toOpaque()
        var headers: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headers) }
        let allHeaders = request.headers + [
            "Authorization: Bearer \(configuration.token)", "\(WireProtocol.versionHeader): \(WireProtocol.version)", "Expect:",
            "Accept: application/json",
        ]
        for header in allHeaders { headers = curl_slist_append(headers, header) }

        let url = configuration.baseURL + request.path
        butler_curl_setopt_string(handle, CURLOPT_URL, url)
        butler_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headers)
        butler_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        // libcurl sends `Accept-Encoding: gzip` and inflates the reply before the write callback:
        // the body and its byte counts below are the inflated ones.
        if request.acceptGzip { butler_curl_setopt_string(handle, CURLOPT_ACCEPT_ENCODING, "gzip") }
        butler_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(configuration.connectTimeout.milliseconds))
        if !request.idle {
            butler_curl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, configuration.lowSpeedBytesPerSecond)
            butler_curl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, Int(configuration.lowSpeedTime.milliseconds / 1000))
        }
        if let timeout = request.timeout { butler_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(timeout.milliseconds)) }
        if let rate = configuration.maxUploadBytesPerSecond, rate > 0 {
            butler_curl_setopt_off_t(handle, CURLOPT_MAX_SEND_SPEED_LARGE, curl_off_t(rate))
        }
        butler_curl_setopt_long(handle, CURLOPT_NOPROGRESS, 0)
        butler_curl_setopt_progress_callback(handle) { context, _, _, _, _ in
            let state = Unmanaged<CurlRequest>.fromOpaque(context!).takeUnretainedValue()
            return state.cancelled.isCancelled ? 1 : 0
        }
        butler_curl_setopt_pointer(handle, CURLOPT_XFERINFODATA, context)
        butler_curl_setopt_data_callback(handle, CURLOPT_WRITEFUNCTION) { buffer, size, count, context in
            let state = Unmanaged<CurlRequest>.fromOpaque(context!).takeUnretainedValue()
            let bytes = UnsafeRawBufferPointer(start: buffer, count: size * count)
            if let file = state.downloadHandle, (200..<300).contains(state.currentStatus()) {
                do { try file.write(contentsOf: bytes) } catch {
                    state.failure = error
                    return 0
                }
                state.downloaded += Int64(bytes.count)
            } else {
                state.body.append(contentsOf: bytes)
            }
            return size * count
        }
        butler_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context)
        state.handle = handle

        switch request.method {
        case .get:
            butler_curl_setopt_long(handle, CURLOPT_HTTPGET, 1)
        case .post, .patch:
            butler_curl_setopt_long(handle, CURLOPT_UPLOAD, 1)
            butler_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method.rawValue)
        }
        switch request.upload {
        case .none:
            if request.method != .get { butler_curl_setopt_off_t(handle, CURLOPT_INFILESIZE_LARGE, 0) }
        case .data(let data):
            state.uploadData = data
            state.uploadRemaining = Int64(data.count)
            butler_curl_setopt_off_t(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(data.count))
        case .file(let file, let offset, let count):
            do {
                let input = try FileHandle(forReadingFrom: file)
                try input.seek(toOffset: UInt64(offset))
                state.uploadHandle = input
            } catch {
                throw ClientError(.file, "cannot read \(file.path) to upload: \(error.localizedDescription)")
            }
            state.uploadRemaining = count
            butler_curl_setopt_off_t(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(count))
        }
        defer { try? state.uploadHandle?.close() }
        if case .none = request.upload {} else {
            butler_curl_setopt_data_callback(handle, CURLOPT_READFUNCTION) { buffer, size, count, context in
                let state = Unmanaged<CurlRequest>.fromOpaque(context!).takeUnretainedValue()
                return state.read(into: buffer!, capacity: size * count)
            }
            butler_curl_setopt_pointer(handle, CURLOPT_READDATA, context)
        }
        if let download = request.download {
            do { state.downloadHandle = try DurableFile.appending(download) } catch let error as FileError { throw ClientError(error) }
        }
        defer {
            try? state.downloadHandle?.synchronize()
            try? state.downloadHandle?.close()
        }

        let code = curl_easy_perform(handle)
        if let failure = state.failure { throw ClientError.wrap(failure, "transfer to \(url)") }
        guard code == CURLE_OK else {
            if code == CURLE_ABORTED_BY_CALLBACK { throw CancellationError() }
            let reason = String(cString: curl_easy_strerror(code))
            switch code {
            case CURLE_OPERATION_TIMEDOUT:
                throw ClientError(.timeout, "\(configuration.baseURL) did not answer in time (\(reason))")
            default:
                throw ClientError(.unreachable, "cannot reach \(configuration.baseURL): \(reason)")
            }
        }
        var sent: curl_off_t = 0
        var received: curl_off_t = 0
        // libcurl counts the body bytes as they crossed the wire: compressed, when they were.
        butler_curl_getinfo_off_t(handle, CURLINFO_SIZE_UPLOAD_T, &sent)
        butler_curl_getinfo_off_t(handle, CURLINFO_SIZE_DOWNLOAD_T, &received)
        return CurlTransport.Response(
            status: state.currentStatus(), body: state.body, downloaded: state.downloaded, sentBytes: Int64(sent), receivedBytes: Int64(received))
    }

    var handle: UnsafeMutableRawPointer?

    func currentStatus() -> Int {
        guard let handle else { return 0 }
        var code = 0
        butler_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code)
        return code
    }

    func read(into buffer: UnsafeMutablePointer<CChar>, capacity: Int) -> Int {
        if cancelled.isCancelled { return Int(CURL_READFUNC_ABORT) }
        let wanted = Int(min(Int64(capacity), uploadRemaining))
        guard wanted > 0 else { return 0 }
        var chunk: Data
        if let data = uploadData {
            let start = data.count - Int(uploadRemaining)
            chunk = data.subdata(in: start..<start + wanted)
        } else if let file = uploadHandle {
            do { chunk = try file.read(upToCount: wanted) ?? Data() } catch {
                failure = error
                return Int(CURL_READFUNC_ABORT)
            }
        } else {
            return 0
        }
        chunk.withUnsafeBytes { raw in
            raw.copyBytes(to: UnsafeMutableRawBufferPointer(start: buffer, count: chunk.count))
        }
        uploadRemaining -= Int64(chunk.count)
        uploadedTotal += Int64(chunk.count)
        onUpload?(uploadedTotal)
        return chunk.count
    }
}

extension Duration {
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
