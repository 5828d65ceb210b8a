package scim

import (
	"net/http"
	"strings"
)

func (h *handler) discoveryGET(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet {
		h.writeError(w, r, methodNotAllowed(w, "GET"))
		return false
	}
	return true
}

// serviceProviderConfig tells what this server really does (RFC 7643 §5): every feature
// listed as supported is implemented and tested here.
func (h *handler) serviceProviderConfig(w http.ResponseWriter, r *http.Request) {
	if !h.discoveryGET(w, r) {
		return
	}
	rc := rcOf(r)
	h.write(w, http.StatusOK, map[string]any{
		"schemas":        []string{URNServiceProvider},
		"patch":          map[string]any{"supported": true},
		"bulk":           map[string]any{"supported": true, "maxOperations": h.opts.MaxBulkOperations, "maxPayloadSize": h.opts.MaxBulkBytes},
		"filter":         map[string]any{"supported": true, "maxResults": h.opts.MaxPageSize},
		"changePassword": map[string]any{"supported": false},
		"sort":           map[string]any{"supported": true},
		"etag":           map[string]any{"supported": true},
		"pagination": map[string]any{"cursor": true, "index": true, "defaultPaginationMethod": "index",
			"defaultPageSize": h.opts.DefaultPageSize, "maxPageSize": h.opts.MaxPageSize},
		"authenticationSchemes": []any{map[string]any{
			"type": "oauthbearertoken", "name": "Bearer token", "primary": true,
			"description": "A per-tenant SCIM token (seatbridge token create --kind scim) sent as Authorization: Bearer.",
		}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": rc.loc + "/ServiceProviderConfig"},
	})
}

func schemaResource(s *Schema, loc string) map[string]any {
	return map[string]any{
		"schemas": []string{URNSchema}, "id": s.ID, "name": s.Name, "description": s.Description, "attributes": s.Attributes,
		"meta": map[string]any{"resourceType": "Schema", "location": loc + "/Schemas/" + s.ID},
	}
}

var allSchemas = []*Schema{userSchema, enterpriseSchema, groupSchema}

func (h *handler) schemas(w http.ResponseWriter, r *http.Request) {
	if !h.discoveryGET(w, r) {
		return
	}
	rc := rcOf(r)
	if id := r.PathValue("id"); id != "" {
		for _, s := range allSchemas {
			if strings.EqualFold(s.ID, id) {
				h.write(w, http.StatusOK, schemaResource(s, rc.loc))
				return
			}
		}
		h.writeError(w, r, errf(http.StatusNotFound, "", "no such schema"))
		return
	}
	var res []any
	for _, s := range allSchemas {
		res = append(res, schemaResource(s, rc.loc))
	}
	h.write(w, http.StatusOK, listResponse{Schemas: []string{URNListResponse}, TotalResults: len(res), ItemsPerPage: len(res), StartIndex: 1, Resources: res})
}

func resourceTypeResource(rt *resourceType, loc string) map[string]any {
	ext := []any{}
	for _, s := range rt.Extensions {
		ext = append(ext, map[string]any{"schema": s.ID, "required": false})
	}
	m := map[string]any{
		"schemas": []string{URNResourceType}, "id": rt.Name, "name": rt.Name, "endpoint": rt.Endpoint,
		"description": rt.Core.Description, "schema": rt.Core.ID,
		"meta": map[string]any{"resourceType": "ResourceType", "location": loc + "/ResourceTypes/" + rt.Name},
	}
	if len(ext) > 0 {
		m["schemaExtensions"] = ext
	}
	return m
}

func (h *handler) resourceTypes(w http.ResponseWriter, r *http.Request) {
	if !h.discoveryGET(w, r) {
		return
	}
	rc := rcOf(r)
	types := []*resourceType{userType, groupType}
	if id := r.PathValue("id"); id != "" {
		for _, rt := range types {
			if strings.EqualFold(rt.Name, id) {
				h.write(w, http.StatusOK, resourceTypeResource(rt, rc.loc))
				return
			}
		}
		h.writeError(w, r, errf(http.StatusNotFound, "", "no such resource type"))
		return
	}
	var res []any
	for _, rt := range types {
		res = append(res, resourceTypeResource(rt, rc.loc))
	}
	h.write(w, http.StatusOK, listResponse{Schemas: []string{URNListResponse}, TotalResults: len(res), ItemsPerPage: len(res), StartIndex: 1, Resources: res})
}
