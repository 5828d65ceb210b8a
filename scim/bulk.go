package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

type bulkOp struct {
	Method  string          `json:"method"`
	BulkID  string          `json:"bulkId,omitempty"`
	Version string          `json:"version,omitempty"`
	Path    string          `json:"path"`
	Data    json.RawMessage `json:"data,omitempty"`
}

type bulkRequest struct {
	Schemas      []string `json:"schemas"`
	FailOnErrors int      `json:"failOnErrors,omitempty"`
	Operations   []bulkOp `json:"Operations"`
}

type bulkResult struct {
	Method   string          `json:"method"`
	BulkID   string          `json:"bulkId,omitempty"`
	Version  string          `json:"version,omitempty"`
	Location string          `json:"location,omitempty"`
	Status   string          `json:"status"`
	Response json.RawMessage `json:"response,omitempty"`
}

var (
	bulkRefRE  = regexp.MustCompile(`"bulkId:([^"\\]+)"`)
	bulkPathRE = regexp.MustCompile(`^/(Users|Groups)(/[^/?#]+)?$`)
)

// bulk serves /Bulk (RFC 7644 §3.7). Operations run in order, each through the same
// handlers (and engine transactions) as a single request; an operation whose bulkId
// references are not resolved yet waits for a later pass, so forward references work.
func (h *handler) bulk(w http.ResponseWriter, r *http.Request) error {
	rc := rcOf(r)
	var req bulkRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if len(req.Operations) == 0 {
		return badRequest(scimInvalidSyntax, "a bulk request needs Operations")
	}
	if len(req.Operations) > h.opts.MaxBulkOperations {
		return errf(http.StatusRequestEntityTooLarge, "", "a bulk request may have at most %d operations", h.opts.MaxBulkOperations)
	}
	seen := map[string]bool{}
	for _, op := range req.Operations {
		if op.BulkID != "" {
			if seen[op.BulkID] {
				return badRequest(scimInvalidValue, "bulkId %q is used twice", truncate(op.BulkID))
			}
			seen[op.BulkID] = true
		}
	}
	order, cyclic := bulkOrder(req.Operations)
	ids := map[string]string{} // bulkId → created id
	results := make([]*bulkResult, len(req.Operations))
	errorsSeen := 0
	for _, i := range order {
		if req.FailOnErrors > 0 && errorsSeen >= req.FailOnErrors {
			break
		}
		op := req.Operations[i]
		if cyclic[i] {
			results[i] = bulkError(op, errf(http.StatusConflict, "", "circular bulkId references"))
		} else if path, data, unresolved := resolveBulkRefs(op, ids); unresolved != "" {
			results[i] = bulkError(op, errf(http.StatusConflict, "", "bulkId %q cannot be resolved", truncate(unresolved)))
		} else {
			results[i] = h.bulkOne(r.Context(), rc, op, path, data)
		}
		if results[i].Status[0] != '2' {
			errorsSeen++
		} else if op.BulkID != "" && results[i].Location != "" {
			ids[op.BulkID] = results[i].Location[strings.LastIndex(results[i].Location, "/")+1:]
		}
	}
	out := make([]*bulkResult, 0, len(results))
	for _, res := range results {
		if res != nil {
			out = append(out, res)
		}
	}
	h.write(w, http.StatusOK, map[string]any{"schemas": []string{URNBulkResponse}, "Operations": out})
	return nil
}

// bulkOrder orders operations so that each runs after the operations whose bulkId it
// references (RFC 7644 §3.7.2 allows forward references), otherwise keeping the request's
// order. Operations on a reference cycle are marked.
func bulkOrder(ops []bulkOp) ([]int, map[int]bool) {
	define := map[string]int{}
	for i, op := range ops {
		if op.BulkID != "" {
			define[op.BulkID] = i
		}
	}
	deps := make([][]int, len(ops))
	for i, op := range ops {
		refs := bulkRefRE.FindAllSubmatch(op.Data, -1)
		for _, m := range refs {
			if j, ok := define[string(m[1])]; ok && j != i {
				deps[i] = append(deps[i], j)
			}
		}
		for _, prefix := range []string{"/Users/bulkId:", "/Groups/bulkId:"} {
			if ref, ok := strings.CutPrefix(op.Path, prefix); ok {
				if j, ok := define[ref]; ok && j != i {
					deps[i] = append(deps[i], j)
				}
			}
		}
	}
	const (
		unvisited = iota
		visiting
		done
	)
	state := make([]int, len(ops))
	cyclic := map[int]bool{}
	var order []int
	var visit func(i int) bool
	visit = func(i int) bool {
		switch state[i] {
		case visiting:
			return false
		case done:
			return !cyclic[i]
		}
		state[i] = visiting
		ok := true
		for _, j := range deps[i] {
			if !visit(j) {
				ok = false
			}
		}
		state[i] = done
		if !ok {
			cyclic[i] = true
		}
		order = append(order, i)
		return ok
	}
	for i := range ops {
		visit(i)
	}
	return order, cyclic
}

