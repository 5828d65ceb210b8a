package scim

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	scimfilter "github.com/scim2/filter-parser/v2"

	"github.com/seatbridge/seatbridge/provisioning"
)

// maxFilterLen bounds the filter text: real clients send one or two comparisons, and the
// parser recurses per nesting level.
const maxFilterLen = 4096

// parseSCIMFilter parses text with the filter-parser and turns the parser's panics (it is
// third-party code fed with client input) into an invalidFilter error.
func parseSCIMFilter(text string) (expr scimfilter.Expression, err error) {
	if len(text) > maxFilterLen {
		return nil, badRequest(scimInvalidFilter, "the filter is longer than %d bytes", maxFilterLen)
	}
	if !storableText(text) {
		// PostgreSQL refuses NUL and invalid UTF-8 with an error that would become a 500.
		return nil, badRequest(scimInvalidFilter, "the filter is not valid UTF-8 text")
	}
	defer func() {
		if r := recover(); r != nil {
			expr, err = nil, badRequest(scimInvalidFilter, "the filter cannot be parsed")
		}
	}()
	if e, ok := fastParse(text); ok {
		return e, nil
	}
	text = decodeUnicodeEscapes(text)
	expr, err = scimfilter.ParseFilter([]byte(text))
	if err != nil {
		// Entra and others send "emails[type eq \"work\"].value eq \"x\"", which the RFC
		// grammar does not allow; it means the same as emails[type eq "work" and value eq "x"].
		// Microsoft's clients also send comparison values without quotes (userName sw O).
		// Either repair is tried only on a filter the grammar refused, so a valid filter
		// never changes meaning.
		tries := []string{text}
		if quoted, bare := quoteBareValues(text); bare {
			tries = append(tries, quoted)
		}
		for _, t := range tries {
			if t != text {
				if e2, err2 := scimfilter.ParseFilter([]byte(t)); err2 == nil {
					return e2, nil
				}
			}
			if rewritten, ok := rewriteValuePathSubAttr(t); ok {
				if e2, err2 := scimfilter.ParseFilter([]byte(rewritten)); err2 == nil {
					return e2, nil
				}
			}
		}
		return nil, badRequest(scimInvalidFilter, "the filter cannot be parsed (RFC 7644 §3.4.2.2 grammar)")
	}
	return expr, nil
}

// simpleFilterRE matches the one shape directories send on every lookup (`userName eq
// "x"`, `externalId eq "y"`), with the grammar of RFC 7644 for attribute paths and JSON
// strings. The general parser costs about as much as the database query, so this shape
// skips it; FuzzFilter checks that both agree.
var simpleFilterRE = regexp.MustCompile(`^((?:[A-Za-z0-9.-]+:)+)?(\$?[A-Za-z][A-Za-z0-9_-]*)(?:\.(\$?[A-Za-z][A-Za-z0-9_-]*))? +((?i)eq|ne|co|sw|ew|gt|ge|lt|le) +"((?:[^"\\\x00-\x1f]|\\["\\/bfnrt])*)"$`)

func fastParse(text string) (scimfilter.Expression, bool) {
	if !utf8.ValidString(text) {
		return nil, false
	}
	m := simpleFilterRE.FindStringSubmatch(text)
	if m == nil {
		return nil, false
	}
	var p scimfilter.AttributePath
	if m[1] != "" {
		uri := strings.TrimSuffix(m[1], ":")
		p.URIPrefix = &uri
	}
	p.AttributeName = m[2]
	if m[3] != "" {
		sub := m[3]
		p.SubAttribute = &sub
	}
	return &scimfilter.AttributeExpression{AttributePath: p, Operator: scimfilter.CompareOperator(strings.ToLower(m[4])), CompareValue: m[5]}, true
}

// quoteBareValues puts quotes around comparison values sent without them (`userName sw O`,
// `meta.created gt 2015-10-10T14:38:21Z`): the grammar wants a JSON value after the
// operator. A bare true, false, null or number is a JSON value and stays as it is. It
// reports false when nothing was quoted.
func quoteBareValues(s string) (string, bool) {
	var b strings.Builder
	changed, afterOp := false, false
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(s))
			b.WriteString(s[i:j])
			i, afterOp = j, false
			continue
		case c == ' ':
			b.WriteByte(c)
			i++
			continue
		case c == '(' || c == ')' || c == '[' || c == ']':
			b.WriteByte(c)
			i, afterOp = i+1, false
			continue
		}
		j := i
		for j < len(s) && !strings.ContainsRune(` ()[]"`, rune(s[j])) {
			j++
		}
		tok := s[i:j]
		if afterOp && !isJSONLiteral(tok) {
			b.WriteString(`"` + strings.ReplaceAll(tok, `\`, `\\`) + `"`)
			changed, afterOp = true, false
		} else {
			b.WriteString(tok)
			afterOp = isValueOperator(tok)
		}
		i = j
	}
	return b.String(), changed
}

