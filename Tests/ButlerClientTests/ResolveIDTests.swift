import ButlerClient
import ButlerModel
import ButlerTestSupport
import Foundation
import Testing

/// Record ids as people type them: a unique prefix stands for the id (issue 13, "a butler's morning").
@Suite("Client store: id prefixes")
struct ResolveIDTests {
    let zone = try! Zone("east-3")

    @Test("a unique prefix resolves, an exact id always does, an ambiguous prefix is refused with its candidates, an unknown one is unknown-record", arguments: StoreKind.allCases)
    func resolve(_ kind: StoreKind) throws {
        let dir = Scratch("resolve-id")
        let store = try makeStore(kind, in: dir.url)
        let a = try store.createForm(template: "building-patrol", zone: zone, place: "1号楼")
        let b = try store.createForm(template: "building-patrol", zone: zone, place: "2号楼")
        let order = try store.createWorkOrder(zone: zone, place: "5号楼 301", category: .general, description: nil)
        let short = try store.shortIDs(of: .inspectionForm, .workOrder)

        #expect(try store.resolveID(a.rawValue, type: .inspectionForm) == a)
        #expect(try store.resolveID(try #require(short[a]), type: .inspectionForm) == a)
        #expect(try store.resolveID(try #require(short[b]), type: .inspectionForm) == b)
        #expect(try store.resolveID("wo-", type: .workOrder) == order, "the only work order: any prefix of it")
        #expect(short[order]?.count == "wo-".count + 8)

        let ambiguous = #expect(throws: ClientError.self) { try store.resolveID("form-", type: .inspectionForm) }
        #expect(ambiguous?.code == .invalidArgument)
        #expect(ambiguous?.message.contains(a.rawValue) == true && ambiguous?.message.contains(b.rawValue) == true, "lists the candidates")
        for (text, type) in [("form-zzz", RecordType.inspectionForm), (short[a]!, .workOrder), ("wo-", .complaint)] {
            let unknown = #expect(throws: ClientError.self) { try store.resolveID(text, type: type) }
            #expect(unknown?.code == .unknownRecord, "\(text) as \(type)")
        }
        let malformed = #expect(throws: ClientError.self) { try store.resolveID("form 1", type: .inspectionForm) }
        #expect(malformed?.code == .invalidValue)
    }
}
