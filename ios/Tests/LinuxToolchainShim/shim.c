// Linux test-only workaround for a toolchain packaging bug, linked into the test
// executable only (see Package.swift): Debian trixie's swiftlang 6.0.3 ships
// libswiftObservation.so with an undefined reference to
// `swift::threading::fatal(const char *, ...)`, which upstream toolchains link
// statically into the runtime and this package does not export. Without a
// definition, anything using Observation (`@Observable`) fails to link on Linux.
// The definition does what upstream's does: print the message and abort.
#if defined(__linux__)
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "LinuxToolchainShim.h"

void chatsync_swift_threading_fatal(const char *format, ...)
    __asm__("_ZN5swift9threading5fatalEPKcz");

void chatsync_swift_threading_fatal(const char *format, ...) {
    va_list args;
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    abort();
}
#endif
