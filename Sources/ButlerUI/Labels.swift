import ButlerClient
import ButlerModel
import Foundation

/// The page's Chinese words for the model's values, and how times and sizes read.
enum Labels {
    static let agendaKind: [String: String] = [
        "callback": "回访", "repair-start": "维修待开工", "complaint-fix": "投诉处理", "complaint-callback": "投诉回访",
        "complaint-escalated": "升级投诉", "notice": "整改通知", "draft": "草稿",
    ]
    static let channel: [String: String] = ["phone": "电话", "visit": "上门", "sms": "短信", "email": "邮件"]
    static let outcome: [String: String] = [
        "pending": "待回访", "satisfied": "满意", "unsatisfied": "不满意", "unreachable": "多次未联系上", "closed-unreachable": "已关闭（联系不上）",
    ]

    static func state(_ state: FormState) -> String {
        switch state {
        case .draft: "草稿"
        case .submitted: "已提交"
        case .reviewed: "已审核"
        case .closed: "已关闭"
        }
    }

    /// `2026-11-24 09:30`: an instant in the estate's local time, as `butler` shows it.
    static func localTime(_ date: Date, _ calendar: EstateCalendar) -> String {
        let shifted = Timestamp.format(date.addingTimeInterval(TimeInterval(calendar.utcOffsetSeconds)))
        return "\(shifted.prefix(10)) \(shifted.dropFirst(11).prefix(5))"
    }

    static func bytes(_ count: Int64) -> String {
        count < 1024 ? "\(count) B" : count < 1 << 20 ? "\(count / 1024) KB" : String(format: "%.1f MB", Double(count) / Double(1 << 20))
    }

    static func progress(_ state: SyncRunner.State) -> String {
        guard state.running else { return "" }
        switch state.phase {
        case nil: return "连接服务器…"
        case .push: return "上传修改 \(state.records) 条"
        case .upload: return "上传照片 \(bytes(state.bytes))" + (state.totalBytes.map { " / \(bytes($0))" } ?? "")
        case .pull: return "下载更新 \(state.records) 条"
        case .download: return "下载照片 \(bytes(state.bytes))"
        }
    }

    /// What the last sync came to, and whether that is good news.
    static func outcome(of state: SyncRunner.State) -> (String, Bool) {
        if let failure = state.failure {
            switch failure.code {
            case .unreachable, .timeout:
                return ("无法连接服务器（离线）。所有修改都已保存在本机，进入信号覆盖区后再点“立即同步”。（\(failure.message)）", false)
            case .editsHeld:
                return ("部分修改暂缓，下次同步会自动重试：\(failure.message)", false)
            case .editsRefused:
                return ("有修改被服务器拒绝，见下方列表：\(failure.message)", false)
            default:
                return ("同步未完成：\(failure.code)：\(failure.message)", false)
            }
        }
        let report = state.report ?? SyncReport()
        return ("同步完成：上传 \(report.pushed) 条修改、\(report.photosUploaded) 张照片，下载 \(report.pulled) 条更新、\(report.photosDownloaded) 张照片。", true)
    }
}
