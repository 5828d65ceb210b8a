package main

import (
	"context"
	"fmt"
	"io"
	"os"
)

var getenv = os.Getenv

// runSAML measures SSO logins per second; it needs the SSO door's test IdP (not wired yet).
func runSAML(ctx context.Context, args []string, out io.Writer) error {
	return fmt.Errorf("saml mode is not available in this build")
}
