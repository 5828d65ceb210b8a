package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
)

// SIGTERM with a request still in flight when the shutdown timeout expires: the server
// cuts it and exits 0 (a stop that was asked for is not a crash).
func TestShutdownTimeoutExitsZero(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "stop.db")
	if code, _, errOut := cli(t, db, "tenant", "create", "acme"); code != 0 {
		t.Fatal(errOut)
	}
	code, tok, errOut := cli(t, db, "token", "create", "--tenant", "acme", "--kind", "scim")
	if code != 0 {
		t.Fatal(errOut)
	}
	token := regexp.MustCompile(provisioning.TokenPrefix + `\S+`).FindString(tok)

	pr, pw := io.Pipe()
	env := &cliEnv{stdout: pw, stderr: io.Discard, getenv: func(k string) string {
		if k == "SEATBRIDGE_DB" {
			return db
		}
		return ""
	}}
	ctx, stop := context.WithCancel(context.Background()) // stands in for SIGTERM
	defer stop()
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--shutdown-timeout", "200ms", "--log-level", "error"}, env)
		pw.Close()
	}()
	addr := ""
	listening := regexp.MustCompile(`listening on http://(\S+)`)
	sc := bufio.NewScanner(pr)
	for addr == "" && sc.Scan() {
		if m := listening.FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatal("serve printed no address")
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()

	// A request whose body never ends keeps its handler busy.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "POST /scim/v2/acme/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+token+
		"\r\nContent-Type: application/scim+json\r\nContent-Length: 1000\r\n\r\n{\"userName\":")
	time.Sleep(200 * time.Millisecond)

	stop()
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("exit status %d after the shutdown timeout, want 0", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after the shutdown timeout")
	}
}

// /readyz fails while SQLite writes fail (here a full database: max_page_count), though
// reads still work, and recovers once a write commits again.
func TestReadinessFailsWhileSQLiteWritesFail(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "full.db")
	a, err := openApp(context.Background(), Config{DB: db, LogLevel: "error", LogFormat: "text"}, &cliEnv{stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.cfg.BaseURL = "http://example.test"
	h, err := routes(a)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	ready := func() int {
		resp, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := ready(); got != http.StatusOK {
		t.Fatalf("/readyz: %d", got)
	}
	ctx := context.Background()
	actor := provisioning.Actor{Kind: provisioning.ActorCLI}
	if _, err := a.eng.CreateTenant(ctx, actor, "acme", "Acme", 10); err != nil {
		t.Fatal(err)
	}
	// The write pool has one connection: cap its file at the pages it has.
	var pages int
	if err := a.db.SQL().QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := a.db.SQL().ExecContext(ctx, "PRAGMA max_page_count = "+strconv.Itoa(pages)); err != nil {
		t.Fatal(err)
	}
	var werr error
	for i := 0; i < 200 && werr == nil; i++ {
		_, werr = a.eng.CreateTenant(ctx, actor, "t"+strconv.Itoa(i)+strings.Repeat("x", 40), strings.Repeat("Big name ", 50), 10)
	}
	if werr == nil {
		t.Fatal("writes kept succeeding on a full database")
	}
	if got := ready(); got != http.StatusServiceUnavailable {
		t.Fatalf("/readyz while writes fail: %d", got)
	}
	if _, err := a.db.SQL().ExecContext(ctx, "PRAGMA max_page_count = 1000000"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.eng.CreateTenant(ctx, actor, "again", "Again", 10); err != nil {
		t.Fatal(err)
	}
	if got := ready(); got != http.StatusOK {
		t.Fatalf("/readyz after a write committed: %d", got)
	}
}
