package scim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/seatbridge/seatbridge/provisioning"
)

// listParams are the query parameters of a list or the body of a search (RFC 7644
// §3.4.2, §3.4.3; cursor from RFC 9865).
type listParams struct {
	Schemas            []string `json:"schemas,omitempty"`
	Attributes         []string `json:"attributes,omitempty"`
	ExcludedAttributes []string `json:"excludedAttributes,omitempty"`
	Filter             string   `json:"filter,omitempty"`
	SortBy             string   `json:"sortBy,omitempty"`
	SortOrder          string   `json:"sortOrder,omitempty"`
	StartIndex         *int     `json:"startIndex,omitempty"`
	Count              *int     `json:"count,omitempty"`
	Cursor             *string  `json:"cursor,omitempty"`

	bad string // a malformed number in the query
}

func queryParams(r *http.Request) listParams {
	q := r.URL.Query()
	p := listParams{Filter: q.Get("filter"), SortBy: q.Get("sortBy"), SortOrder: q.Get("sortOrder")}
	if a := q.Get("attributes"); a != "" {
		p.Attributes = []string{a}
	}
	if a := q.Get("excludedAttributes"); a != "" {
		p.ExcludedAttributes = []string{a}
	}
	for name, dst := range map[string]**int{"startIndex": &p.StartIndex, "count": &p.Count} {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				p.bad = name
				continue
			}
			*dst = &n
		}
	}
	if q.Has("cursor") {
		c := q.Get("cursor")
		p.Cursor = &c
	}
	return p
}

// listOf serves GET on a collection (RFC 7644 §3.4.2).
func (h *handler) listOf(rt *resourceType) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		return h.list(w, r, rt, queryParams(r))
	}
}

// searchOf serves POST {collection}/.search (RFC 7644 §3.4.3).
func (h *handler) searchOf(rt *resourceType) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		var p listParams
		if err := decodeJSON(r, &p); err != nil {
			return err
		}
		return h.list(w, r, rt, p)
	}
}

// pageBounds is the 1-based start index and the count of a list request, count capped
// at MaxPageSize.
func (h *handler) pageBounds(p listParams) (start, count int) {
	start, count = 1, h.opts.DefaultPageSize
	if p.StartIndex != nil && *p.StartIndex > 1 {
		start = *p.StartIndex
	}
	if p.Count != nil {
		count = max(0, min(*p.Count, h.opts.MaxPageSize))
	}
	return start, count
}

// fetcher reads one chunk of a list page for readPage: the resources projected, the total
// (unless noTotal) and the cursor after the chunk.
type fetcher func(offset, limit int, after string, noTotal bool) (items []any, total int, next string, err error)

// fetchOf reads resources of type rt matching f in the order of sort.
func (h *handler) fetchOf(r *http.Request, rt *resourceType, f provisioning.Filter, sort provisioning.SortKey, proj projection) fetcher {
	rc := rcOf(r)
	if rt == userType {
		return func(offset, limit int, after string, noTotal bool) ([]any, int, string, error) {
			page, err := h.p.ListUsers(r.Context(), rc.tenant.ID, provisioning.UserQuery{Filter: f, Sort: sort, Offset: offset,
				Limit: limit, After: after, WithGroups: proj.wants("groups"), NoTotal: noTotal})
			if err != nil {
				return nil, 0, "", err
			}
			items := make([]any, 0, len(page.Users))
			for i := range page.Users {
				items = append(items, proj.apply(userResource(&page.Users[i], rc.loc)))
			}
			return items, page.Total, page.Next, nil
		}
	}
	withMembers := proj.wants("members")
	return func(offset, limit int, after string, noTotal bool) ([]any, int, string, error) {
		page, err := h.p.ListGroups(r.Context(), rc.tenant.ID, provisioning.GroupQuery{Filter: f, Sort: sort, Offset: offset,
			Limit: limit, After: after, WithMembers: withMembers, NoTotal: noTotal})
		if err != nil {
			return nil, 0, "", err
		}
		items := make([]any, 0, len(page.Groups))
		for i := range page.Groups {
			items = append(items, proj.apply(groupResource(&page.Groups[i], rc.loc, withMembers)))
		}
		return items, page.Total, page.Next, nil
	}
}

