package scim

import (
	"net/http"
	"strings"

	"github.com/seatbridge/seatbridge/provisioning"
)

func (h *handler) writeGroup(w http.ResponseWriter, r *http.Request, status int, g *provisioning.Group, withMembers bool) {
	h.writeResource(w, r, groupType, status, g.ID, g.Version, func(loc string) map[string]any { return groupResource(g, loc, withMembers) })
}

func hasKeyFold(m map[string]any, key string) bool {
	for k := range m {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

func groupMembersIn(m map[string]any) ([]string, bool, error) {
	raw, present := m["members"]
	if !present {
		return nil, false, nil
	}
	ids, err := memberIDs(raw)
	return ids, true, err
}

func (h *handler) createGroup(w http.ResponseWriter, r *http.Request) error {
	rc := rcOf(r)
	m, err := decodeWith(r, groupType, "displayName")
	if err != nil {
		return err
	}
	ids, _, err := groupMembersIn(m)
	if err != nil {
		return err
	}
	g := &provisioning.Group{DisplayName: getStr(m, "displayName"), ExternalID: getStr(m, "externalId")}
	for _, id := range ids {
		g.Members = append(g.Members, provisioning.GroupMember{UserID: id})
	}
	created, err := h.p.CreateGroup(r.Context(), rc.actor, rc.tenant.ID, g)
	if err != nil {
		return err
	}
	h.writeGroup(w, r, http.StatusCreated, created, true)
	return nil
}

func (h *handler) getGroup(w http.ResponseWriter, r *http.Request, id string) error {
	rc := rcOf(r)
	withMembers := projectionOf(groupType, r).wants("members")
	g, err := h.p.GetGroup(r.Context(), rc.tenant.ID, id, withMembers)
	if err != nil {
		return err
	}
	h.writeGroup(w, r, http.StatusOK, g, withMembers)
	return nil
}

func (h *handler) putGroup(w http.ResponseWriter, r *http.Request, id string) error {
	rc := rcOf(r)
	ver, err := ifMatch(r)
	if err != nil {
		return err
	}
	m, raw, err := decodeResourceRaw(r, groupType)
	if err != nil {
		return err
	}
	name := getStr(m, "displayName")
	if name == "" {
		return badRequest(scimInvalidValue, "displayName is required")
	}
	ops := []provisioning.GroupOp{{Kind: provisioning.GroupSetDisplayName, Value: name}, {Kind: provisioning.GroupSetExternalID, Value: getStr(m, "externalId")}}
	// normalizeResource drops an empty members list, so look at the raw presence too:
	// "members": [] in a PUT empties the group, an absent members leaves it alone.
	ids, present, err := groupMembersIn(m)
	if err != nil {
		return err
	}
	switch {
	case present && len(ids) > 0:
		ops = append(ops, provisioning.GroupOp{Kind: provisioning.GroupReplaceMembers, Members: ids})
	case hasKeyFold(raw, "members"):
		ops = append(ops, provisioning.GroupOp{Kind: provisioning.GroupRemoveAllMember})
	}
	withMembers := projectionOf(groupType, r).wants("members")
	g, err := h.p.PatchGroup(r.Context(), rc.actor, rc.tenant.ID, id, ver, ops, withMembers)
	if err != nil {
		return err
	}
	h.writeGroup(w, r, http.StatusOK, g, withMembers)
	return nil
}

func (h *handler) patchGroup(w http.ResponseWriter, r *http.Request, id string) error {
	rc := rcOf(r)
	ver, err := ifMatch(r)
	if err != nil {
		return err
	}
	req, err := decodePatch(r)
	if err != nil {
		return err
	}
	ops, err := groupPatch(id, req.Operations)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	// RFC 7644 §3.5.2: 204 unless the client asked for attributes back; Okta and Entra
	// both accept 204 for group PATCH, and it spares loading a large member list.
	wantBody := q.Has("attributes") || q.Has("excludedAttributes") || rc.bulk
	withMembers := wantBody && projectionOf(groupType, r).wants("members")
	g, err := h.p.PatchGroup(r.Context(), rc.actor, rc.tenant.ID, id, ver, ops, withMembers)
	if err != nil {
		return err
	}
	if !wantBody {
		w.Header().Set("ETag", etag(g.Version))
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	h.writeGroup(w, r, http.StatusOK, g, withMembers)
	return nil
}