func isJSONLiteral(tok string) bool {
	if tok == "true" || tok == "false" || tok == "null" {
		return true
	}
	_, err := strconv.ParseFloat(tok, 64)
	return err == nil
}

// isValueOperator reports whether tok is a comparison operator that takes a value (all
// but pr).
func isValueOperator(tok string) bool {
	switch strings.ToLower(tok) {
	case "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le":
		return true
	}
	return false
}

// decodeUnicodeEscapes replaces \uXXXX escapes inside strings with the character itself,
// because the parser's grammar knows only the one-letter JSON escapes.
func decodeUnicodeEscapes(s string) string {
	if !strings.Contains(s, `\u`) {
		return s
	}
	var b strings.Builder
	inStr := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case !inStr:
			inStr = c == '"'
		case c == '"':
			inStr = false
		case c == '\\' && i+1 < len(s) && s[i+1] == 'u' && i+6 <= len(s):
			if n, err := strconv.ParseUint(s[i+2:i+6], 16, 32); err == nil && n >= 0x20 && n != '"' && n != '\\' && !utf16.IsSurrogate(rune(n)) {
				b.WriteRune(rune(n))
				i += 5
				continue
			}
		case c == '\\' && i+1 < len(s):
			b.WriteByte(c)
			b.WriteByte(s[i+1])
			i++
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// rewriteValuePathSubAttr turns `attr[expr].sub op value` into `attr[(expr) and sub op value]`
// wherever it occurs, skipping quoted strings. It reports false when nothing was rewritten.
func rewriteValuePathSubAttr(s string) (string, bool) {
	var b strings.Builder
	changed := false
	inStr, esc := false, false
	open := -1 // offset in b just after the last '['
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inStr {
			b.WriteByte(c)
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		if c == '"' {
			inStr = true
		}
		if c == '[' {
			b.WriteByte(c)
			open = b.Len()
			continue
		}
		if c != ']' || open < 0 || i+1 >= len(s) || s[i+1] != '.' {
			b.WriteByte(c)
			continue
		}
		j := i + 2
		for j < len(s) && isNameChar(s[j]) {
			j++
		}
		sub := s[i+2 : j]
		k := j
		for k < len(s) && s[k] == ' ' {
			k++
		}
		opEnd := k
		for opEnd < len(s) && isNameChar(s[opEnd]) {
			opEnd++
		}
		op := s[k:opEnd]
		if sub == "" || op == "" || k == j {
			b.WriteByte(c)
			continue
		}
		cmp := sub + " " + op
		next := opEnd
		if !strings.EqualFold(op, "pr") {
			v := opEnd
			for v < len(s) && s[v] == ' ' {
				v++
			}
			val := scanValue(s[v:])
			if val == "" || v == opEnd {
				b.WriteByte(c)
				continue
			}
			cmp += " " + val
			next = v + len(val)
		}
		inner := b.String()[open:]
		head := b.String()[:open]
		if hasTopLevelOr(inner) {
			// The parser allows no parentheses inside brackets, so "a or b" cannot be
			// and-ed without changing its meaning.
			b.WriteByte(c)
			continue
		}
		b.Reset()
		b.WriteString(head + inner + " and " + cmp + "]")
		changed, open = true, -1
		i = next - 1
	}
	return b.String(), changed
}

func hasTopLevelOr(s string) bool {
	inStr, esc := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inStr && esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case !inStr && i+4 <= len(s) && strings.EqualFold(s[i:i+4], " or "):
			return true
		}
	}
	return false
}

