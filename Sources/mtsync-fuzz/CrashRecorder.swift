#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Keeps the input being run where a signal handler can write it out: a trap in a parser (or a stack overflow)
/// ends the process, and without this the seeded loop would lose the input that caused it. The handler only
/// calls async-signal-safe functions on memory prepared beforehand, then hands the signal on to the handler that
/// was there before (the Swift runtime's backtracer) or to the default action.
enum CrashRecorder {
    nonisolated(unsafe) private static var path: UnsafeMutablePointer<CChar>?
    nonisolated(unsafe) private static var input: UnsafePointer<UInt8>?
    nonisolated(unsafe) private static var count = 0
    nonisolated(unsafe) private static var previous: UnsafeMutablePointer<sigaction>?
    private static let signals: [Int32] = [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGABRT, SIGFPE]

    static func install(writingTo file: String) {
        path = strdup(file)
        let previous = UnsafeMutablePointer<sigaction>.allocate(capacity: 64)
        previous.initialize(repeating: sigaction(), count: 64)
        self.previous = previous
        // A stack of its own, so that the handler runs even when the crash is a stack overflow.
        var stack = stack_t()
        stack.ss_sp = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 16)
        stack.ss_size = 1 << 16
        sigaltstack(&stack, nil)
        for signal in signals {
            var action = sigaction()
            #if canImport(Glibc)
            action.__sigaction_handler.sa_handler = { signal in CrashRecorder.handle(signal) }
            #else
            action.__sigaction_u.__sa_handler = { signal in CrashRecorder.handle(signal) }
            #endif
            action.sa_flags = Int32(SA_ONSTACK)
            sigemptyset(&action.sa_mask)
            sigaction(signal, &action, previous + Int(signal))
        }
    }

    /// The input about to run; it must stay valid until the next call.
    static func willRun(_ buffer: UnsafeBufferPointer<UInt8>) {
        input = buffer.baseAddress
        count = buffer.count
    }

    private static func handle(_ signal: Int32) {
        if let path {
            let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            if descriptor >= 0 {
                if let input { _ = write(descriptor, input, count) }
                close(descriptor)
            }
            let note: StaticString = "\nmtsync-fuzz: the parser crashed; the input is in "
            _ = write(2, note.utf8Start, note.utf8CodeUnitCount)
            _ = write(2, path, strlen(path))
            _ = write(2, "\n", 1)
        }
        if let previous { sigaction(signal, previous + Int(signal), nil) }
        raise(signal)
    }
}
