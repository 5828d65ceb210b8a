package saml

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// The precheck's fast path. Building a tree of the whole response only to count its
// assertions and read two attributes of its root cost 3–5 % of a login's CPU, and
// crewjam/saml parses the response again (twice) anyway. scanSimple reads the same facts
// in one pass over the bytes, but only for documents of the plain shape every IdP sends:
// an optional XML declaration, then elements, attributes and text. Anything else — a
// comment, CDATA section, processing instruction or any <! markup (so any DOCTYPE), an
// entity reference in a namespace declaration or in a root attribute the precheck reads,
// a prefix it cannot resolve, an element name with several colons, a duplicate attribute,
// mismatched tags, content after the root — makes it give up (ok false), and the tree
// precheck decides as before. So it never accepts what the tree precheck refuses: it
// only answers alone where the two provably read the document the same way
// (TestScanAgreesWithTree, FuzzScanAgreesWithTree).

const (
	nsProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
)

// scanResult is what the precheck needs of a response.
type scanResult struct {
	rootLocal, rootNS string
	// assertions counts Assertion and EncryptedAssertion elements in the SAML assertion
	// namespace, anywhere in the document.
	assertions   int
	inResponseTo string
	issueInstant string
}

type scanBinding struct {
	prefix, uri string
}

// scanSimple scans raw; ok is false when raw is not of the plain shape (see above).
func scanSimple(raw []byte) (res scanResult, ok bool) {
	s := raw
	// An optional XML declaration, alone at the very start.
	if bytes.HasPrefix(s, []byte("<?xml")) {
		end := bytes.Index(s, []byte("?>"))
		if end < 0 || bytes.IndexByte(s[:end], '<') > 0 {
			return res, false
		}
		s = s[end+2:]
	}
	if bytes.Contains(s, []byte("<!")) || bytes.Contains(s, []byte("<?")) || !plainText(s) {
		return res, false
	}
	var (
		bindings []scanBinding // in scope, innermost last
		open     []string      // raw names of the open elements
		marks    []int         // len(bindings) when each open element started
		rootSeen bool
		attrs    []scanAttr
	)
	i := 0
	for {
		lt := bytes.IndexByte(s[i:], '<')
		if lt < 0 {
			// Only whitespace may follow the root; text before it is not XML either.
			if len(open) != 0 || !rootSeen || !isSpace(s[i:]) {
				return res, false
			}
			return res, true
		}
		if len(open) == 0 && !isSpace(s[i:i+lt]) {
			return res, false
		}
		i += lt + 1
		if i < len(s) && s[i] == '/' {
			// End tag: </name S? >
			i++
			name, n := scanName(s[i:])
			if n == 0 || len(open) == 0 || open[len(open)-1] != name {
				return res, false
			}
			i += n
			i = skipSpace(s, i)
			if i >= len(s) || s[i] != '>' {
				return res, false
			}
			i++
			open = open[:len(open)-1]
			bindings = bindings[:marks[len(marks)-1]]
			marks = marks[:len(marks)-1]
			continue
		}
		if len(open) == 0 && rootSeen {
			return res, false // a second root
		}
		name, n := scanName(s[i:])
		if n == 0 {
			return res, false
		}
		i += n
		var empty bool
		if attrs, i, empty, ok = scanAttrs(s, i, attrs[:0]); !ok {
			return res, false
		}
		mark := len(bindings)
		for _, a := range attrs {
			switch {
			case a.name == "xmlns":
				bindings = append(bindings, scanBinding{"", a.value})
			case len(a.name) > 6 && a.name[:6] == "xmlns:":
				bindings = append(bindings, scanBinding{a.name[6:], a.value})
			default:
				continue
			}
			if bytes.IndexByte([]byte(a.value), '&') >= 0 {
				return res, false
			}
		}
		prefix, local, hasPrefix := cutName(name)
		if local == "" || (hasPrefix && prefix == "") || bytes.IndexByte([]byte(local), ':') >= 0 {
			return res, false
		}
		uri, found := resolve(bindings, prefix)
		if !found && hasPrefix {
			return res, false
		}
		if local == "Assertion" || local == "EncryptedAssertion" {
			if uri != nsAssertion {
				return res, false // let the tree decide about look-alikes
			}
			res.assertions++
		}
		if !rootSeen {
			rootSeen = true
			res.rootLocal, res.rootNS = local, uri
			for _, a := range attrs {
				_, key, _ := cutName(a.name)
				if key != "InResponseTo" && key != "IssueInstant" {
					continue
				}
				if key != a.name {
					// The tree precheck reads an attribute by its local name whatever its
					// prefix: leave prefixed look-alikes to it.
					return res, false
				}
				if bytes.IndexByte([]byte(a.value), '&') >= 0 {
					return res, false
				}
				if a.name == "InResponseTo" {
					res.inResponseTo = a.value
				} else {
					res.issueInstant = a.value
				}
			}
		}
		if empty {
			bindings = bindings[:mark]
			continue
		}
		open = append(open, name)
		marks = append(marks, mark)
	}
}

