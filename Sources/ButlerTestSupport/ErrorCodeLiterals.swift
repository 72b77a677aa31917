import ButlerModel

// Tests spell codes as they travel on the wire ("foreign-dot"), which pins the catalogue's
// strings. Production code cannot: it names ``ErrorCode``'s static members, so a typo does not compile.
extension ErrorCode: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self.init(value) }
}
