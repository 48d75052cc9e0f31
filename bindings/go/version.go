package weft

import "example.invalid/weft/internal/cweft"

// The version of weft.h this package was generated from.
const (
	VersionMajor = cweft.WEFT_VERSION_MAJOR
	VersionMinor = cweft.WEFT_VERSION_MINOR
	VersionPatch = cweft.WEFT_VERSION_PATCH
	// HeaderVersion is (VersionMajor << 16) | (VersionMinor << 8) | VersionPatch,
	// in the form Version returns.
	HeaderVersion = VersionMajor<<16 | VersionMinor<<8 | VersionPatch
)

// Version returns the version of the libweft the program runs with, as
// (major << 16) | (minor << 8) | patch. Its major equals VersionMajor
// whenever the dynamic linker accepted the library. Any goroutine.
func Version() int { return cweft.Weft_version() }

// VersionString returns the running libweft's version as "MAJOR.MINOR.PATCH".
// Any goroutine.
func VersionString() string { return cweft.Weft_version_string() }
