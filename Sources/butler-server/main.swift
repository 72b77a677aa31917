import ButlerServer
import Foundation

// The sync server lands with the butler-server issue; until then this executable says so plainly
// instead of pretending to serve.
let message = "butler-server: not-implemented: the sync server is not part of this build yet\n"
FileHandle.standardError.write(Data(message.utf8))
exit(69)  // EX_UNAVAILABLE