type scanAttr struct{ name, value string }

const maxScanAttrs = 32

// scanAttrs reads the attributes of a start tag up to its > or />. Every attribute is
// name S? = S? "value" or 'value'; a value holding < or a duplicate name gives up.
func scanAttrs(s []byte, i int, attrs []scanAttr) ([]scanAttr, int, bool, bool) {
	for {
		j := skipSpace(s, i)
		if j >= len(s) {
			return attrs, j, false, false
		}
		switch s[j] {
		case '>':
			return attrs, j + 1, false, true
		case '/':
			if j+1 < len(s) && s[j+1] == '>' {
				return attrs, j + 2, true, true
			}
			return attrs, j, false, false
		}
		if j == i {
			return attrs, j, false, false // attributes are separated by white space
		}
		name, n := scanName(s[j:])
		if n == 0 {
			return attrs, j, false, false
		}
		j = skipSpace(s, j+n)
		if j >= len(s) || s[j] != '=' {
			return attrs, j, false, false
		}
		j = skipSpace(s, j+1)
		if j >= len(s) || (s[j] != '"' && s[j] != '\'') {
			return attrs, j, false, false
		}
		end := bytes.IndexByte(s[j+1:], s[j])
		if end < 0 {
			return attrs, j, false, false
		}
		value := s[j+1 : j+1+end]
		if bytes.IndexByte(value, '<') >= 0 {
			return attrs, j, false, false
		}
		// The duplicate check is quadratic: an element with more attributes than any
		// SAML element has is left to the tree.
		if len(attrs) == maxScanAttrs {
			return attrs, j, false, false
		}
		for _, a := range attrs {
			if a.name == name {
				return attrs, j, false, false
			}
		}
		attrs = append(attrs, scanAttr{name, string(value)})
		i = j + 1 + end + 1
	}
}

// scanName reads a name up to white space, =, / or >: an ASCII letter or _, then ASCII
// letters, digits and . - _, with at most one colon between two non-empty parts. Any other
// name (non-ASCII included) gives up (n 0).
func scanName(s []byte) (string, int) {
	n, colon := 0, -1
	for n < len(s) {
		c := s[n]
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '=' || c == '/' || c == '>' {
			break
		}
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
		switch {
		case letter:
		case c == ':' && colon < 0 && n > 0:
			colon = n
		case n > 0 && n != colon+1 && ('0' <= c && c <= '9' || c == '.' || c == '-'):
		default:
			return "", 0
		}
		n++
	}
	if colon == n-1 {
		return "", 0
	}
	return string(s[:n]), n
}

// plainText reports whether s holds only characters and references the tree parser
// accepts without question: valid UTF-8 without control characters other than tab, line
// feed and carriage return (nor U+FFFE, U+FFFF), and & only in &lt; &gt; &amp; &apos;
// &quot; or a character reference to such a character.
func plainText(s []byte) bool {
	if !utf8.Valid(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20 && c != '\t' && c != '\n' && c != '\r':
			return false
		case c == 0xEF && i+2 < len(s) && s[i+1] == 0xBF && (s[i+2] == 0xBE || s[i+2] == 0xBF):
			return false
		case c == '&':
			end := bytes.IndexByte(s[i:], ';')
			if end < 0 || !plainEntity(s[i+1:i+end]) {
				return false
			}
			i += end
		}
	}
	return true
}

func plainEntity(name []byte) bool {
	switch string(name) {
	case "lt", "gt", "amp", "apos", "quot":
		return true
	}
	if len(name) < 2 || len(name) > 8 || name[0] != '#' {
		return false
	}
	digits, base := name[1:], 10
	if digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	if len(digits) == 0 {
		return false
	}
	n, err := strconv.ParseUint(string(digits), base, 32)
	if err != nil {
		return false
	}
	r := rune(n)
	return r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// cutName splits prefix:local at its only colon.
func cutName(name string) (prefix, local string, hasPrefix bool) {
	for k := 0; k < len(name); k++ {
		if name[k] == ':' {
			return name[:k], name[k+1:], true
		}
	}
	return "", name, false
}

func resolve(bindings []scanBinding, prefix string) (string, bool) {
	for k := len(bindings) - 1; k >= 0; k-- {
		if bindings[k].prefix == prefix {
			return bindings[k].uri, true
		}
	}
	return "", false
}

func skipSpace(s []byte, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
		i++
	}
	return i
}

func isSpace(s []byte) bool { return skipSpace(s, 0) == len(s) }
