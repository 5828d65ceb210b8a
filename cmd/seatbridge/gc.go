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
// a sync is about 12 MB, so 48 MiB leaves the collector room while the process, with
// SQLite's caches beside the Go heap, stays under 100 MB (64 MiB gave 150 MB with the
// former 32 MB SQLite cache, 102 MB with the 8 MB one; 48 MiB gives 87 MB).
const (
	serverGCPercent   = 400
	serverMemoryLimit = 48 << 20
)

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serverGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(serverMemoryLimit)
	}
}