func resolveBulkRefs(op bulkOp, ids map[string]string) (path string, data []byte, unresolved string) {
	path = op.Path
	if rest, ok := strings.CutPrefix(path, "/Users/bulkId:"); ok {
		if id, ok := ids[rest]; ok {
			path = "/Users/" + id
		} else {
			return "", nil, rest
		}
	}
	if rest, ok := strings.CutPrefix(path, "/Groups/bulkId:"); ok {
		if id, ok := ids[rest]; ok {
			path = "/Groups/" + id
		} else {
			return "", nil, rest
		}
	}
	data = bulkRefRE.ReplaceAllFunc(op.Data, func(m []byte) []byte {
		ref := string(bulkRefRE.FindSubmatch(m)[1])
		if id, ok := ids[ref]; ok {
			b, _ := json.Marshal(id)
			return b
		}
		if unresolved == "" {
			unresolved = ref
		}
		return m
	})
	return path, data, unresolved
}

func bulkError(op bulkOp, err *Error) *bulkResult {
	body, _ := json.Marshal(err.body())
	return &bulkResult{Method: op.Method, BulkID: op.BulkID, Status: fmt.Sprint(err.Status), Response: body}
}

func (h *handler) bulkOne(ctx context.Context, rc *reqCtx, op bulkOp, path string, data []byte) *bulkResult {
	method := strings.ToUpper(strings.TrimSpace(op.Method))
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return bulkError(op, badRequest(scimInvalidSyntax, "method must be POST, PUT, PATCH or DELETE"))
	}
	op.Method = method
	base := "/scim/v2/" + rc.tenant.Slug
	// Endpoint names in any case and a trailing slash, as on the top-level routes.
	path = strings.TrimPrefix(canonicalPath(base+path), base)
	m := bulkPathRE.FindStringSubmatch(path)
	if m == nil {
		return bulkError(op, badRequest(scimInvalidPath, "path must be /Users, /Groups or /Users/{id}, /Groups/{id}"))
	}
	if (method == http.MethodPost) != (m[2] == "") {
		return bulkError(op, badRequest(scimInvalidPath, "POST goes to a collection, PUT, PATCH and DELETE to a resource"))
	}
	if method == http.MethodPost && op.BulkID == "" {
		return bulkError(op, badRequest(scimInvalidSyntax, "a POST operation needs a bulkId"))
	}
	sub := *rc
	sub.bulk = true
	req, err := http.NewRequestWithContext(context.WithValue(ctx, ctxKey{}, &sub), method, base+path, bytes.NewReader(data))
	if err != nil {
		return bulkError(op, badRequest(scimInvalidPath, "invalid path"))
	}
	req.Header.Set("Content-Type", contentTypeSCIM)
	if op.Version != "" {
		req.Header.Set("If-Match", op.Version)
	}
	rec := &recorder{header: http.Header{}}
	h.dispatch(rec, req)
	res := &bulkResult{Method: method, BulkID: op.BulkID, Status: fmt.Sprint(rec.status), Version: rec.header.Get("ETag")}
	if rec.status >= 200 && rec.status < 300 {
		if loc := rec.header.Get("Location"); loc != "" {
			res.Location = loc
		} else if method != http.MethodPost {
			res.Location = rc.loc + path
		}
		if method == http.MethodDelete {
			res.Version = ""
		}
		return res
	}
	res.Response = json.RawMessage(bytes.TrimSpace(rec.body.Bytes()))
	return res
}

// recorder captures a sub-request's response inside /Bulk.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (rw *recorder) Header() http.Header { return rw.header }
func (rw *recorder) WriteHeader(code int) {
	if rw.status == 0 {
		rw.status = code
	}
}
func (rw *recorder) Write(b []byte) (int, error) {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	return rw.body.Write(b)
}
