package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/internal/secretbox"
	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/sso"
	"github.com/seatbridge/seatbridge/sso/provider"
	ssaml "github.com/seatbridge/seatbridge/sso/saml"
	"github.com/seatbridge/seatbridge/store/storetest"
)

const loadTestdata = "../../testdata/saml"

// samlServer is Seatbridge's SSO door on a fresh SQLite database, with a tenant, a JIT SAML
// connection trusting the load tool's default IdP and a registered client.
type samlServer struct {
	url, connection, clientID, secret string
}

func startSAMLServer(t *testing.T) *samlServer {
	t.Helper()
	ctx := context.Background()
	db := storetest.OpenSQLite(t)
	log := slog.New(slog.DiscardHandler)
	eng := provisioning.NewEngine(db, log)
	box, err := secretbox.New(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	base, _ := url.Parse("http://" + srv.Listener.Addr().String())
	svc, err := sso.New(eng, db, box, log, sso.Config{BaseURL: base, CookieKey: box.Derive("sso-cookie")})
	if err != nil {
		t.Fatal(err)
	}
	svc.Register(provisioning.ConnSAML, ssaml.New(svc.Box, time.Minute))
	mux := http.NewServeMux()
	svc.Mount(mux)
	provider.New(svc).Mount(mux)
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)

	actor := provisioning.Actor{Kind: provisioning.ActorCLI, ID: "test"}
	tn, err := eng.CreateTenant(ctx, actor, "loadtest", "Load test", 1000)
	if err != nil {
		t.Fatal(err)
	}
	// The IdP metadata --setup writes.
	meta := filepath.Join(t.TempDir(), "idp.xml")
	var out bytes.Buffer
	if err := runSAML(ctx, []string{"--setup", "print", "--metadata-out", meta, "--idp-key", loadTestdata + "/idp.key",
		"--idp-cert", loadTestdata + "/idp.crt"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tenant create loadtest", "connection create --tenant loadtest --type saml", "client create"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("--setup print lacks %q:\n%s", want, out.String())
		}
	}
	md, err := os.ReadFile(meta)
	if err != nil {
		t.Fatal(err)
	}
	c := &provisioning.Connection{Name: "seatbridge-load", Mode: provisioning.ModeJIT, Domains: []string{"load.example.test"},
		Mapping: provisioning.Mapping{Seat: true}, SAML: &provisioning.SAMLSettings{AllowIdPInitiated: true}}
	c.ID = eng.NewID()
	if err := ssaml.Prepare(box, c, md, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.CreateConnection(ctx, actor, tn.ID, c); err != nil {
		t.Fatal(err)
	}
	client, secret, err := provider.CreateClient(ctx, db, "load", []string{"http://localhost/seatbridge-load/callback"}, nil, false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &samlServer{url: base.String(), connection: c.ID, clientID: client.ID, secret: secret}
}

type loadReport struct {
	Meta    map[string]any `json:"meta"`
	Results []Result       `json:"results"`
}

func runSAMLMode(t *testing.T, args ...string) loadReport {
	t.Helper()
	path := filepath.Join(t.TempDir(), "out.json")
	var out bytes.Buffer
	if err := runSAML(context.Background(), append(args, "--json", path), &out); err != nil {
		t.Fatalf("saml mode: %v\n%s", err, out.String())
	}
	t.Logf("\n%s", out.String())
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep loadReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 4 {
		t.Fatalf("want 4 phases, got %+v", rep.Results)
	}
	return rep
}

func TestSAMLMode(t *testing.T) {
	s := startSAMLServer(t)
	common := []string{"--url", s.url, "--tenant", "loadtest", "--idp-key", loadTestdata + "/idp.key", "--idp-cert", loadTestdata + "/idp.crt",
		"--client-id", s.clientID, "--users", "10", "--concurrency", "4", "--duration", "1s"}

	t.Run("sp flow with code exchange", func(t *testing.T) {
		// Bounded by count, not by a one-second window that a loaded machine may fill with one login.
		rep := runSAMLMode(t, append(common, "--exchange", "--client-secret", s.secret, "--max-logins", "8", "--duration", "1m")...)
		first, steady := rep.Results[0], rep.Results[2]
		if first.Units != 10 || first.Errors != 0 {
			t.Fatalf("first logins: %+v", first)
		}
		if steady.Units != 8 || steady.Errors != 0 || steady.P50ms <= 0 || rep.Results[3].Requests < steady.Requests {
			t.Fatalf("timed logins: %+v / ACS %+v", steady, rep.Results[3])
		}
	})
	t.Run("idp flow", func(t *testing.T) {
		rep := runSAMLMode(t, append(common, "--flow", "idp", "--connection", s.connection, "--max-logins", "20", "--duration", "1m")...)
		if steady := rep.Results[2]; steady.Units != 20 || steady.Errors != 0 {
			t.Fatalf("timed logins: %+v", steady)
		}
	})
	t.Run("untrusted IdP key is refused", func(t *testing.T) {
		args := append([]string{}, common...)
		args[5], args[7] = loadTestdata+"/rogue.key", loadTestdata+"/rogue.crt"
		rep := runSAMLMode(t, append(args, "--max-logins", "5", "--duration", "1m")...)
		if r := rep.Results[2]; r.Units != 0 || r.Errors != 5 {
			t.Fatalf("rogue logins: %+v", r)
		}
		refused, _ := rep.Meta["refused"].(map[string]any)
		if n, _ := refused["POST /sso/loadtest/saml/…/acs: no reason given"].(float64); n != 5 {
			t.Fatalf("refusals %v", rep.Meta["refused"])
		}
	})
}

func TestSAMLModeFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--flow", "browser"},
		{"--url", "ftp://x"},
		{"--client-id", "x", "--flow", "idp"},
		{"--setup", "maybe"},
		{"--idp-key", loadTestdata + "/idp.key", "--idp-cert", loadTestdata + "/rogue.crt"},
	} {
		keys := []string{"--idp-key", loadTestdata + "/idp.key", "--idp-cert", loadTestdata + "/idp.crt"}
		if err := runSAML(context.Background(), append(keys, args...), io.Discard); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}

// TestRunSetupReusesTenant drives runSetup with a stand-in seatbridge CLI (a shell script
// that records its calls): a tenant the JSON list names is reused, not created again, and
// one it lacks is created. Nothing is decided by the text of an error.
func TestRunSetupReusesTenant(t *testing.T) {
	for _, tc := range []struct {
		name, tenants string
		wantCreate    bool
	}{
		{"exists", `[{"slug":"other"},{"slug":"load"}]`, false},
		{"new", `[{"slug":"other"}]`, true},
		{"none", `[]`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			calls := filepath.Join(dir, "calls")
			script := filepath.Join(dir, "seatbridge.sh")
			body := `echo "$1 $2" >> ` + calls + `
case "$1 $2" in
"tenant list") echo '` + tc.tenants + `' ;;
"tenant create") echo created ;;
"connection create") echo '{"id":"conn-1"}' ;;
"client create") echo '{"clientId":"client-1","clientSecret":"s3cret"}' ;;
*) echo "unexpected $*" >&2; exit 1 ;;
esac
`
			if err := os.WriteFile(script, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			list, cmds := setupCommands("load", "load.example", "/tmp/md.xml", "http://127.0.0.1:1", "http://127.0.0.1:2/cb", "", 10)
			var out bytes.Buffer
			conn, client, err := runSetup(context.Background(), "sh "+script, "load", list, cmds, &out)
			if err != nil {
				t.Fatal(err)
			}
			if conn != "conn-1" || client.ID != "client-1" || client.Secret != "s3cret" {
				t.Errorf("runSetup = %q, %+v", conn, client)
			}
			got, err := os.ReadFile(calls)
			if err != nil {
				t.Fatal(err)
			}
			if created := strings.Contains(string(got), "tenant create"); created != tc.wantCreate {
				t.Errorf("tenant create called: %v, want %v (calls: %q)", created, tc.wantCreate, got)
			}
		})
	}
}
