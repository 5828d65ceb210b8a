// Package provisioning owns Seatbridge's domain: tenants, users, seats, roles, teams,
// groups, connections, identities, invitations and the audit trail, plus every rule about
// them (the engine). It defines the Store and Tx interfaces it consumes and the neutral
// query Filter that the SCIM and admin doors build and the store translates to SQL.
//
// It must not import any sibling package (scim, sso, admin, store): they depend on it,
// never the other way round.
package provisioning
