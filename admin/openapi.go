package admin

import (
	_ "embed"
	"net/http"

	"github.com/seatbridge/seatbridge/provisioning"
)

// openAPIDoc describes this API; TestOpenAPIMatchesRoutes keeps it equal to the route table.
//
//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns the embedded OpenAPI 3 document.
func OpenAPI() []byte { return append([]byte(nil), openAPIDoc...) }

func (a *API) openAPI(w http.ResponseWriter, r *http.Request, _ *provisioning.Principal) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(openAPIDoc)
	return nil
}
