package main

import (
	"net/http"

	"github.com/seatbridge/seatbridge/admin"
	"github.com/seatbridge/seatbridge/provisioning"
)

// adminServices are the engine services both admin doors (the JSON API and the console)
// are given beside the engine: Accounts (which needs the secret box to seal outgoing mail)
// for invitations, local passwords and mail suppressions; the SSO door's preparer for the
// connections they make; and webhooks.
type adminServices struct {
	acc   *provisioning.Accounts
	conns connPreparer
	wh    *provisioning.Webhooks
}

func (a *app) adminServices() (*adminServices, error) {
	acc, err := a.accounts()
	if err != nil {
		return nil, err
	}
	box, err := a.secretBox()
	if err != nil {
		return nil, err
	}
	wh, err := a.webhooks()
	if err != nil {
		return nil, err
	}
	return &adminServices{acc: acc, conns: newConnPreparer(box), wh: wh}, nil
}

// mountAdmin serves the admin JSON API under /api/v1. The store doubles as the state store
// through which access tokens of Seatbridge's OIDC provider resolve to sessions.
func mountAdmin(mux *http.ServeMux, a *app) error {
	s, err := a.adminServices()
	if err != nil {
		return err
	}
	admin.New(a.eng, admin.Options{Logger: a.log.With("door", "admin"), States: a.db, Accounts: s.acc,
		Connections: s.conns, Webhooks: s.wh}).Mount(mux)
	return nil
}
