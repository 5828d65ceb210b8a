package main

import (
	"net/http"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/scim"
)

// mountSCIM serves SCIM 2.0 at /scim/v2/{tenant}/….
func mountSCIM(mux *http.ServeMux, a *app) error {
	opts := scim.Options{
		BaseURL:           a.cfg.BaseURL,
		Logger:            a.log.With("door", "scim"),
		MaxBodyBytes:      a.cfg.SCIMMaxBody,
		MaxPageSize:       a.cfg.SCIMMaxPage,
		MaxBulkOperations: a.cfg.SCIMMaxBulk,
		RateLimit:         a.cfg.SCIMRatePerSec,
		RateBurst:         a.cfg.SCIMRateBurst,
		TenantRateLimit:   a.cfg.SCIMTenantRate,
		TenantRateBurst:   a.cfg.SCIMTenantBurst,
		AuthFailureRate:   a.cfg.SCIMAuthFailRate,
		AuthFailureBurst:  a.cfg.SCIMAuthFailBurst,
		MaxListBytes:      a.cfg.SCIMMaxListBytes,
		TrustForwardedFor: a.cfg.TrustForwardedFor,
	}
	if a.cfg.ProvisioningLogDays > 0 {
		l, err := provisioning.NewProvisioningLog(a.eng, 0)
		if err != nil {
			return err
		}
		a.provLog, opts.Log = l, l
	}
	mux.Handle("/scim/v2/", scim.NewHandler(a.eng, opts))
	return nil
}
