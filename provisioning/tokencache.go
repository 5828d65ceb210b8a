package provisioning

import (
	"sync"
	"time"
)

// MaxTokenCache bounds Engine.TokenCache: a SCIM token revoked through another replica (or
// the CLI, another process) is refused by this one at most this long after the revocation
// committed. A revocation through this engine takes effect at once.
const MaxTokenCache = time.Second

// tokenCache keeps SCIM tokens that authenticated, with their tenant, for at most the
// engine's TokenCache: a directory's sync sends thousands of requests a second with one
// token, and each would otherwise cost a database round trip before its real work. Only
// tokens that were valid when read are kept (unknown, revoked or mismatching tokens always
// go to the database, so nothing is learnt about them here), and the presented secret is
// still compared with the stored hash on every request.
//
// The bound holds across replicas because an entry's age counts from before the read that
// loaded it: a revocation the read did not see committed after that instant.
type tokenCache struct {
	mu sync.Mutex
	m  map[string]cachedToken
}

type cachedToken struct {
	tok      APIToken
	tenant   Tenant
	loadedAt time.Time // monotonic clock, taken before the database read
}

// maxCachedTokens is when put sweeps expired entries: only tokens used within the last
// TokenCache are live, so the map stays as small as the number of busy tokens.
const maxCachedTokens = 1024

// get returns copies of the entry for id if it is younger than ttl.
func (c *tokenCache) get(id string, ttl time.Duration) (*APIToken, *Tenant, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok || time.Since(e.loadedAt) >= ttl {
		return nil, nil, false
	}
	tok, tn := e.tok, e.tenant
	return &tok, &tn, true
}

// put keeps a token read at loadedAt (taken before the read), unless a newer entry exists.
func (c *tokenCache) put(tok *APIToken, tn *Tenant, loadedAt time.Time, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]cachedToken)
	}
	if e, ok := c.m[tok.ID]; ok && e.loadedAt.After(loadedAt) {
		return
	}
	if len(c.m) >= maxCachedTokens {
		for id, e := range c.m {
			if time.Since(e.loadedAt) >= ttl {
				delete(c.m, id)
			}
		}
	}
	if len(c.m) < maxCachedTokens {
		c.m[tok.ID] = cachedToken{tok: *tok, tenant: *tn, loadedAt: loadedAt}
	}
}

// touched records a new last-used time in the entry, so that hits do not touch again.
func (c *tokenCache) touched(id string, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[id]; ok {
		e.tok.LastUsedAt = &at
		c.m[id] = e
	}
}

// forget drops id, after its revocation committed.
func (c *tokenCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}
