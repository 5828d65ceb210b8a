package httpx

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAccessLog serves one request through a mux behind AccessLog: one line with the
// request ID, method, path without its query, the mux's route, status, bytes and the
// tenant the door set; the Observe hook sees the same record.
func TestAccessLog(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /t/{slug}/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		SetTenant(r.Context(), "tenant-1")
		w.WriteHeader(http.StatusTeapot)
		_, _ = w.Write([]byte("12345"))
	})
	var logs bytes.Buffer
	var seen *Access
	h := AccessLog(mux, AccessLogOptions{Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		Observe: func(_ *http.Request, a *Access) { seen = a }})
	req := httptest.NewRequest("GET", "/t/acme/things/42?token=s3cret", nil)
	req.Header.Set(RequestIDHeader, "rid-1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Header().Get(RequestIDHeader) != "rid-1" {
		t.Errorf("request id echoed: %q", rec.Header().Get(RequestIDHeader))
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("log lines: %q", lines)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"msg": "request", "request_id": "rid-1", "method": "GET", "path": "/t/acme/things/42",
		"route": "/t/{slug}/things/{id}", "status": float64(418), "bytes": float64(5), "tenant_id": "tenant-1"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (%s)", k, got[k], v, lines[0])
		}
	}
	if strings.Contains(lines[0], "s3cret") {
		t.Errorf("the query string was logged: %s", lines[0])
	}
	if seen == nil || seen.Status != 418 || seen.Tenant != "tenant-1" {
		t.Errorf("observed %+v", seen)
	}

	// A door with its own mux names its route; no tenant is logged when none is known.
	logs.Reset()
	h = AccessLog(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetRoute(r.Context(), "POST /inner/{id}")
	}), AccessLogOptions{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/inner/7", nil))
	if !strings.Contains(logs.String(), `"route":"/inner/{id}"`) || !strings.Contains(logs.String(), `"status":200`) ||
		strings.Contains(logs.String(), "tenant_id") {
		t.Errorf("door route: %s", logs.String())
	}
}
