/// The canonical encoding of a state written straight into bytes.
///
/// ``RecordState/canonicalJSON`` builds a ``JSONValue`` tree (a dictionary per object) and sorts
/// it; this writes the same bytes directly, sorting only the field paths, the dots of each
/// register and the replicas of the context. The conformance tests check that both agree on every
/// vector.
extension RecordState {
    /// Appends the canonical encoding of the state (the bytes of ``canonicalJSON``) to `out`.
    public func writeCanonical(into out: inout [UInt8]) {
        out.append(contentsOf: #"{"context":"#.utf8)
        context.writeCanonical(into: &out)
        out.append(contentsOf: #","fields":{"#.utf8)
        let paths = fields.keys.sorted { $0.rawValue.utf8.lexicographicallyPrecedes($1.rawValue.utf8) }
        for (n, path) in paths.enumerated() {
            if n > 0 { out.append(UInt8(ascii: ",")) }
            JSONValue.writeCanonicalString(path.rawValue, into: &out)
            out.append(contentsOf: #":["#.utf8)
            let register = fields[path]!
            if register.count == 1, let only = register.first {
                Self.writeEntry(only.value, dot: only.key, into: &out)
            } else {
                for (m, dot) in register.keys.sorted().enumerated() {
                    if m > 0 { out.append(UInt8(ascii: ",")) }
                    Self.writeEntry(register[dot]!, dot: dot, into: &out)
                }
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(contentsOf: #"},"id":"#.utf8)
        JSONValue.writeCanonicalString(id.rawValue, into: &out)
        out.append(contentsOf: #","type":"#.utf8)
        JSONValue.writeCanonicalString(type.rawValue, into: &out)
        out.append(contentsOf: #","zone":"#.utf8)
        JSONValue.writeCanonicalString(zone.rawValue, into: &out)
        out.append(UInt8(ascii: "}"))
    }

    /// Whether `bytes` are exactly this state's canonical encoding (what a server stores and
    /// serves): the check a device makes before it stores received bytes as they are.
    public func isCanonicalEncoding(_ bytes: ArraySlice<UInt8>) -> Bool {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        writeCanonical(into: &out)
        guard out.count == bytes.count else { return false }
        return out.withUnsafeBytes { x in bytes.withUnsafeBytes { y in x.elementsEqual(y) } }
    }

    /// `{"by":…,"dot":[…],"time":[…],"value":…}`: the members of ``entryJSON(_:dot:)`` in byte order.
    static func writeEntry(_ entry: FieldEntry, dot: Dot, into out: inout [UInt8]) {
        out.append(contentsOf: #"{"by":"#.utf8)
        JSONValue.writeCanonicalString(entry.author, into: &out)
        out.append(contentsOf: #","dot":["#.utf8)
        JSONValue.writeCanonicalString(dot.replica.rawValue, into: &out)
        out.append(UInt8(ascii: ","))
        JSONValue.writeCanonicalInteger(Int64(dot.counter), into: &out)
        out.append(contentsOf: #"],"time":["#.utf8)
        JSONValue.writeCanonicalInteger(entry.time.millis, into: &out)
        out.append(UInt8(ascii: ","))
        JSONValue.writeCanonicalInteger(Int64(entry.time.logical), into: &out)
        out.append(contentsOf: #"],"value":"#.utf8)
        entry.value.writeCanonical(into: &out)
        out.append(UInt8(ascii: "}"))
    }
}

extension CausalContext {
    /// Appends the canonical encoding of ``jsonValue`` to `out`: `cloud` before `vv`, each left
    /// out when empty, replicas in byte order, cloud counters ascending.
    public func writeCanonical(into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        if !cloud.isEmpty {
            out.append(contentsOf: #""cloud":{"#.utf8)
            var byReplica: [ReplicaID: [UInt64]] = [:]
            for dot in cloud { byReplica[dot.replica, default: []].append(dot.counter) }
            let replicas = byReplica.keys.sorted { $0.rawValue.utf8.lexicographicallyPrecedes($1.rawValue.utf8) }
            for (n, replica) in replicas.enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.writeCanonicalString(replica.rawValue, into: &out)
                out.append(contentsOf: #":["#.utf8)
                for (m, counter) in byReplica[replica]!.sorted().enumerated() {
                    if m > 0 { out.append(UInt8(ascii: ",")) }
                    JSONValue.writeCanonicalInteger(Int64(counter), into: &out)
                }
                out.append(UInt8(ascii: "]"))
            }
            out.append(UInt8(ascii: "}"))
            if !vector.isEmpty { out.append(UInt8(ascii: ",")) }
        }
        if !vector.isEmpty {
            out.append(contentsOf: #""vv":{"#.utf8)
            let counters = vector.counters
            if counters.count == 1, let only = counters.first {
                JSONValue.writeCanonicalString(only.key.rawValue, into: &out)
                out.append(UInt8(ascii: ":"))
                JSONValue.writeCanonicalInteger(Int64(only.value), into: &out)
            } else {
                let replicas = counters.keys.sorted { $0.rawValue.utf8.lexicographicallyPrecedes($1.rawValue.utf8) }
                for (n, replica) in replicas.enumerated() {
                    if n > 0 { out.append(UInt8(ascii: ",")) }
                    JSONValue.writeCanonicalString(replica.rawValue, into: &out)
                    out.append(UInt8(ascii: ":"))
                    JSONValue.writeCanonicalInteger(Int64(counters[replica]!), into: &out)
                }
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "}"))
    }
}

extension JSONValue {
    /// Appends `value` in plain decimal, as `String(value)` spells it, without making a string.
    static func writeCanonicalInteger(_ value: Int64, into out: inout [UInt8]) {
        if value == .min {
            out.append(contentsOf: String(value).utf8)
            return
        }
        var magnitude = value < 0 ? UInt64(-value) : UInt64(value)
        if value < 0 { out.append(UInt8(ascii: "-")) }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var count = 0
            repeat {
                digits[count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            for i in stride(from: count - 1, through: 0, by: -1) { out.append(digits[i]) }
        }
    }
}