// searchAll serves POST /.search across Users and Groups (RFC 7644 §3.4.3): users come
// first, then groups, each in id order. A filter naming an attribute one resource type
// lacks matches nothing of that type, as an unassigned attribute would.
func (h *handler) searchAll(w http.ResponseWriter, r *http.Request) error {
	var p listParams
	if err := decodeJSON(r, &p); err != nil {
		return err
	}
	if p.Cursor != nil || p.SortBy != "" {
		return badRequest(scimInvalidValue, "a search across resource types supports neither cursor nor sortBy")
	}
	filters := map[*resourceType]provisioning.Filter{}
	skip := map[*resourceType]bool{}
	if strings.TrimSpace(p.Filter) != "" {
		var firstErr error
		for _, rt := range []*resourceType{userType, groupType} {
			f, err := translateFilter(rt, p.Filter)
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				skip[rt] = true
				continue
			}
			filters[rt] = f
		}
		if len(skip) == 2 {
			return firstErr
		}
	}
	start, count := h.pageBounds(p)
	attrs, excl := strings.Join(p.Attributes, ","), strings.Join(p.ExcludedAttributes, ",")
	resp := listResponse{Schemas: []string{URNListResponse}, StartIndex: start, Resources: []any{}}
	offset := start - 1
	users := 0
	// Users come first, then groups, each read in chunks and bounded by MaxListBytes as
	// in list; a page cut short by the byte bound among the users holds no groups.
	if !skip[userType] {
		fetch := h.fetchOf(r, userType, filters[userType], provisioning.SortKey{}, newProjection(userType, attrs, excl))
		if err := h.readPage(&resp, fetch, offset, count, ""); err != nil {
			return err
		}
		users = resp.TotalResults
	}
	if !skip[groupType] {
		fetch := h.fetchOf(r, groupType, filters[groupType], provisioning.SortKey{}, newProjection(groupType, attrs, excl))
		limit := count - resp.n
		if offset+resp.n < users || resp.size >= h.opts.MaxListBytes {
			limit = 0 // the page ends among the users: only count the groups
		}
		groups := listResponse{}
		if err := h.readPage(&groups, fetch, max(0, offset-users), limit, ""); err != nil {
			return err
		}
		if groups.n > 0 {
			if resp.n > 0 {
				resp.encoded = append(resp.encoded, ',')
			}
			resp.encoded = append(resp.encoded, groups.encoded...)
			resp.n += groups.n
		}
		resp.TotalResults = users + groups.TotalResults
	}
	resp.ItemsPerPage, resp.NextCursor = resp.n, ""
	if count == 0 || resp.n == 0 {
		return h.writeEmptyList(w, resp)
	}
	h.writeList(w, resp)
	return nil
}

// listResponse is the ListResponse message (RFC 7644 §3.4.2; nextCursor RFC 9865).
type listResponse struct {
	Schemas      []string `json:"schemas"`
	TotalResults int      `json:"totalResults"`
	ItemsPerPage int      `json:"itemsPerPage"`
	StartIndex   int      `json:"startIndex,omitempty"`
	NextCursor   string   `json:"nextCursor,omitempty"`
	Resources    []any    `json:"Resources,omitempty"`
	// encoded holds n resources already encoded, comma-separated, for writeList: each is
	// encoded once, as it is read.
	encoded []byte
	n       int
	size    int // bytes of the encoded resources
}

