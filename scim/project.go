package scim

import (
	"strings"

	scimfilter "github.com/scim2/filter-parser/v2"
)

// attrSel is one entry of an attributes / excludedAttributes list.
type attrSel struct {
	schema *Schema
	attr   *Attribute
	sub    *Attribute
	// filter selects elements of a multi-valued attribute: emails[type eq "work"].
	filter scimfilter.Expression
}

// parseAttrList resolves a comma-separated attribute list. Unknown names are ignored, as
// RFC 7644 §3.4.2.5 lets a server do; a client asking for an attribute we do not have gets
// the resource without it rather than an error.
func parseAttrList(rt *resourceType, s string) []attrSel {
	var out []attrSel
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if strings.Contains(item, "[") {
			// Not in RFC 7644's attribute notation, but Microsoft's clients send it: the
			// value path of a PATCH (emails[type eq "work"], …[…].value) selects the
			// matching elements. One that does not parse is ignored like an unknown name.
			t, err := parsePath(rt, item)
			if err != nil || t.attr == nil || t.filter == nil {
				continue
			}
			out = append(out, attrSel{schema: t.schema, attr: t.attr, sub: t.fsub, filter: t.filter})
			continue
		}
		urn, rest := rt.splitURN(item)
		if urn != "" && rest == "" {
			sch := rt.schemaFor(urn)
			for _, a := range sch.Attributes {
				out = append(out, attrSel{schema: sch, attr: a})
			}
			continue
		}
		name, subName, _ := strings.Cut(rest, ".")
		sch, a := rt.resolve(urn, name)
		if a == nil {
			continue
		}
		sel := attrSel{schema: sch, attr: a}
		if subName != "" {
			if sel.sub = a.Sub(subName); sel.sub == nil {
				continue
			}
		}
		out = append(out, sel)
	}
	return out
}

// projection is a parsed attributes / excludedAttributes pair.
type projection struct {
	rt       *resourceType
	include  []attrSel
	exclude  []attrSel
	explicit bool // attributes was given
}

func newProjection(rt *resourceType, attributes, excluded string) projection {
	p := projection{rt: rt, explicit: strings.TrimSpace(attributes) != ""}
	if p.explicit {
		p.include = parseAttrList(rt, attributes)
	} else {
		p.exclude = parseAttrList(rt, excluded)
	}
	return p
}

// wants reports whether the named top-level attribute of the core schema will be
// returned, so that expensive ones (a user's groups, a group's members) are loaded only
// when needed.
func (p projection) wants(name string) bool {
	if p.explicit {
		for _, s := range p.include {
			if strings.EqualFold(s.attr.Name, name) && s.schema == p.rt.Core {
				return true
			}
		}
		return false
	}
	for _, s := range p.exclude {
		if strings.EqualFold(s.attr.Name, name) && s.schema == p.rt.Core && s.sub == nil {
			return false
		}
	}
	return true
}

// apply projects a full resource. id, schemas and meta (returned "always" here, as
// clients rely on meta.location and meta.version) survive any projection; returned
// "never" attributes are never in a resource to begin with.
func (p projection) apply(res map[string]any) map[string]any {
	if p.explicit {
		out := map[string]any{"schemas": res["schemas"], "id": res["id"]}
		if m, ok := res["meta"]; ok {
			out["meta"] = m
		}
		for _, s := range p.include {
			src := container(res, p.rt, s.schema, false)
			if src == nil {
				continue
			}
			v, ok := src[s.attr.Name]
			if !ok {
				continue
			}
			if s.filter != nil {
				sel := selectElems(s, v, true)
				if sel == nil {
					continue
				}
				v = sel
			}
			dst := container(out, p.rt, s.schema, true)
			if s.sub == nil {
				dst[s.attr.Name] = v
				continue
			}
			copySub(dst, s.attr, s.sub, v)
		}
		fixSchemas(out, p.rt)
		return out
	}
	for _, s := range p.exclude {
		if s.attr.Returned == retAlways || (s.sub != nil && s.sub.Returned == retAlways) {
			continue
		}
		c := container(res, p.rt, s.schema, false)
		if c == nil {
			continue
		}
		switch {
		case s.filter != nil && s.sub == nil:
			if rest := selectElems(s, c[s.attr.Name], false); rest != nil {
				c[s.attr.Name] = rest
			} else {
				delete(c, s.attr.Name)
			}
		case s.filter != nil:
			// Dropping a sub-attribute of some elements only: not worth the ambiguity.
		case s.sub == nil:
			delete(c, s.attr.Name)
		default:
			dropSub(c, s.attr, s.sub)
		}
		if s.schema != p.rt.Core && len(c) == 0 {
			delete(res, s.schema.ID)
		}
	}
	fixSchemas(res, p.rt)
	return res
}

// selectElems returns the elements of the multi-valued v that match s.filter (keep) or
// that do not (!keep), nil when none is left.
func selectElems(s attrSel, v any, keep bool) []any {
	list, _ := v.([]any)
	var out []any
	for _, x := range list {
		e, ok := x.(map[string]any)
		if !ok {
			continue
		}
		if match, err := evalElem(s.attr, s.filter, e); err == nil && match == keep {
			out = append(out, e)
		}
	}
	return out
}

func copySub(dst map[string]any, a, sub *Attribute, v any) {
	switch x := v.(type) {
	case map[string]any:
		if sv, ok := x[sub.Name]; ok {
			cur, _ := dst[a.Name].(map[string]any)
			if cur == nil {
				cur = map[string]any{}
			}
			cur[sub.Name] = sv
			dst[a.Name] = cur
		}
	case []any:
		// Several sub-attributes of one multi-valued attribute combine per element.
		cur, _ := dst[a.Name].([]any)
		if cur == nil {
			cur = make([]any, len(x))
			for i := range cur {
				cur[i] = map[string]any{}
			}
		}
		for i, e := range x {
			if em, ok := e.(map[string]any); ok && i < len(cur) {
				if sv, ok := em[sub.Name]; ok {
					cur[i].(map[string]any)[sub.Name] = sv
				}
			}
		}
		dst[a.Name] = cur
	}
}

func dropSub(c map[string]any, a, sub *Attribute) {
	switch x := c[a.Name].(type) {
	case map[string]any:
		delete(x, sub.Name)
		if len(x) == 0 {
			delete(c, a.Name)
		}
	case []any:
		for _, e := range x {
			if em, ok := e.(map[string]any); ok {
				delete(em, sub.Name)
			}
		}
	}
}

// fixSchemas lists the core schema and only the extensions present in res.
func fixSchemas(res map[string]any, rt *resourceType) {
	schemas := []any{rt.Core.ID}
	for _, s := range rt.Extensions {
		if c := getMap(res, s.ID); len(c) > 0 {
			schemas = append(schemas, s.ID)
		} else {
			delete(res, s.ID)
		}
	}
	res["schemas"] = schemas
}
