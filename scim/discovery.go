package scim

import (
	"net/http"
	"strings"
)

// serviceProviderConfig tells what this server really does (RFC 7643 §5): every feature
// listed as supported is implemented and tested here.
func (h *handler) serviceProviderConfig(w http.ResponseWriter, r *http.Request) error {
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
	return nil
}

func schemaResource(s *Schema, loc string) map[string]any {
	return map[string]any{
		"schemas": []string{URNSchema}, "id": s.ID, "name": s.Name, "description": s.Description, "attributes": s.Attributes,
		"meta": map[string]any{"resourceType": "Schema", "location": loc + "/Schemas/" + s.ID},
	}
}

var allSchemas = []*Schema{userSchema, enterpriseSchema, groupSchema}

// schemas serves /Schemas and /Schemas/{id} (RFC 7644 §4).
func (h *handler) schemas(w http.ResponseWriter, r *http.Request) error {
	return discovery(h, w, r, allSchemas, func(s *Schema) string { return s.ID }, schemaResource, "no such schema")
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

// resourceTypes serves /ResourceTypes and /ResourceTypes/{id} (RFC 7644 §4).
func (h *handler) resourceTypes(w http.ResponseWriter, r *http.Request) error {
	return discovery(h, w, r, []*resourceType{userType, groupType}, func(rt *resourceType) string { return rt.Name },
		resourceTypeResource, "no such resource type")
}

// discovery answers a discovery endpoint: the item whose id is the path's {id} (compared
// case-insensitively), or all of them as a list response.
func discovery[T any](h *handler, w http.ResponseWriter, r *http.Request, items []T, id func(T) string,
	resource func(T, string) map[string]any, notFound string) error {
	rc := rcOf(r)
	if want := r.PathValue("id"); want != "" {
		for _, it := range items {
			if strings.EqualFold(id(it), want) {
				h.write(w, http.StatusOK, resource(it, rc.loc))
				return nil
			}
		}
		return errf(http.StatusNotFound, "", "%s", notFound)
	}
	res := make([]any, 0, len(items))
	for _, it := range items {
		res = append(res, resource(it, rc.loc))
	}
	h.write(w, http.StatusOK, listResponse{Schemas: []string{URNListResponse}, TotalResults: len(res), ItemsPerPage: len(res), StartIndex: 1, Resources: res})
	return nil
}
