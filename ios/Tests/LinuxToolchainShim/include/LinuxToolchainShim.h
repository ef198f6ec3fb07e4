// Nothing to import: the shim only defines a symbol the Linux toolchain lacks
// (see shim.c). This header exists because SwiftPM C targets expose an include dir.
#pragma once