func isNameChar(c byte) bool {
	return c == '-' || c == '_' || c == '$' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// scanValue returns the comparison value at the start of s: a JSON string, number, true,
// false or null.
func scanValue(s string) string {
	if s == "" {
		return ""
	}
	if s[0] == '"' {
		esc := false
		for i := 1; i < len(s); i++ {
			switch {
			case esc:
				esc = false
			case s[i] == '\\':
				esc = true
			case s[i] == '"':
				return s[:i+1]
			}
		}
		return ""
	}
	end := strings.IndexAny(s, " )]")
	if end < 0 {
		end = len(s)
	}
	return s[:end]
}

// storableText reports whether s can be stored in and compared by both databases.
func storableText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// unescape decodes the JSON escapes the filter-parser leaves in string values.
func unescape(s string) (string, error) {
	if !strings.ContainsRune(s, '\\') {
		return s, nil
	}
	var out string
	if err := json.Unmarshal([]byte(`"`+s+`"`), &out); err != nil || !storableText(out) {
		return "", badRequest(scimInvalidFilter, "invalid escape in a filter string")
	}
	return out, nil
}

// translateFilter parses a SCIM filter for resource type rt into the neutral Filter.
func translateFilter(rt *resourceType, text string) (provisioning.Filter, error) {
	expr, err := parseSCIMFilter(text)
	if err != nil {
		return nil, err
	}
	return translateExpr(rt, expr, 0)
}

const maxFilterDepth = 64

// translateLogic translates what the top-level filter and the filter inside a value path
// share: the depth limit and the and/or/not nodes; leaf translates every other node.
func translateLogic(e scimfilter.Expression, depth int, leaf func(e scimfilter.Expression, depth int) (provisioning.Filter, error)) (provisioning.Filter, error) {
	if depth > maxFilterDepth {
		return nil, badRequest(scimInvalidFilter, "the filter is nested too deeply")
	}
	switch x := e.(type) {
	case *scimfilter.LogicalExpression:
		l, err := translateLogic(x.Left, depth+1, leaf)
		if err != nil {
			return nil, err
		}
		r, err := translateLogic(x.Right, depth+1, leaf)
		if err != nil {
			return nil, err
		}
		if x.Operator == scimfilter.OR {
			return provisioning.Or{Left: l, Right: r}, nil
		}
		return provisioning.And{Left: l, Right: r}, nil
	case *scimfilter.NotExpression:
		in, err := translateLogic(x.Expression, depth+1, leaf)
		if err != nil {
			return nil, err
		}
		return provisioning.Not{Inner: in}, nil
	}
	return leaf(e, depth)
}

func translateExpr(rt *resourceType, e scimfilter.Expression, depth int) (provisioning.Filter, error) {
	return translateLogic(e, depth, func(e scimfilter.Expression, depth int) (provisioning.Filter, error) {
		switch x := e.(type) {
		case *scimfilter.ValuePath:
			_, a := rt.resolve(x.AttributePath.URI(), x.AttributePath.AttributeName)
			if a == nil || x.AttributePath.SubAttribute != nil {
				return nil, badRequest(scimInvalidFilter, "unknown attribute %q", x.AttributePath.String())
			}
			if !a.MultiValued || a.field == "" {
				return nil, badRequest(scimInvalidFilter, "%q is not a filterable multi-valued attribute", a.Name)
			}
			where, err := translateSub(a, x.ValueFilter, depth+1)
			if err != nil {
				return nil, err
			}
			return provisioning.Any{Collection: a.field, Where: where}, nil
		case *scimfilter.AttributeExpression:
			return translateCompare(rt, x)
		}
		return nil, badRequest(scimInvalidFilter, "unsupported filter expression")
	})
}

// translateSub translates the filter inside a value path; its attribute names are
// sub-attributes of parent.
func translateSub(parent *Attribute, e scimfilter.Expression, depth int) (provisioning.Filter, error) {
	return translateLogic(e, depth, func(e scimfilter.Expression, _ int) (provisioning.Filter, error) {
		x, ok := e.(*scimfilter.AttributeExpression)
		if !ok {
			return nil, badRequest(scimInvalidFilter, "value filters cannot be nested")
		}
		p := x.AttributePath
		name := p.AttributeName
		if p.SubAttribute != nil || p.URIPrefix != nil {
			// "emails[emails.value eq …]" is not valid; neither are URNs inside brackets.
			if p.SubAttribute != nil && strings.EqualFold(p.AttributeName, parent.Name) && p.URIPrefix == nil {
				name = *p.SubAttribute
			} else {
				return nil, badRequest(scimInvalidFilter, "%q is not a sub-attribute of %s", p.String(), parent.Name)
			}
		}
		sub := parent.Sub(name)
		if sub == nil || sub.field == "" {
			return nil, badRequest(scimInvalidFilter, "%q is not a filterable sub-attribute of %s", name, parent.Name)
		}
		return compareOn(sub, sub.field, x)
	})
}

func translateCompare(rt *resourceType, x *scimfilter.AttributeExpression) (provisioning.Filter, error) {
	p := x.AttributePath
	_, a := rt.resolve(p.URI(), p.AttributeName)
	if a == nil {
		return nil, badRequest(scimInvalidFilter, "unknown attribute %q", p.String())
	}
	if a.Returned == retNever {
		return nil, badRequest(scimInvalidFilter, "%q cannot be filtered on", a.Name)
	}
	switch {
	case a.MultiValued:
		// "emails co x" compares the value sub-attribute (RFC 7644 §3.4.2.2); "emails pr"
		// asks whether there is any element.
		subName := "value"
		if p.SubAttribute != nil {
			subName = *p.SubAttribute
		} else if x.Operator == scimfilter.PR {
			return provisioning.Any{Collection: a.field, Where: nil}, nil
		}
		sub := a.Sub(subName)
		if sub == nil || sub.field == "" || a.field == "" {
			return nil, badRequest(scimInvalidFilter, "%q cannot be filtered on", p.String())
		}
		c, err := compareOn(sub, sub.field, x)
		if err != nil {
			return nil, err
		}
		return provisioning.Any{Collection: a.field, Where: c}, nil
	case a.Type == typeComplex:
		subName := ""
		if p.SubAttribute != nil {
			subName = *p.SubAttribute
		} else if strings.EqualFold(a.Name, "manager") {
			subName = "value"
		}
		sub := a.Sub(subName)
		if sub == nil || sub.field == "" {
			return nil, badRequest(scimInvalidFilter, "%q cannot be filtered on", p.String())
		}
		return compareOn(sub, sub.field, x)
	default:
		if p.SubAttribute != nil || a.field == "" {
			return nil, badRequest(scimInvalidFilter, "%q cannot be filtered on", p.String())
		}
		return compareOn(a, a.field, x)
	}
}

// compareOn builds the Compare of attribute a (a simple attribute or sub-attribute),
// checking the operator and value against the attribute's type.
func compareOn(a *Attribute, fieldName string, x *scimfilter.AttributeExpression) (provisioning.Filter, error) {
	op := provisioning.Op(strings.ToLower(string(x.Operator)))
	switch op {
	case provisioning.OpEq, provisioning.OpNe, provisioning.OpCo, provisioning.OpSw, provisioning.OpEw,
		provisioning.OpGt, provisioning.OpGe, provisioning.OpLt, provisioning.OpLe, provisioning.OpPresent:
	default:
		return nil, badRequest(scimInvalidFilter, "unknown operator %q", x.Operator)
	}
	if op == provisioning.OpPresent {
		return provisioning.Compare{Field: fieldName, Op: op, CaseExact: a.CaseExact}, nil
	}
	if x.CompareValue == nil {
		return nil, badRequest(scimInvalidFilter, "comparing %s with null is not supported; use \"pr\"", a.Name)
	}
	var value any
	switch a.Type {
	case typeString, typeReference, "binary":
		s, ok := x.CompareValue.(string)
		if !ok {
			return nil, badRequest(scimInvalidFilter, "%s is a string attribute; compare it with a quoted string", a.Name)
		}
		s, err := unescape(s)
		if err != nil {
			return nil, err
		}
		if fieldName == "meta.version" {
			v, ok := parseETag(s)
			if !ok {
				return nil, badRequest(scimInvalidFilter, "meta.version %q is not a version of this server", s)
			}
			if op != provisioning.OpEq && op != provisioning.OpNe {
				return nil, badRequest(scimInvalidFilter, "meta.version supports only eq and ne")
			}
			return provisioning.Compare{Field: fieldName, Op: op, Value: v, CaseExact: true}, nil
		}
		value = s
	case typeBoolean:
		b, ok := x.CompareValue.(bool)
		if !ok {
			return nil, badRequest(scimInvalidFilter, "%s is a boolean attribute; compare it with true or false", a.Name)
		}
		if op != provisioning.OpEq && op != provisioning.OpNe {
			return nil, badRequest(scimInvalidFilter, "operator %s is not defined for boolean %s", op, a.Name)
		}
		value = b
	case typeDateTime:
		s, ok := x.CompareValue.(string)
		if !ok {
			return nil, badRequest(scimInvalidFilter, "%s is a dateTime; compare it with a quoted xsd:dateTime", a.Name)
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, badRequest(scimInvalidFilter, "%q is not an xsd:dateTime", s)
		}
		switch op {
		case provisioning.OpCo, provisioning.OpSw, provisioning.OpEw:
			return nil, badRequest(scimInvalidFilter, "operator %s is not defined for dateTime %s", op, a.Name)
		}
		value = t.UTC()
	case typeInteger, typeDecimal:
		f, ok := x.CompareValue.(float64)
		if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, badRequest(scimInvalidFilter, "%s is a number; compare it with a number", a.Name)
		}
		value = f
	default:
		return nil, badRequest(scimInvalidFilter, "%s cannot be filtered on", a.Name)
	}
	if _, isStr := value.(string); !isStr && (op == provisioning.OpCo || op == provisioning.OpSw || op == provisioning.OpEw) {
		return nil, badRequest(scimInvalidFilter, "operator %s needs a string", op)
	}
	return provisioning.Compare{Field: fieldName, Op: op, Value: value, CaseExact: a.CaseExact}, nil
}

// parseETag reads a version from `W/"12"`, `"12"` or `12`.
func parseETag(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "W/")
	s = strings.TrimPrefix(strings.TrimSuffix(s, `"`), `"`)
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 {
		return 0, false
	}
	return v, true
}

func etag(version int64) string { return fmt.Sprintf(`W/"%d"`, version) }