// writeList writes a list response whose resources readPage encoded.
func (h *handler) writeList(w http.ResponseWriter, resp listResponse) {
	resp.Resources = nil
	head, err := json.Marshal(resp)
	if err != nil || resp.n == 0 {
		h.write(w, http.StatusOK, resp)
		return
	}
	body := make([]byte, 0, len(head)+len(resp.encoded)+20)
	body = append(body, head[:len(head)-1]...) // without the closing brace
	body = append(body, `,"Resources":[`...)
	body = append(body, resp.encoded...)
	body = append(body, "]}\n"...)
	w.Header().Set("Content-Type", contentTypeSCIM+"; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func (h *handler) list(w http.ResponseWriter, r *http.Request, rt *resourceType, p listParams) error {
	if p.bad != "" {
		return badRequest(scimInvalidValue, "%s must be an integer", p.bad)
	}
	var f provisioning.Filter
	if strings.TrimSpace(p.Filter) != "" {
		var err error
		if f, err = translateFilter(rt, p.Filter); err != nil {
			return err
		}
	}
	sort, err := sortKey(rt, p.SortBy, p.SortOrder)
	if err != nil {
		return err
	}
	start, count := h.pageBounds(p)
	after := ""
	if p.Cursor != nil {
		if p.StartIndex != nil {
			return badRequest(scimInvalidValue, "use either startIndex or cursor, not both")
		}
		after = *p.Cursor
	}
	proj := newProjection(rt, strings.Join(p.Attributes, ","), strings.Join(p.ExcludedAttributes, ","))
	resp := listResponse{Schemas: []string{URNListResponse}, Resources: []any{}}
	if p.Cursor == nil {
		resp.StartIndex = start
	}
	// The page is read in chunks and encoded as it comes, and ends early (at a chunk's
	// end, where the store has a cursor) once it holds MaxListBytes: a page of large users
	// must not take memory in proportion to count times their size. itemsPerPage tells the
	// client where the next page starts (RFC 7644 §3.4.2.4 lets a provider return fewer).
	fetch := h.fetchOf(r, rt, f, sort, proj)
	if err := h.readPage(&resp, fetch, start-1, count, after); err != nil {
		return listError(err, after)
	}
	if count == 0 || p.Cursor == nil {
		resp.NextCursor = ""
	}
	resp.ItemsPerPage = resp.n
	if count == 0 || resp.n == 0 {
		// "Resources": [] rather than an absent member, also for count=0 (RFC 7644
		// §3.4.2: Resources is REQUIRED when totalResults is non-zero): clients index into
		// it.
		return h.writeEmptyList(w, resp)
	}
	h.writeList(w, resp)
	return nil
}

// firstListChunk is how many resources the first chunk of a list page reads; later chunks
// are sized from the bytes the first took, so pages of small resources take two queries.
const firstListChunk = 25

// readPage fills resp with up to count resources from offset (or after the cursor),
// chunk by chunk, each resource encoded as it arrives, until count or MaxListBytes is
// reached. Only the first chunk counts the total.
func (h *handler) readPage(resp *listResponse, fetch fetcher, offset, count int, after string) error {
	if count == 0 {
		_, total, _, err := fetch(offset, 0, after, false)
		resp.TotalResults = total
		return err
	}
	chunk := min(count, firstListChunk)
	for got := 0; ; {
		items, total, next, err := fetch(offset+got, chunk, after, got > 0)
		if err != nil {
			return err
		}
		if got == 0 {
			resp.TotalResults = total
		}
		for _, it := range items {
			b, err := json.Marshal(it)
			if err != nil {
				return fmt.Errorf("encode resource: %w", err)
			}
			if resp.n > 0 {
				resp.encoded = append(resp.encoded, ',')
			}
			resp.encoded = append(resp.encoded, b...)
			resp.n++
			resp.size += len(b)
		}
		got += len(items)
		resp.NextCursor = next
		if len(items) < chunk || got >= count || resp.size >= h.opts.MaxListBytes || (after != "" && next == "") {
			return nil
		}
		if after != "" {
			after = next
		}
		// Size the next chunk to fill the byte budget at the average resource size so far.
		avg := max(1, resp.size/got)
		chunk = max(1, min(count-got, (h.opts.MaxListBytes-resp.size)/avg+1))
	}
}

// listError turns a cursor the store did not issue into invalidCursor.
func listError(err error, after string) error {
	if after != "" && errors.Is(err, provisioning.ErrBadCursor) {
		return badRequest(scimInvalidCursor, "the cursor is not valid (RFC 9865)")
	}
	return err
}

func (h *handler) writeEmptyList(w http.ResponseWriter, resp listResponse) error {
	out := map[string]any{"schemas": resp.Schemas, "totalResults": resp.TotalResults, "itemsPerPage": 0, "Resources": []any{}}
	if resp.StartIndex > 0 {
		out["startIndex"] = resp.StartIndex
	}
	h.write(w, http.StatusOK, out)
	return nil
}

func sortKey(rt *resourceType, by, order string) (provisioning.SortKey, error) {
	var k provisioning.SortKey
	switch strings.ToLower(strings.TrimSpace(order)) {
	case "", "ascending":
	case "descending":
		k.Descending = true
	default:
		return k, badRequest(scimInvalidValue, "sortOrder must be ascending or descending")
	}
	by = strings.TrimSpace(by)
	if by == "" {
		return k, nil
	}
	urn, rest := rt.splitURN(by)
	name, subName, _ := strings.Cut(rest, ".")
	_, a := rt.resolve(urn, name)
	if a != nil && subName != "" && !a.MultiValued {
		a = a.Sub(subName)
	}
	if a == nil || a.MultiValued || a.field == "" || a.Type == typeComplex || a.field == "meta.version" {
		return k, badRequest(scimInvalidValue, "cannot sort by %q", truncate(by))
	}
	k.Field = a.field
	// RFC 7644 §3.4.2.3: resources without a value come last when ascending, first when
	// descending.
	k.MissingLast = true
	return k, nil
}

// recorder captures a sub-request's response inside /Bulk.
