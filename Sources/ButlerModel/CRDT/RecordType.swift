/// The kinds of record ButlerSync keeps; the raw value is the name on the wire.
public enum RecordType: String, CaseIterable, Hashable, Sendable {
    /// 巡查登记表: one patrol of one place, built from a template.
    case inspectionForm = "inspection-form"
    /// 拍照取证: a photo's metadata; the bytes are a blob addressed by SHA-256.
    case photo
    /// 派工单: a repair work order.
    case workOrder = "work-order"
    /// 投诉: a resident's complaint and its handling rounds.
    case complaint
    /// 回访记录: the callbacks to a resident after a repair or complaint.
    case callback
    /// 下雨天: a day it rained in a zone; leak callbacks wait for one.
    case rainDay = "rain-day"
    /// 客户档案: a household's profile and the visits to it (客户沟通记录).
    case resident
}
