package main

import (
	"context"
	"net/http"
)

// This file is the wiring of the binary, in one place each: the doors the server mounts,
// the workers it runs and the commands it offers. Nothing registers itself from init().

// mounts are the doors, in the order their routes are added to the server's mux.
func mounts() []func(mux *http.ServeMux, a *app) error {
	return []func(mux *http.ServeMux, a *app) error{
		mountAdmin,   // admin JSON API /api/v1 (admin.go)
		mountConsole, // admin web console and set-up wizard (console.go)
		mountSCIM,    // SCIM 2.0 (scim.go)
		mountSSO,     // the sign-in door (SAML / OIDC, password, invitations) and the OIDC provider (sso.go)
	}
}

// workers are the background loops of the server. Each runs until its context ends; all
// of them are safe to run on every replica at once.
func workers() []func(ctx context.Context, a *app) error {
	return []func(ctx context.Context, a *app) error{
		func(ctx context.Context, a *app) error { return runMailWorker(ctx, a, a.cfg.Mail) }, // mail outbox (invite.go)
		provisioningLogLoop, // provisioning log purge and flush (setup.go)
		purgeLoop,           // expired SSO state and replay entries (sso.go)
		runWebhookWorker,    // webhook fan-out and delivery (webhook.go)
		runLogoutSender,     // back-channel logouts (webhook.go)
		runNATSSink,         // optional NATS JetStream sink (webhook.go)
		statisticsLoop,      // PostgreSQL planner statistics of fast-growing tables (planner.go)
	}
}

// commandList is every CLI verb.
func commandList() []*command {
	return []*command{
		{name: "serve", summary: "run the HTTP server (SCIM, SSO, admin API)", run: runServe},
		{name: "migrate", summary: "create or update the database schema", run: runMigrate},
		{name: "seed", summary: "benchmark data: seed --tenant SLUG --users N [--prefix P] inserts synthetic users", run: runSeed},
		{name: "tenant create", summary: "create a tenant: tenant create SLUG --name NAME --seats N", run: runTenantCreate},
		{name: "tenant list", summary: "list tenants", run: runTenantList},
		{name: "tenant update", summary: "change tenant settings: tenant update SLUG [--allow-password-login=true] [--invitation-ttl 24h] ... (see -h)", run: runTenantUpdate},
		{name: "tenant show", summary: "show a tenant's settings: tenant show SLUG", run: runTenantShow},
		{name: "token create", summary: "issue an API token: token create --tenant SLUG --kind scim|admin [--name NAME]", run: runTokenCreate},
		{name: "token list", summary: "list a tenant's tokens: token list --tenant SLUG", run: runTokenList},
		{name: "token revoke", summary: "revoke a token: token revoke ID --tenant SLUG", run: runTokenRevoke},
		{name: "setup-link create", summary: "a set-up link for a tenant's IT admin: setup-link create --tenant SLUG [--expires 7d]", run: runSetupLinkCreate},
		{name: "setup-link revoke", summary: "revoke a set-up link: setup-link revoke ID --tenant SLUG", run: runSetupLinkRevoke},
		{name: "connection create", summary: "add an SSO connection: connection create --tenant SLUG --type saml|oidc --domains D --mode jit|pre_provisioned|directory", run: runConnectionCreate},
		{name: "connection list", summary: "list a tenant's SSO connections: connection list --tenant SLUG", run: runConnectionList},
		{name: "connection delete", summary: "remove an SSO connection: connection delete ID --tenant SLUG", run: runConnectionDelete},
		{name: "client create", summary: "register the platform app as OIDC client: client create --redirect-uri URL", run: runClientCreate},
		{name: "client list", summary: "list OIDC clients", run: runClientList},
		{name: "signing-key rotate", summary: "start signing ID tokens with new keys, one per algorithm (old keys stay published for a day)", run: runKeyRotate},
	}
}

// commandsByName indexes commandList by name.
func commandsByName() map[string]*command {
	m := map[string]*command{}
	for _, c := range commandList() {
		m[c.name] = c
	}
	return m
}
