package scim

import (
	"net/http"
	"strings"

	"github.com/seatbridge/seatbridge/provisioning"
)

func projectionOf(rt *resourceType, r *http.Request) projection {
	q := r.URL.Query()
	return newProjection(rt, q.Get("attributes"), q.Get("excludedAttributes"))
}

func (h *handler) writeUser(w http.ResponseWriter, r *http.Request, status int, u *provisioning.User) {
	h.writeResource(w, r, userType, status, u.ID, u.Version, func(loc string) map[string]any { return userResource(u, loc) })
}

func (h *handler) getUser(w http.ResponseWriter, r *http.Request, id string) error {
	rc := rcOf(r)
	u, err := h.p.GetUser(r.Context(), rc.tenant.ID, id)
	if err != nil {
		return err
	}
	h.writeUser(w, r, http.StatusOK, u)
	return nil
}

func decodeResource(r *http.Request, rt *resourceType) (map[string]any, error) {
	m, _, err := decodeResourceRaw(r, rt)
	return m, err
}

// decodeWith decodes a created or replaced resource, which must carry the string attribute
// required (userName, displayName).
func decodeWith(r *http.Request, rt *resourceType, required string) (map[string]any, error) {
	m, err := decodeResource(r, rt)
	if err != nil {
		return nil, err
	}
	if getStr(m, required) == "" {
		return nil, badRequest(scimInvalidValue, "%s is required", required)
	}
	return m, nil
}

func decodeResourceRaw(r *http.Request, rt *resourceType) (norm, raw map[string]any, err error) {
	if err := decodeJSON(r, &raw); err != nil {
		return nil, nil, err
	}
	if raw == nil {
		return nil, nil, badRequest(scimInvalidSyntax, "the request body must be a JSON object")
	}
	if err := checkSchemas(rt, raw); err != nil {
		return nil, nil, err
	}
	norm, err = normalizeResource(rt, raw)
	return norm, raw, err
}

// checkSchemas refuses a POST or PUT body whose schemas names the core schema of another
// resource type (a Group on /Users): the client is sending the wrong resource (RFC 7644
// §3.3, §3.5.1). A body without schemas is accepted, as clients send it, and so are URNs
// this server does not define (their attributes are ignored like unknown attributes).
func checkSchemas(rt *resourceType, raw map[string]any) error {
	for k, v := range raw {
		if !strings.EqualFold(k, "schemas") || v == nil {
			continue
		}
		list, ok := v.([]any)
		if !ok {
			return badRequest(scimInvalidSyntax, "schemas must be an array of schema URNs")
		}
		for _, x := range list {
			urn, ok := x.(string)
			if !ok {
				return badRequest(scimInvalidSyntax, "schemas must be an array of schema URNs")
			}
			for _, other := range []*resourceType{userType, groupType} {
				if other != rt && strings.EqualFold(urn, other.Core.ID) {
					return badRequest(scimInvalidSyntax, "schemas names %s, the schema of a %s, on the %s endpoint", other.Core.ID, other.Name, rt.Endpoint)
				}
			}
		}
	}
	return nil
}

func (h *handler) createUser(w http.ResponseWriter, r *http.Request) error {
	rc := rcOf(r)
	m, err := decodeWith(r, userType, "userName")
	if err != nil {
		return err
	}
	u := &provisioning.User{Source: provisioning.SourceSCIM, ManagedByIdP: true, Status: provisioning.StatusActive}
	applyUserResource(m, u)
	if active, ok := activeOf(m); ok {
		applyActive(u, active)
	}
	created, err := h.p.CreateUser(r.Context(), rc.actor, rc.tenant.ID, u)
	if err != nil {
		return err
	}
	h.writeUser(w, r, http.StatusCreated, created)
	return nil
}

func (h *handler) putUser(w http.ResponseWriter, r *http.Request, id string) error {
	ver, err := ifMatch(r)
	if err != nil {
		return err
	}
	m, err := decodeWith(r, userType, "userName")
	if err != nil {
		return err
	}
	return h.updateUser(w, r, id, ver, func(*provisioning.User) (map[string]any, error) { return m, nil })
}

func (h *handler) patchUser(w http.ResponseWriter, r *http.Request, id string) error {
	ver, err := ifMatch(r)
	if err != nil {
		return err
	}
	req, err := decodePatch(r)
	if err != nil {
		return err
	}
	loc := rcOf(r).loc
	return h.updateUser(w, r, id, ver, func(u *provisioning.User) (map[string]any, error) {
		m := userResource(u, loc)
		return m, applyUserPatch(m, u.ID, req.Operations)
	})
}

// updateUser changes user id in one engine transaction into the resource target returns
// (a PUT's body, or the user's own resource with a PATCH applied) and answers with it.
func (h *handler) updateUser(w http.ResponseWriter, r *http.Request, id string, ver int64,
	target func(*provisioning.User) (map[string]any, error)) error {
	rc := rcOf(r)
	u, err := h.p.UpdateUser(r.Context(), rc.actor, rc.tenant.ID, id, ver, func(u *provisioning.User) error {
		m, err := target(u)
		if err != nil {
			return err
		}
		applyUserResource(m, u)
		// A PUT without active leaves the status alone: Okta's PUTs omit it.
		if active, ok := activeOf(m); ok {
			applyActive(u, active)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if projectionOf(userType, r).wants("groups") && u.Groups == nil {
		// The groups are a read view: fetch them after the write rather than trust the
		// update's copy.
		if u, err = h.p.GetUser(r.Context(), rc.tenant.ID, u.ID); err != nil {
			return err
		}
	}
	h.writeUser(w, r, http.StatusOK, u)
	return nil
}

// me answers /Me, whatever the method: a SCIM token does not represent a user (RFC 7644
// §3.11 lets a provider not support it).
func (h *handler) me(http.ResponseWriter, *http.Request) error {
	return errf(http.StatusNotImplemented, "", "/Me is not supported: a SCIM token does not represent a user")
}
