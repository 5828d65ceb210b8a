package main

import (
	"os"
	"runtime/debug"
)

// The server's garbage collector settings, unless the operator sets GOGC or GOMEMLIMIT.
// A SCIM request allocates tens of kilobytes over a live heap of a few megabytes, so with
// Go's default (GOGC=100) the collector ran every couple of hundred lookups and took a
// tenth of the server's CPU. A larger GOGC collects a quarter as often; the soft memory
// limit makes it collect sooner whenever the heap nears it, so that peaks (pages of large
// users, a burst of creates) stay within the memory the README promises: the live heap of
// a sync is about 12 MB, and with SQLite's caches beside the Go heap a 10,000-user SQLite
// sync peaked at 150 MB with 64 MiB and the former 32 MB SQLite cache, 102 MB with 64 MiB
// and the 8 MB cache, 95 MB with 56 MiB and 87 MB with 48 MiB, which cost SAML sign-ins,
// the largest allocators, up to a tenth more CPU in collections.
const (
	serverGCPercent   = 400
	serverMemoryLimit = 56 << 20
)

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serverGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(serverMemoryLimit)
	}
}
