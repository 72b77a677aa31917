import ButlerModel

/// Whether a sync left anything behind, and what a tool should say about it: the policy
/// ``SyncEngine/completion()`` computes for `butler sync` and `butler-syncd` alike.
///
/// In order of precedence:
/// 1. edits refused for good → ``ClientError/Code/editsRefused``: a person must look at them
///    (`butler refused list`); retrying changes nothing;
/// 2. edits held for a reason that can clear → ``ClientError/Code/editsHeld`` (transient): they
///    go again on the next sync, once the cause is gone;
/// 3. edits or photo bytes still waiting (made while the sync ran, or a push cut short) →
///    ``ClientError/Code/unreachable`` (transient);
/// 4. otherwise the device is in sync.
public struct SyncCompletion: Hashable, Sendable {
    /// Edits not yet accepted, held ones included.
    public let pendingEdits: Int
    /// Pending edits the server held back (``RefusedEdit/transientCodes``).
    public let heldEdits: Int
    /// Edits the server refused for good.
    public let refusedEdits: Int
    public let pendingPhotoBytes: Int64
    /// The distinct codes of the held edits, sorted.
    public let heldCodes: [ErrorCode]

    public init(pendingEdits: Int, heldEdits: Int, refusedEdits: Int, pendingPhotoBytes: Int64, heldCodes: [ErrorCode]) {
        self.pendingEdits = pendingEdits
        self.heldEdits = heldEdits
        self.refusedEdits = refusedEdits
        self.pendingPhotoBytes = pendingPhotoBytes
        self.heldCodes = heldCodes
    }

    /// Everything on the device is on the server.
    public var isComplete: Bool { pendingEdits == 0 && refusedEdits == 0 && pendingPhotoBytes == 0 }

    /// `nil` when complete; otherwise the error to report (see the type's discussion for which).
    public var error: ClientError? {
        if refusedEdits > 0 {
            return ClientError(
                .editsRefused, "the server refused \(refusedEdits) edit(s); see `butler refused list` and tell your supervisor")
        }
        if heldEdits > 0 {
            let reasons = heldCodes.map { code in Self.advice[code].map { "\(code): \($0)" } ?? code.rawValue }.joined(separator: "; ")
            return ClientError(.editsHeld, "the server held back \(heldEdits) edit(s) (\(reasons)); they are sent again on the next sync")
        }
        if pendingEdits > 0 || pendingPhotoBytes > 0 {
            return ClientError(.unreachable, "\(pendingEdits) edit(s) and \(pendingPhotoBytes) photo byte(s) are still waiting")
        }
        return nil
    }

    /// What clears each transient refusal, in the butler's words.
    static let advice: [ErrorCode: String] = [
        .clockAhead: "this handheld's clock is more than 7 days fast; set it right",
        .zoneForbidden: "the zone is not assigned to this handheld yet; ask your supervisor",
        .storageFull: "the server's disk is full",
        .quotaExceeded: "this handheld's daily allowance is used up",
    ]
}
