package scim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	scimfilter "github.com/scim2/filter-parser/v2"

	"github.com/seatbridge/seatbridge/provisioning"
)

// PatchOp is one operation of a PATCH request (RFC 7644 §3.5.2).
type PatchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`
}

// PatchRequest is the body of a PATCH request. encoding/json matches "Operations" and
// "operations" alike, which is what clients send.
type PatchRequest struct {
	Schemas    []string  `json:"schemas"`
	Operations []PatchOp `json:"Operations"`
}

const maxPatchOps = 1000

func (r *PatchRequest) check() error {
	// RFC 7644 §3.5.2: the body's schemas is the PatchOp message URN. A schemas that names
	// something else (a resource's schema, as if this were a PUT) is refused before any
	// operation is applied; a body without schemas is accepted, as clients send it.
	if r.Schemas != nil && !slices.ContainsFunc(r.Schemas, func(s string) bool { return strings.EqualFold(s, URNPatchOp) }) {
		return badRequest(scimInvalidSyntax, "a PATCH request's schemas must include %s", URNPatchOp)
	}
	if len(r.Operations) == 0 {
		return badRequest(scimInvalidSyntax, "a PATCH request needs at least one operation")
	}
	if len(r.Operations) > maxPatchOps {
		return badRequest(scimInvalidSyntax, "a PATCH request may have at most %d operations", maxPatchOps)
	}
	return nil
}

func opName(op string) (string, error) {
	switch o := strings.ToLower(strings.TrimSpace(op)); o {
	case "add", "replace", "remove":
		return o, nil
	}
	return "", badRequest(scimInvalidSyntax, "unknown PATCH op %q", op)
}

func decodeValue(raw json.RawMessage) (any, bool, error) {
	if len(raw) == 0 {
		return nil, false, nil
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(&v); err != nil {
		return nil, false, badRequest(scimInvalidSyntax, "the operation's value is not valid JSON")
	}
	return v, v != nil, nil
}

// target is a resolved PATCH path.
type target struct {
	schema *Schema
	attr   *Attribute
	sub    *Attribute // attr.sub without a filter
	filter scimfilter.Expression
	fsub   *Attribute // attr[filter].sub
}

// parsePath resolves a PATCH path against rt. A path that is just a schema URN returns a
// target with a schema and no attribute.
func parsePath(rt *resourceType, path string) (t target, err error) {
	if len(path) > maxFilterLen {
		return t, badRequest(scimInvalidPath, "the path is too long")
	}
	if urn, rest := rt.splitURN(path); urn != "" && rest == "" {
		return target{schema: rt.schemaFor(urn)}, nil
	}
	var p scimfilter.Path
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = badRequest(scimInvalidPath, "the path %q cannot be parsed", path)
			}
		}()
		p, err = scimfilter.ParsePath([]byte(path))
	}()
	if err != nil {
		return t, badRequest(scimInvalidPath, "the path %q cannot be parsed", truncate(path))
	}
	ap := p.AttributePath
	s, a := rt.resolve(ap.URI(), ap.AttributeName)
	if a == nil {
		return t, badRequest(scimInvalidPath, "unknown attribute %q", truncate(path))
	}
	t = target{schema: s, attr: a, filter: p.ValueExpression}
	if ap.SubAttribute != nil {
		if t.sub = a.Sub(*ap.SubAttribute); t.sub == nil {
			return t, badRequest(scimInvalidPath, "%s has no sub-attribute %q", a.Name, *ap.SubAttribute)
		}
	}
	if p.SubAttribute != nil {
		if t.fsub = a.Sub(*p.SubAttribute); t.fsub == nil {
			return t, badRequest(scimInvalidPath, "%s has no sub-attribute %q", a.Name, *p.SubAttribute)
		}
	}
	if t.filter != nil {
		if !a.MultiValued {
			return t, badRequest(scimInvalidPath, "a value filter needs a multi-valued attribute, %s is not", a.Name)
		}
		if t.sub != nil {
			return t, badRequest(scimInvalidPath, "the path %q cannot be parsed", truncate(path))
		}
		if err := checkElemFilter(a, t.filter, 0); err != nil {
			return t, err
		}
	}
	return t, nil
}

// truncate shortens a caller's value quoted in an error message.
func truncate(s string) string {
	if len(s) > 100 {
		return provisioning.Truncate(s, 100) + "…"
	}
	return s
}

// userPatcher applies PATCH operations to a user's canonical map.
type userPatcher struct {
	rt *resourceType
	id string // the resource's id: an "id" in a value that equals it is ignored
	m  map[string]any
}

// applyUserPatch applies ops to the canonical map m of resource id. It never touches the
// database: the caller runs it inside the engine's update closure.
func applyUserPatch(m map[string]any, id string, ops []PatchOp) error {
	p := &userPatcher{rt: userType, id: id, m: m}
	for i, op := range ops {
		if err := p.apply(op); err != nil {
			if se, ok := err.(*Error); ok && len(ops) > 1 {
				return &Error{Status: se.Status, SCIMType: se.SCIMType, Detail: fmt.Sprintf("operation %d: %s", i+1, se.Detail)}
			}
			return err
		}
	}
	return nil
}

func (p *userPatcher) apply(op PatchOp) error {
	name, err := opName(op.Op)
	if err != nil {
		return err
	}
	value, has, err := decodeValue(op.Value)
	if err != nil {
		return err
	}
	path := strings.TrimSpace(op.Path)
	if path == "" {
		if name == "remove" {
			return badRequest(scimNoTarget, "remove needs a path")
		}
		obj, ok := value.(map[string]any)
		if !ok {
			return badRequest(scimInvalidValue, "%s without a path needs an object value", name)
		}
		return p.applyObject(name, nil, obj)
	}
	t, err := parsePath(p.rt, path)
	if err != nil {
		return err
	}
	if t.attr == nil { // the path is a schema URN: the value holds that schema's attributes
		if name == "remove" {
			delete(p.m, t.schema.ID)
			return nil
		}
		obj, ok := value.(map[string]any)
		if !ok {
			return badRequest(scimInvalidValue, "the value for %s must be an object", t.schema.ID)
		}
		return p.applyObject(name, t.schema, obj)
	}
	if name != "remove" && !has && t.attr.Type != typeComplex {
		// add/replace with a null value: treat as clearing, like "".
		value = nil
	}
	return p.applyTarget(name, t, value, has)
}

// applyObject applies a path-less add/replace: every key is a path of its own (plain,
// dotted or URN-prefixed names, or a whole extension object).
func (p *userPatcher) applyObject(op string, within *Schema, obj map[string]any) error {
	for k, v := range obj {
		if strings.EqualFold(k, "schemas") || strings.EqualFold(k, "meta") {
			continue
		}
		if strings.EqualFold(k, "id") {
			if s, _ := v.(string); s == p.id {
				continue
			}
			return badRequest(scimMutability, "id is read-only")
		}
		key := k
		if within != nil && within != p.rt.Core {
			key = within.ID + ":" + k
		}
		if urn, rest := p.rt.splitURN(key); urn != "" && rest == "" {
			inner, ok := v.(map[string]any)
			if !ok {
				if v == nil {
					continue
				}
				return badRequest(scimInvalidValue, "%s must be an object", urn)
			}
			if err := p.applyObject(op, p.rt.schemaFor(urn), inner); err != nil {
				return err
			}
			continue
		}
		t, err := parsePath(p.rt, key)
		if err != nil {
			if strings.HasPrefix(strings.ToLower(key), "urn:") || strings.Contains(key, ".") || strings.Contains(key, "[") {
				return err
			}
			continue // an unknown plain attribute: ignored, as on POST and PUT
		}
		if t.attr == nil || t.filter != nil {
			return badRequest(scimInvalidPath, "%q cannot be used as a key of a value object", k)
		}
		if err := p.applyTarget(op, t, v, v != nil); err != nil {
			return err
		}
	}
	return nil
}

func (p *userPatcher) applyTarget(op string, t target, value any, has bool) error {
	a := t.attr
	if a.Mutability == mutReadOnly || a.Mutability == mutWriteOnly {
		if a.Mutability == mutWriteOnly && op != "remove" {
			return nil // password: accepted and ignored, like on POST
		}
		return badRequest(scimMutability, "%s is read-only", a.Name)
	}
	for _, s := range []*Attribute{t.sub, t.fsub} {
		if s != nil && s.Mutability == mutReadOnly {
			return badRequest(scimMutability, "%s.%s is read-only", a.Name, s.Name)
		}
	}
	c := container(p.m, p.rt, t.schema, true)
	defer func() {
		if t.schema != p.rt.Core && len(c) == 0 {
			delete(p.m, t.schema.ID)
		}
	}()

	switch {
	case t.filter != nil:
		return p.applyFiltered(op, c, t, value)
	case t.sub != nil:
		return p.applySub(op, c, a, t.sub, value)
	case a.MultiValued:
		return p.applyMulti(op, c, a, value, has)
	case a.Type == typeComplex:
		if op == "remove" {
			delete(c, a.Name)
			return nil
		}
		nv, err := normalizeSingle(a, value)
		if err != nil {
			return err
		}
		obj, _ := nv.(map[string]any)
		if obj == nil {
			// manager "" or {"value": ""}: the attribute is cleared.
			if raw, ok := value.(map[string]any); ok && len(raw) > 0 && !allEmpty(raw) {
				return nil // only read-only sub-attributes were given
			}
			delete(c, a.Name)
			return nil
		}
		cur := getMap(c, a.Name)
		if cur == nil || strings.EqualFold(a.Name, "manager") {
			cur = map[string]any{}
		}
		if raw, ok := value.(map[string]any); ok {
			for k, x := range raw { // explicit "" clears one sub-attribute
				if s := a.Sub(k); s != nil && (x == nil || x == "") {
					delete(cur, s.Name)
				}
			}
		}
		for k, x := range obj {
			cur[k] = x
		}
		if len(cur) == 0 {
			delete(c, a.Name)
		} else {
			c[a.Name] = cur
		}
		return nil
	default:
		if op == "remove" {
			if a.Required {
				return badRequest(scimMutability, "%s is required and cannot be removed", a.Name)
			}
			delete(c, a.Name)
			return nil
		}
		nv, err := normalizeSingle(a, value)
		if err != nil {
			return err
		}
		if nv == nil {
			if a.Required {
				return badRequest(scimInvalidValue, "%s is required and cannot be empty", a.Name)
			}
			delete(c, a.Name)
			return nil
		}
		c[a.Name] = nv
		return nil
	}
}

func allEmpty(m map[string]any) bool {
	for _, v := range m {
		if v != nil && v != "" {
			return false
		}
	}
	return true
}

func (p *userPatcher) applySub(op string, c map[string]any, a, sub *Attribute, value any) error {
	var nv any
	if op != "remove" {
		var err error
		if nv, err = normalizeSingle(sub, value); err != nil {
			return err
		}
	}
	set := func(e map[string]any) {
		if nv == nil {
			delete(e, sub.Name)
		} else {
			e[sub.Name] = nv
		}
	}
	if !a.MultiValued {
		cur := getMap(c, a.Name)
		if cur == nil {
			cur = map[string]any{}
		}
		set(cur)
		if len(cur) == 0 {
			delete(c, a.Name)
		} else {
			c[a.Name] = cur
		}
		return nil
	}
	list := getList(c, a.Name)
	if len(list) == 0 {
		if nv == nil {
			return nil
		}
		c[a.Name] = []any{map[string]any{sub.Name: nv}}
		return nil
	}
	for _, x := range list {
		if e, ok := x.(map[string]any); ok {
			set(e)
		}
	}
	if sub.Name == "primary" && nv == true && len(list) > 1 {
		return badRequest(scimInvalidValue, "only one %s element can be primary", a.Name)
	}
	return nil
}

func (p *userPatcher) applyMulti(op string, c map[string]any, a *Attribute, value any, has bool) error {
	if op == "remove" {
		if !has {
			delete(c, a.Name)
			return nil
		}
		// A remove with a value list removes only those values (what Entra sends).
		nv, err := normalizeValue(a, value)
		if err != nil {
			return err
		}
		drop, _ := nv.([]any)
		var keep []any
		for _, x := range getList(c, a.Name) {
			if !containsValue(a, drop, x) {
				keep = append(keep, x)
			}
		}
		setList(c, a.Name, keep)
		return nil
	}
	nv, err := normalizeValue(a, value)
	if err != nil {
		return err
	}
	add, _ := nv.([]any)
	if op == "replace" {
		setList(c, a.Name, fixPrimary(add, -1))
		return nil
	}
	list := getList(c, a.Name)
	for _, x := range add {
		if i := indexOfValue(a, list, x); i >= 0 {
			mergeInto(list[i], x)
			continue
		}
		list = append(list, x)
	}
	setList(c, a.Name, fixPrimary(list, lastPrimary(list, add)))
	return nil
}

func setList(c map[string]any, name string, list []any) {
	if len(list) == 0 {
		delete(c, name)
	} else {
		c[name] = list
	}
}

func mergeInto(dst, src any) {
	d, ok1 := dst.(map[string]any)
	s, ok2 := src.(map[string]any)
	if ok1 && ok2 {
		for k, v := range s {
			d[k] = v
		}
	}
}

// lastPrimary returns the index in list of the last element of added that is primary, or -1.
func lastPrimary(list, added []any) int {
	idx := -1
	for _, x := range added {
		if e, ok := x.(map[string]any); ok && e["primary"] == true {
			for i, y := range list {
				if sameElem(y, x) {
					idx = i
				}
			}
		}
	}
	return idx
}

func sameElem(a, b any) bool {
	ea, ok1 := a.(map[string]any)
	eb, ok2 := b.(map[string]any)
	if !ok1 || !ok2 {
		return false
	}
	return fmt.Sprint(ea["value"]) == fmt.Sprint(eb["value"]) && fmt.Sprint(ea["type"]) == fmt.Sprint(eb["type"])
}

// fixPrimary keeps at most one primary element (RFC 7643 §2.4): the one at keep, else the
// first.
func fixPrimary(list []any, keep int) []any {
	seen := false
	for i, x := range list {
		e, ok := x.(map[string]any)
		if !ok || e["primary"] != true {
			continue
		}
		if (keep >= 0 && i != keep) || (keep < 0 && seen) {
			delete(e, "primary")
		}
		seen = true
	}
	return list
}

func elemValue(x any) (string, bool) {
	e, ok := x.(map[string]any)
	if !ok {
		return "", false
	}
	s, ok := e["value"].(string)
	return s, ok
}

func equalValue(a *Attribute, x, y string) bool {
	if sub := a.Sub("value"); sub != nil && sub.CaseExact {
		return x == y
	}
	return strings.EqualFold(x, y)
}

func containsValue(a *Attribute, list []any, x any) bool {
	return indexOfValue(a, list, x) >= 0
}

func indexOfValue(a *Attribute, list []any, x any) int {
	v, ok := elemValue(x)
	if !ok {
		return -1
	}
	for i, y := range list {
		if w, ok := elemValue(y); ok && equalValue(a, v, w) {
			return i
		}
	}
	return -1
}

func (p *userPatcher) applyFiltered(op string, c map[string]any, t target, value any) error {
	a := t.attr
	list := getList(c, a.Name)
	var matched []int
	for i, x := range list {
		e, ok := x.(map[string]any)
		if !ok {
			continue
		}
		ok, err := evalElem(a, t.filter, e)
		if err != nil {
			return err
		}
		if ok {
			matched = append(matched, i)
		}
	}
	if op == "remove" {
		if t.fsub != nil {
			if t.fsub.Required {
				return badRequest(scimMutability, "%s.%s is required", a.Name, t.fsub.Name)
			}
			for _, i := range matched {
				delete(list[i].(map[string]any), t.fsub.Name)
			}
			return nil
		}
		var keep []any
		j := 0
		for i, x := range list {
			if j < len(matched) && matched[j] == i {
				j++
				continue
			}
			keep = append(keep, x)
		}
		setList(c, a.Name, keep)
		return nil
	}
	var patch map[string]any
	if t.fsub != nil {
		nv, err := normalizeSingle(t.fsub, value)
		if err != nil {
			return err
		}
		patch = map[string]any{t.fsub.Name: nv}
	} else {
		nv, err := normalizeSingle(a, value)
		if err != nil {
			return err
		}
		patch, _ = nv.(map[string]any)
		if patch == nil {
			return badRequest(scimInvalidValue, "the value for %s[…] must be an object", a.Name)
		}
	}
	if len(matched) == 0 {
		// Entra's `emails[type eq "work"].value` on a user without a work e-mail: the
		// element the filter describes is created.
		base, ok := filterEqualities(a, t.filter)
		if !ok {
			return badRequest(scimNoTarget, "no %s element matches the filter", a.Name)
		}
		for k, v := range patch {
			if v != nil {
				base[k] = v
			}
		}
		list = append(list, base)
		matched = []int{len(list) - 1}
	} else {
		for _, i := range matched {
			e := list[i].(map[string]any)
			for k, v := range patch {
				if v == nil {
					delete(e, k)
				} else {
					e[k] = v
				}
			}
		}
	}
	keep := -1
	if patch["primary"] == true {
		keep = matched[len(matched)-1]
	}
	setList(c, a.Name, fixPrimary(list, keep))
	return nil
}

// filterEqualities returns the element described by a filter made only of eq comparisons
// joined with and.
func filterEqualities(a *Attribute, e scimfilter.Expression) (map[string]any, bool) {
	out := map[string]any{}
	var walk func(scimfilter.Expression) bool
	walk = func(e scimfilter.Expression) bool {
		switch x := e.(type) {
		case *scimfilter.LogicalExpression:
			return x.Operator == scimfilter.AND && walk(x.Left) && walk(x.Right)
		case *scimfilter.AttributeExpression:
			if !strings.EqualFold(string(x.Operator), "eq") || x.CompareValue == nil {
				return false
			}
			sub := a.Sub(elemAttrName(a, x.AttributePath))
			if sub == nil {
				return false
			}
			v := x.CompareValue
			if s, ok := v.(string); ok {
				u, err := unescape(s)
				if err != nil {
					return false
				}
				v = u
			}
			nv, err := normalizeSingle(sub, v)
			if err != nil || nv == nil {
				return false
			}
			out[sub.Name] = nv
			return true
		}
		return false
	}
	return out, walk(e)
}

func elemAttrName(a *Attribute, p scimfilter.AttributePath) string {
	if p.SubAttribute != nil && strings.EqualFold(p.AttributeName, a.Name) {
		return *p.SubAttribute
	}
	return p.AttributeName
}

// checkElemFilter validates a value filter before it is evaluated.
func checkElemFilter(a *Attribute, e scimfilter.Expression, depth int) error {
	if depth > maxFilterDepth {
		return badRequest(scimInvalidFilter, "the filter is nested too deeply")
	}
	switch x := e.(type) {
	case *scimfilter.LogicalExpression:
		if err := checkElemFilter(a, x.Left, depth+1); err != nil {
			return err
		}
		return checkElemFilter(a, x.Right, depth+1)
	case *scimfilter.NotExpression:
		return checkElemFilter(a, x.Expression, depth+1)
	case *scimfilter.AttributeExpression:
		if x.AttributePath.URIPrefix != nil || a.Sub(elemAttrName(a, x.AttributePath)) == nil {
			return badRequest(scimInvalidFilter, "%q is not a sub-attribute of %s", x.AttributePath.String(), a.Name)
		}
		if s, ok := x.CompareValue.(string); ok {
			if _, err := unescape(s); err != nil {
				return err
			}
		}
		return nil
	}
	return badRequest(scimInvalidFilter, "value filters cannot be nested")
}

// evalElem evaluates a value filter on one element of a multi-valued attribute of the
// resource being patched (one resource in memory, never a table scan).
func evalElem(a *Attribute, e scimfilter.Expression, elem map[string]any) (bool, error) {
	switch x := e.(type) {
	case *scimfilter.LogicalExpression:
		l, err := evalElem(a, x.Left, elem)
		if err != nil {
			return false, err
		}
		if x.Operator == scimfilter.OR && l {
			return true, nil
		}
		if x.Operator == scimfilter.AND && !l {
			return false, nil
		}
		return evalElem(a, x.Right, elem)
	case *scimfilter.NotExpression:
		v, err := evalElem(a, x.Expression, elem)
		return !v, err
	case *scimfilter.AttributeExpression:
		sub := a.Sub(elemAttrName(a, x.AttributePath))
		if sub == nil {
			return false, badRequest(scimInvalidFilter, "%q is not a sub-attribute of %s", x.AttributePath.String(), a.Name)
		}
		have, present := elem[sub.Name]
		op := strings.ToLower(string(x.Operator))
		if op == "pr" {
			return present && !isEmpty(have), nil
		}
		want := x.CompareValue
		if s, ok := want.(string); ok {
			u, err := unescape(s)
			if err != nil {
				return false, err
			}
			want = u
		}
		return compareValues(sub, op, have, want)
	}
	return false, badRequest(scimInvalidFilter, "value filters cannot be nested")
}

func compareValues(a *Attribute, op string, have, want any) (bool, error) {
	switch w := want.(type) {
	case bool:
		if a.Type != typeBoolean {
			return false, badRequest(scimInvalidFilter, "%s is not a boolean", a.Name)
		}
		h, _ := have.(bool)
		switch op {
		case "eq":
			return h == w, nil
		case "ne":
			return h != w, nil
		}
		return false, badRequest(scimInvalidFilter, "operator %s is not defined for booleans", op)
	case string:
		if a.Type == typeBoolean {
			return false, badRequest(scimInvalidFilter, "%s is a boolean", a.Name)
		}
		h, _ := have.(string)
		if !a.CaseExact {
			h, w = strings.ToLower(h), strings.ToLower(w)
		}
		switch op {
		case "eq":
			return h == w, nil
		case "ne":
			return h != w, nil
		case "co":
			return strings.Contains(h, w), nil
		case "sw":
			return strings.HasPrefix(h, w), nil
		case "ew":
			return strings.HasSuffix(h, w), nil
		case "gt":
			return h > w, nil
		case "ge":
			return h >= w, nil
		case "lt":
			return h < w, nil
		case "le":
			return h <= w, nil
		}
	case nil:
		return false, badRequest(scimInvalidFilter, "comparing with null is not supported; use \"pr\"")
	}
	return false, badRequest(scimInvalidFilter, "cannot compare %s with %v", a.Name, want)
}

// groupPatch translates PATCH operations on a group into engine deltas, so that changing
// 50 members never loads a group of 100,000.
func groupPatch(id string, ops []PatchOp) ([]provisioning.GroupOp, error) {
	var out []provisioning.GroupOp
	for i, op := range ops {
		g, err := groupOp(id, op)
		if err != nil {
			if se, ok := err.(*Error); ok && len(ops) > 1 {
				return nil, &Error{Status: se.Status, SCIMType: se.SCIMType, Detail: fmt.Sprintf("operation %d: %s", i+1, se.Detail)}
			}
			return nil, err
		}
		out = append(out, g...)
	}
	return out, nil
}

func groupOp(id string, op PatchOp) ([]provisioning.GroupOp, error) {
	name, err := opName(op.Op)
	if err != nil {
		return nil, err
	}
	value, has, err := decodeValue(op.Value)
	if err != nil {
		return nil, err
	}
	path := strings.TrimSpace(op.Path)
	if path == "" {
		if name == "remove" {
			return nil, badRequest(scimNoTarget, "remove needs a path")
		}
		obj, ok := value.(map[string]any)
		if !ok {
			return nil, badRequest(scimInvalidValue, "%s without a path needs an object value", name)
		}
		var out []provisioning.GroupOp
		for k, v := range obj {
			if strings.EqualFold(k, "schemas") || strings.EqualFold(k, "meta") {
				continue
			}
			if strings.EqualFold(k, "id") {
				if s, _ := v.(string); s == id {
					continue
				}
				return nil, badRequest(scimMutability, "id is read-only")
			}
			if _, rest := groupType.splitURN(k); groupSchema.Attr(rest) == nil {
				continue
			}
			g, err := groupAttrOp(name, k, nil, v, v != nil)
			if err != nil {
				return nil, err
			}
			out = append(out, g...)
		}
		return out, nil
	}
	t, err := parsePath(groupType, path)
	if err != nil {
		return nil, err
	}
	if t.attr == nil {
		return nil, badRequest(scimInvalidPath, "the path %q names no attribute", truncate(path))
	}
	if t.sub != nil || t.fsub != nil {
		return nil, badRequest(scimInvalidPath, "sub-attributes of %s cannot be patched", t.attr.Name)
	}
	return groupAttrOp(name, t.attr.Name, t.filter, value, has)
}

func groupAttrOp(op, attr string, filter scimfilter.Expression, value any, has bool) ([]provisioning.GroupOp, error) {
	a := groupSchema.Attr(attr)
	if _, rest := groupType.splitURN(attr); a == nil {
		a = groupSchema.Attr(rest)
	}
	if a == nil {
		return nil, badRequest(scimInvalidPath, "unknown attribute %q", attr)
	}
	switch a.Name {
	case "displayName", "externalId":
		kind := provisioning.GroupSetDisplayName
		if a.Name == "externalId" {
			kind = provisioning.GroupSetExternalID
		}
		if op == "remove" {
			if a.Required {
				return nil, badRequest(scimMutability, "displayName is required and cannot be removed")
			}
			return []provisioning.GroupOp{{Kind: kind}}, nil
		}
		nv, err := normalizeSingle(a, value)
		if err != nil {
			return nil, err
		}
		s, _ := nv.(string)
		if s == "" && a.Required {
			return nil, badRequest(scimInvalidValue, "displayName is required and cannot be empty")
		}
		return []provisioning.GroupOp{{Kind: kind, Value: s}}, nil
	case "members":
		if filter != nil {
			if op != "remove" {
				return nil, badRequest(scimInvalidPath, "members[…] can only be removed; add members with path \"members\"")
			}
			ids, ok := memberFilterIDs(filter)
			if !ok {
				return nil, badRequest(scimInvalidFilter, "members can be selected only by value eq \"id\" (joined with or)")
			}
			return []provisioning.GroupOp{{Kind: provisioning.GroupRemoveMembers, Members: ids}}, nil
		}
		ids, err := memberIDs(value)
		if err != nil {
			return nil, err
		}
		switch op {
		case "add":
			if len(ids) == 0 {
				return nil, nil
			}
			return []provisioning.GroupOp{{Kind: provisioning.GroupAddMembers, Members: ids}}, nil
		case "replace":
			if len(ids) == 0 {
				return []provisioning.GroupOp{{Kind: provisioning.GroupRemoveAllMember}}, nil
			}
			return []provisioning.GroupOp{{Kind: provisioning.GroupReplaceMembers, Members: ids}}, nil
		default:
			if !has {
				return []provisioning.GroupOp{{Kind: provisioning.GroupRemoveAllMember}}, nil
			}
			if len(ids) == 0 {
				return nil, nil
			}
			return []provisioning.GroupOp{{Kind: provisioning.GroupRemoveMembers, Members: ids}}, nil
		}
	}
	return nil, badRequest(scimMutability, "%s is read-only", a.Name)
}

// memberIDs reads a members value: a list of {"value": id} (or bare ids, or one object).
func memberIDs(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	ids := make([]string, 0, len(list))
	seen := map[string]bool{}
	for _, x := range list {
		var id string
		switch e := x.(type) {
		case string:
			id = e
		case map[string]any:
			if t, _ := e["type"].(string); t != "" && !strings.EqualFold(t, "User") {
				return nil, badRequest(scimInvalidValue, "only users can be group members")
			}
			s, ok := e["value"].(string)
			if !ok {
				return nil, badRequest(scimInvalidValue, "a member needs a string value (the user id)")
			}
			id = s
		default:
			return nil, badRequest(scimInvalidValue, "a member must be an object with a value")
		}
		id = strings.TrimSpace(id)
		if !storableText(id) || len(id) > 128 {
			return nil, badRequest(scimInvalidValue, "a member value is not a user id")
		}
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		ids = append(ids, id)
	}
	return ids, nil
}

func memberFilterIDs(e scimfilter.Expression) ([]string, bool) {
	switch x := e.(type) {
	case *scimfilter.LogicalExpression:
		if x.Operator != scimfilter.OR {
			return nil, false
		}
		l, ok1 := memberFilterIDs(x.Left)
		r, ok2 := memberFilterIDs(x.Right)
		return append(l, r...), ok1 && ok2
	case *scimfilter.AttributeExpression:
		if !strings.EqualFold(elemAttrName(groupSchema.Attr("members"), x.AttributePath), "value") || !strings.EqualFold(string(x.Operator), "eq") {
			return nil, false
		}
		s, ok := x.CompareValue.(string)
		if !ok {
			return nil, false
		}
		u, err := unescape(s)
		if err != nil {
			return nil, false
		}
		return []string{u}, true
	}
	return nil, false
}
