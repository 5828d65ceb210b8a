// Package scim is Seatbridge's SCIM 2.0 door (RFC 7643, RFC 7644, RFC 9865 cursors): the
// schema definitions with their attribute characteristics, the filter translation to the
// neutral provisioning.Filter, the PATCH applier, projection, discovery endpoints, bulk,
// bearer-token authentication, rate limits and the SCIM error encoding.
//
// It speaks the protocol and nothing else: every rule about users, seats and groups lives
// in provisioning, reached through the Provisioner interface. It must not import store,
// sso or admin (only provisioning and internal/httpx).
package scim
