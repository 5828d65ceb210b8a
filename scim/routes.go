package scim

import (
	"net/http"
	"slices"
	"strings"
)

// base is where a tenant's SCIM service lives; {tenant} is its slug.
const base = "/scim/v2/{tenant}"

// route is one endpoint of the route table: a method ("" for every method), a path below
// base and its handler. Handlers return an error; serve turns it into a SCIM error once.
type route struct {
	method, path string
	h            func(http.ResponseWriter, *http.Request) error
}

// table is the SCIM service, by resource: users, groups, search across both, bulk and
// discovery. Each path's methods are listed here and only here: dispatch answers the
// others with a SCIM 405 and an Allow header built from this table.
func (h *handler) table() []route {
	return []route{
		// users (users.go)
		{"GET", "/Users", h.listOf(userType)},
		{"POST", "/Users", h.createUser},
		{"POST", "/Users/.search", h.searchOf(userType)},
		{"GET", "/Users/{id}", withID(h.getUser)},
		{"PUT", "/Users/{id}", withID(h.putUser)},
		{"PATCH", "/Users/{id}", withID(h.patchUser)},
		{"DELETE", "/Users/{id}", withID(h.deleteOf(h.p.DeleteUser))},
		{"", "/Me", h.me},

		// groups (groups.go)
		{"GET", "/Groups", h.listOf(groupType)},
		{"POST", "/Groups", h.createGroup},
		{"POST", "/Groups/.search", h.searchOf(groupType)},
		{"GET", "/Groups/{id}", withID(h.getGroup)},
		{"PUT", "/Groups/{id}", withID(h.putGroup)},
		{"PATCH", "/Groups/{id}", withID(h.patchGroup)},
		{"DELETE", "/Groups/{id}", withID(h.deleteOf(h.p.DeleteGroup))},

		// search across resource types (list.go) and bulk (bulk.go)
		{"POST", "/.search", h.searchAll},
		{"POST", "/Bulk", h.bulk},

		// discovery (discovery.go)
		{"GET", "/ServiceProviderConfig", h.serviceProviderConfig},
		{"GET", "/Schemas", h.schemas},
		{"GET", "/Schemas/{id}", h.schemas},
		{"GET", "/ResourceTypes", h.resourceTypes},
		{"GET", "/ResourceTypes/{id}", h.resourceTypes},
	}
}

// unknownPaths is the pattern of a path under a tenant that names no endpoint.
const unknownPaths = base + "/"

// mount registers the route table: each route on mux with its method pattern, and each
// path once on paths (every method) with the methods the table gives it, for dispatch.
// Method patterns alone cannot say 405 here: "GET /Users/{id}" also matches
// GET /Users/.search, which must be refused, not read as a user id.
func (h *handler) mount() {
	h.mux, h.paths, h.allow = http.NewServeMux(), http.NewServeMux(), map[string][]string{}
	for _, rt := range h.table() {
		pattern := base + rt.path
		if _, seen := h.allow[pattern]; !seen {
			h.paths.Handle(pattern, http.NotFoundHandler())
		}
		h.allow[pattern] = append(h.allow[pattern], rt.method)
		if rt.method != "" {
			pattern = rt.method + " " + pattern
		}
		h.mux.Handle(pattern, h.serve(rt.h))
	}
	notFound := h.serve(func(http.ResponseWriter, *http.Request) error {
		return errf(http.StatusNotFound, "", "no such endpoint")
	})
	h.paths.Handle(unknownPaths, notFound)
	h.paths.Handle("/", notFound)
}

// routeOf is the path pattern of the endpoint r names (without method), for the access
// log and dispatch: unknownPaths or "/" when it names none.
func (h *handler) routeOf(r *http.Request) (http.Handler, string) {
	return h.paths.Handler(r)
}

// dispatch serves r (its path already canonical) through the route table: a path the
// table does not list is a SCIM 404, a method it does not list for the path a SCIM 405
// with Allow (RFC 7644 §3.12, RFC 9110 §15.5.6).
func (h *handler) dispatch(w http.ResponseWriter, r *http.Request) {
	other, pattern := h.routeOf(r)
	methods, ok := h.allow[pattern]
	if !ok {
		other.ServeHTTP(w, r) // the 404, or the mux's redirect to a cleaned path
		return
	}
	if !slices.Contains(methods, "") && !slices.Contains(methods, r.Method) {
		allow := strings.Join(methods, ", ")
		w.Header().Set("Allow", allow)
		h.writeError(w, r, errf(http.StatusMethodNotAllowed, "", "method not allowed; use %s", allow))
		return
	}
	h.mux.ServeHTTP(w, r)
}

// serve adapts a handler of the table: its error becomes the SCIM error response.
func (h *handler) serve(fn func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			h.writeError(w, r, err)
		}
	})
}

// withID adapts a handler of one resource: the {id} of the path, screened by validID
// (an id no server could have issued is a 404 here rather than a database error).
func withID(fn func(http.ResponseWriter, *http.Request, string) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		if !validID(id) {
			return errf(http.StatusNotFound, "", "resource not found")
		}
		return fn(w, r, id)
	}
}

// validID screens ids from the URL.
func validID(id string) bool { return id != "" && len(id) <= 128 && storableText(id) }
