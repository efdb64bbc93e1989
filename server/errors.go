package server

import (
	"context"
	"errors"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/wire"
)

// The server's errors are the wire errors; this file is the one place where
// anything else (store errors, context errors) is mapped to them
// (SPEC.md §6.3).
var (
	errUnauthenticated     = wire.ErrUnauthenticated
	errDeviceRevoked       = wire.ErrDeviceRevoked
	errForbidden           = wire.ErrForbidden
	errOrganisationUnknown = wire.ErrOrganisationUnknown
	errInvitationUnusable  = wire.ErrInvitationUnusable
	errBadRequest          = wire.ErrBadRequest
)

func (s *Server) toStatus(ctx context.Context, method string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, store.ErrCorrupt):
		// Logged for the operator with what is damaged; the client only
		// learns that its organisation's data is.
		s.log.Error("stored data is damaged", "method", method, "error", err)
		s.metrics.storeErrors.Inc()
		err = wire.ErrStoreDamaged
	case errors.Is(err, store.ErrConflict):
		err = certificate.ErrConflict
	case errors.Is(err, store.ErrInvitationUnusable):
		err = wire.ErrInvitationUnusable
	case errors.Is(err, store.ErrEnrolmentAborted):
		err = wire.ErrEnrolmentAborted
	case errors.Is(err, store.ErrEnrolmentStale):
		err = wire.ErrEnrolmentStale
	case errors.Is(err, store.ErrBadToken):
		err = wire.ErrBadBootstrapToken
	case errors.Is(err, store.ErrBlockCollected):
		err = wire.ErrBlockCollected
	case errors.Is(err, store.ErrNotFound):
		err = wire.ErrNotFound
	}
	if !wire.Known(err) {
		s.log.Error("call failed", "method", method, "error", err)
		s.metrics.storeErrors.Inc()
	}
	return wire.Status(err)
}
