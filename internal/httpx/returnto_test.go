package httpx

import "testing"

func TestSafeReturnTo(t *testing.T) {
	long := "/" + string(make([]byte, 2048))
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"", "/home", true},
		{"/", "/", true},
		{"/admin/acme/users?q=a%20b#x", "/admin/acme/users?q=a%20b#x", true},
		{"/a/@evil.example", "/a/@evil.example", true}, // a path segment, not user info
		{"//evil.example", "", false},
		{"//evil.example/path", "", false},
		{"/\\evil.example", "", false},
		{"\\\\evil.example", "", false},
		{"\\/evil.example", "", false},
		{"/a\\b", "", false},
		{"https://evil.example", "", false},
		{"http:evil.example", "", false},
		{"HTTPS://evil.example", "", false},
		{"//user:pw@evil.example", "", false},
		{"https://user@evil.example", "", false},
		{"%2f%2fevil.example", "", false},
		{"/%2f%2fevil.example", "", false},
		{"/%2F%2Fevil.example", "", false},
		{"/%5cevil.example", "", false},
		{"/%5C%5Cevil.example", "", false},
		{"javascript:alert(1)", "", false},
		{"JavaScript:alert(1)", "", false},
		{"data:text/html,<script>", "", false},
		{"/x\r\nSet-Cookie: a=b", "", false},
		{"/x\nLocation: //evil", "", false},
		{"/\t/evil.example", "", false},
		{"/x\x00", "", false},
		{"/x\x7f", "", false},
		{"evil.example", "", false},
		{"./x", "", false},
		{" /x", "", false},
		{long, "", false},
	} {
		got, ok := SafeReturnTo(tc.in, "/home")
		if got != tc.want || ok != tc.ok {
			t.Errorf("SafeReturnTo(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
