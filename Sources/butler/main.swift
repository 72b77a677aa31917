import ButlerModel
import Foundation

// The handheld agent grows its commands with the field-tools issue; today it runs the model's demo.
let arguments = CommandLine.arguments.dropFirst()
switch arguments.first {
case nil, "demo":
    do {
        try MergeDemo.run()
    } catch {
        FileHandle.standardError.write(Data("butler: \(error)\n".utf8))
        exit(1)
    }
default:
    FileHandle.standardError.write(Data("butler: not-implemented: only `butler demo` is part of this build yet\n".utf8))
    exit(64)
}
