package saml

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/seatbridge/seatbridge/sso/ssotest"
)

// realResponse is a signed response as the test IdP (and the load tool) sends it.
func realResponse(t testing.TB, tweak func(*ssotest.Assertion)) []byte {
	t.Helper()
	idp, err := ssotest.NewSAMLIdP("../../testdata/saml")
	if err != nil {
		t.Fatal(err)
	}
	a := ssotest.Assertion{ACS: "https://sb.test/sso/acme/saml/c1/acs", Audience: "https://sb.test/sso/acme/saml/c1/metadata",
		NameID: "ada@acme.com", Attributes: map[string][]string{"email": {"ada@acme.com"}, "firstName": {"Ada & <Co>"}}}
	if tweak != nil {
		tweak(&a)
	}
	s, err := idp.Response(a)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// checkAgrees fails when the scan answers alone and differs from the tree: where it does
// not give up, it must read exactly what the tree precheck reads, and the tree must parse.
func checkAgrees(t *testing.T, raw []byte) (scanned bool) {
	t.Helper()
	fast, ok := scanSimple(raw)
	if !ok {
		return false
	}
	slow, err := treeFacts(raw)
	if err != nil {
		t.Fatalf("scan read %+v, the tree refused: %v\n%s", fast, err, raw)
	}
	if fast != slow {
		t.Fatalf("scan read %+v, the tree %+v\n%s", fast, slow, raw)
	}
	return true
}

func TestScanAgreesWithTree(t *testing.T) {
	real := realResponse(t, nil)
	if !checkAgrees(t, real) {
		t.Fatalf("the scan gave up on a plain signed response:\n%s", real)
	}
	withIRT := realResponse(t, func(a *ssotest.Assertion) { a.InResponseTo = "id-123" })
	if !checkAgrees(t, withIRT) {
		t.Fatal("the scan gave up on a solicited response")
	}
	if f, _ := scanSimple(withIRT); f.inResponseTo != "id-123" || f.assertions != 1 || f.rootLocal != "Response" || f.rootNS != nsProtocol {
		t.Fatalf("facts of a solicited response: %+v", f)
	}
	r := string(real)
	root := r[:strings.Index(r, ">")+1]
	after := r[len(root):]
	assertion := r[strings.Index(r, "<saml:Assertion") : strings.Index(r, "</saml:Assertion>")+len("</saml:Assertion>")]
	cases := map[string]struct {
		doc string
		// scans says the scan must answer alone (true) or give up (false).
		scans bool
	}{
		"declaration":          {`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + r, true},
		"two assertions":       {root + assertion + after, true},
		"wrapped assertion":    {root + "<samlp:Extensions>" + assertion + "</samlp:Extensions>" + after, true},
		"no assertion":         {strings.Replace(r, assertion, "", 1), true},
		"doctype":              {`<!DOCTYPE Response>` + r, false},
		"doctype after decl":   {`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "y">]>` + r, false},
		"comment":              {strings.Replace(r, assertion, "<!--"+assertion+"-->", 1), false},
		"cdata":                {strings.Replace(r, assertion, "<![CDATA["+assertion+"]]>", 1), false},
		"pi":                   {strings.Replace(r, assertion, "<?pi x?>"+assertion, 1), false},
		"prefixed irt":         {strings.Replace(r, "<samlp:Response ", `<samlp:Response x:InResponseTo="a" xmlns:x="urn:x" `, 1), false},
		"entity in irt":        {strings.Replace(r, "<samlp:Response ", `<samlp:Response InResponseTo="&#97;" `, 1), false},
		"entity in xmlns":      {strings.Replace(r, `xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"`, `xmlns:saml="urn:oasis:names:tc:SAML:2.0:&#97;ssertion"`, 1), false},
		"redeclared prefix":    {strings.Replace(r, "<saml:Assertion ", `<saml:Assertion xmlns:saml="urn:other" `, 1), false},
		"undeclared prefix":    {strings.Replace(strings.Replace(r, "<saml:Issuer", "<q:Issuer", 1), "</saml:Issuer>", "</q:Issuer>", 1), false},
		"two colons":           {strings.Replace(r, "<saml:Assertion ", "<saml:x:Assertion ", 1), false},
		"mismatched tags":      {strings.Replace(r, "</saml:Assertion>", "</saml:Assertio>", 1), false},
		"second root":          {r + "<samlp:Response/>", false},
		"text after root":      {r + "x", false},
		"duplicate attribute":  {strings.Replace(r, "<samlp:Response ", `<samlp:Response Version="2.0" `, 1), false},
		"gt in attribute":      {strings.Replace(r, "<samlp:Response ", `<samlp:Response Consent="a>b/c" `, 1), true},
		"default namespace":    {`<Response xmlns="` + nsProtocol + `" IssueInstant="2024-01-01T00:00:00Z"><Assertion xmlns="` + nsAssertion + `"/></Response>`, true},
		"unbound root":         {`<Response IssueInstant="2024-01-01T00:00:00Z"><a:Assertion xmlns:a="` + nsAssertion + `"/></Response>`, true},
		"foreign assertion":    {strings.Replace(r, "</samlp:Response>", `<x:Assertion xmlns:x="urn:x"/></samlp:Response>`, 1), false},
		"non-ascii name":       {strings.Replace(r, "</samlp:Response>", `<é/></samlp:Response>`, 1), false},
		"unterminated":         {r[:len(r)-3], false},
		"single-quoted values": {`<p:Response xmlns:p='` + nsProtocol + `' IssueInstant='2024-01-01T00:00:00Z'><s:Assertion xmlns:s='` + nsAssertion + `' /></p:Response >`, true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := checkAgrees(t, []byte(c.doc)); got != c.scans {
				t.Fatalf("scan answered alone: %v, want %v", got, c.scans)
			}
		})
	}
	// Through precheck, the verdicts follow the facts whichever path read them.
	for name, c := range map[string]struct {
		doc, err string
	}{
		"two assertions":    {root + assertion + after, "holds 2 assertions"},
		"wrapped assertion": {root + "<samlp:Extensions>" + assertion + "</samlp:Extensions>" + after, "holds 2 assertions"},
		"doctype":           {`<!DOCTYPE Response>` + r, "DOCTYPE"},
		"not a response":    {strings.Replace(strings.Replace(r, "<samlp:Response ", "<samlp:Request ", 1), "</samlp:Response>", "</samlp:Request>", 1), "not a samlp:Response"},
		"long irt":          {strings.Replace(r, "<samlp:Response ", `<samlp:Response InResponseTo="`+strings.Repeat("x", 257)+`" `, 1), "too long"},
	} {
		if _, _, err := precheck([]byte(c.doc)); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: %v, want %q", name, err, c.err)
		}
	}
	if issued, irt, err := precheck(withIRT); err != nil || irt != "id-123" || issued.IsZero() {
		t.Fatalf("precheck of a good response: %v %q %v", issued, irt, err)
	}
}

// The scan never answers differently from the tree, whatever the bytes.
func FuzzScanAgreesWithTree(f *testing.F) {
	f.Add(realResponse(f, nil))
	f.Add(realResponse(f, func(a *ssotest.Assertion) { a.InResponseTo = "id-1" }))
	f.Add([]byte(`<p:Response xmlns:p='` + nsProtocol + `' IssueInstant='2024-01-01T00:00:00Z'><s:Assertion xmlns:s='` + nsAssertion + `' /></p:Response >`))
	f.Fuzz(func(t *testing.T, raw []byte) { checkAgrees(t, raw) })
}

// An element with more attributes than the scan checks for duplicates goes to the tree.
func TestScanAttributeCap(t *testing.T) {
	var b strings.Builder
	b.WriteString(`<p:Response xmlns:p="` + nsProtocol + `" IssueInstant="2024-01-01T00:00:00Z"`)
	for i := range maxScanAttrs {
		fmt.Fprintf(&b, ` a%d="x"`, i)
	}
	b.WriteString(`><s:Assertion xmlns:s="` + nsAssertion + `"/></p:Response>`)
	if checkAgrees(t, []byte(b.String())) {
		t.Fatal("the scan answered alone for an element with too many attributes")
	}
}
