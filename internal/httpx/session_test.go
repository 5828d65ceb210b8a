package httpx

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A cookie SetSession writes reads back with ReadSession; anything else reads as none.
func TestSessionCookie(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	for _, secure := range []bool{false, true} {
		rec := httptest.NewRecorder()
		SetSession(rec, "sid", "s3cret", exp, secure)
		cs := rec.Result().Cookies()
		if len(cs) != 1 || cs[0].Name != SessionCookie || !cs[0].HttpOnly || cs[0].Secure != secure ||
			cs[0].SameSite != http.SameSiteLaxMode || cs[0].Path != "/" || cs[0].Expires.Unix() != exp.Unix() {
			t.Fatalf("secure=%v: cookie %+v", secure, cs)
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.AddCookie(cs[0])
		if id, secret, ok := ReadSession(req); !ok || id != "sid" || secret != "s3cret" {
			t.Fatalf("read back %q %q %v", id, secret, ok)
		}
		rec = httptest.NewRecorder()
		ClearSession(rec, secure)
		if cs := rec.Result().Cookies(); len(cs) != 1 || cs[0].Name != SessionCookie || cs[0].MaxAge >= 0 || cs[0].Secure != secure {
			t.Fatalf("clear: %+v", cs)
		}
	}
	for _, v := range []string{"", "nodot", ".secret", "id.", strings.Repeat("a", 300) + "." + strings.Repeat("b", 300)} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: v})
		if _, _, ok := ReadSession(req); ok {
			t.Errorf("ReadSession accepted %q", v)
		}
	}
	if _, _, ok := ReadSession(httptest.NewRequest(http.MethodGet, "/", nil)); ok {
		t.Error("ReadSession without a cookie")
	}
}
