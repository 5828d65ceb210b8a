package main

import (
	"net/http"

	"github.com/seatbridge/seatbridge/admin"
)

// mountAdmin serves the admin JSON API under /api/v1. The store doubles as the state store
// through which access tokens of Seatbridge's OIDC provider resolve to sessions; the
// Accounts service (which needs the secret box to seal outgoing mail) serves invitations,
// local passwords and mail suppressions.
func mountAdmin(mux *http.ServeMux, a *app) error {
	acc, err := a.accounts()
	if err != nil {
		return err
	}
	box, err := a.secretBox()
	if err != nil {
		return err
	}
	wh, err := a.webhooks()
	if err != nil {
		return err
	}
	admin.New(a.eng, admin.Options{Logger: a.log.With("door", "admin"), States: a.db, Accounts: acc,
		Connections: newConnPreparer(box), Webhooks: wh}).Mount(mux)
	return nil
}
