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
