import ButlerClient
import Foundation

// The sync daemon lands with the field-tools issue; until then this executable says so plainly.
let message = "butler-syncd: not-implemented: the sync daemon is not part of this build yet\n"
FileHandle.standardError.write(Data(message.utf8))
exit(69)  // EX_UNAVAILABLE
