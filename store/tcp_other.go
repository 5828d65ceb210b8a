//go:build !linux

package store

import (
	"syscall"
	"time"
)

// tcpUserTimeout is Linux-only; elsewhere the socket deadlines of deadlineConn bound reads.
func tcpUserTimeout(time.Duration) func(network, address string, c syscall.RawConn) error {
	return nil
}
