package store

import (
	"context"
	"time"
)

// Nonces is a replay cache of request nonces shared by the server
// processes of one store (SPEC.md §6.1).
type Nonces interface {
	// Fresh records a device's request nonce and reports whether it was
	// new; at is the request's time.
	Fresh(ctx context.Context, deviceID string, nonce []byte, at time.Time) (bool, error)
	// Forget drops the nonces of requests made before a time: those
	// requests are refused as too old anyway.
	Forget(ctx context.Context, before time.Time) error
}

// LogNonces is a Nonces that also reads the organisation log beyond a
// position in the same round trip: authenticating a call records its
// nonce and asks for the log's entries beyond the server's snapshot (none,
// usually), and a store where each is a round trip makes it one (SPEC.md
// §6.1).
type LogNonces interface {
	Nonces
	// FreshReadLog is Fresh, then Store.ReadLog of orgID from position
	// from (at most limit entries), at once. The nonce is recorded even
	// when the read fails.
	FreshReadLog(ctx context.Context, deviceID string, nonce []byte, at time.Time, orgID string, from uint64, limit int) (fresh bool, entries []LogEntry, err error)
}
