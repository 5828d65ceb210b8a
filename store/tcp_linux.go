package store

import (
	"syscall"
	"time"
)

// tcpUserTimeoutOpt is TCP_USER_TIMEOUT of linux/tcp.h (the syscall package lacks it).
const tcpUserTimeoutOpt = 18

// tcpUserTimeout sets TCP_USER_TIMEOUT: data the peer has not acknowledged within d fails
// the connection (a host that vanished), where keep-alives alone would wait minutes.
func tcpUserTimeout(d time.Duration) func(network, address string, c syscall.RawConn) error {
	if d <= 0 {
		return nil
	}
	return func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpUserTimeoutOpt, int(d.Milliseconds()))
		})
		if err != nil {
			return err
		}
		return serr
	}
}
