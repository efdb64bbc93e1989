package wire

import (
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/vaultlog"
)

// Domain errors as they travel between server and client. The server maps
// its errors to these in one place (server/errors.go) and the client maps
// them back in one place (client/errors.go). Messages are fixed strings: a
// status never carries details computed from secrets (SECURITY.md A22).
// Two domain errors travel too, from the packages that define them:
// certificate.ErrConflict and vaultlog.ErrRotationPending.
var (
	ErrUnauthenticated     = errors.New("request not authenticated")
	ErrDeviceRevoked       = errors.New("this device's user has been revoked")
	ErrForbidden           = errors.New("not allowed for this user")
	ErrNotFound            = errors.New("not found")
	ErrOrganisationUnknown = errors.New("unknown organisation")
	ErrCertificateRefused  = errors.New("certificate refused")
	ErrInvitationUnusable  = errors.New("invitation is unknown, expired, spent or cancelled")
	ErrEnrolmentAborted    = errors.New("enrolment aborted: the codes did not match or the other side gave up")
	ErrEnrolmentStale      = errors.New("enrolment attempt was replaced by a newer one")
	ErrBadBootstrapToken   = errors.New("bad or spent bootstrap token")
	ErrAlreadyBootstrapped = errors.New("organisation is already bootstrapped")
	ErrRateLimited         = errors.New("too many requests: try again later")
	ErrBadRequest          = errors.New("malformed request")
	ErrBlockTooLarge       = errors.New("block too large")
	ErrStorageQuota        = errors.New("the organisation's storage quota is used up: ask the server's operator")
	ErrUserLimit           = errors.New("the organisation has reached its user limit: ask the server's operator")
	// ErrStoreDamaged: the server's stored data for this organisation is
	// damaged (store.ErrCorrupt); other organisations are served as usual.
	ErrStoreDamaged = errors.New("the server's data for this organisation is damaged: tell the server's operator")
	// ErrBlockCollected: a block the vault entry declares was collected by
	// the server as unreferenced before the entry came (SPEC.md §7.5); the
	// entry is refused rather than committed without its block.
	ErrBlockCollected = errors.New("a block of this write was collected by the server before the write was committed: write it again")
)

var wireErrors = []struct {
	err  error
	code codes.Code
}{
	{ErrUnauthenticated, codes.Unauthenticated},
	{ErrDeviceRevoked, codes.PermissionDenied},
	{ErrForbidden, codes.PermissionDenied},
	{ErrNotFound, codes.NotFound},
	{ErrOrganisationUnknown, codes.NotFound},
	{certificate.ErrConflict, codes.Aborted},
	{ErrCertificateRefused, codes.InvalidArgument},
	{ErrInvitationUnusable, codes.FailedPrecondition},
	{ErrEnrolmentAborted, codes.FailedPrecondition},
	{ErrEnrolmentStale, codes.FailedPrecondition},
	{ErrBadBootstrapToken, codes.PermissionDenied},
	{ErrAlreadyBootstrapped, codes.FailedPrecondition},
	{ErrRateLimited, codes.ResourceExhausted},
	{ErrBadRequest, codes.InvalidArgument},
	{vaultlog.ErrRotationPending, codes.FailedPrecondition},
	{ErrBlockTooLarge, codes.InvalidArgument},
	{ErrStorageQuota, codes.ResourceExhausted},
	{ErrUserLimit, codes.ResourceExhausted},
	{ErrStoreDamaged, codes.DataLoss},
	{ErrBlockCollected, codes.FailedPrecondition},
}

// Status turns one of the errors above into a gRPC status error. Anything
// else becomes an Internal status with a fixed message.
func Status(err error) error {
	for _, w := range wireErrors {
		if errors.Is(err, w.err) {
			return status.Error(w.code, w.err.Error())
		}
	}
	return status.Error(codes.Internal, "internal server error")
}

// FromStatus turns a gRPC status error back into one of the errors above
// when it is one, and returns err unchanged otherwise.
func FromStatus(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	for _, w := range wireErrors {
		if st.Code() == w.code && st.Message() == w.err.Error() {
			return w.err
		}
	}
	return err
}

// Known reports whether err is (or wraps) one of the errors above.
func Known(err error) bool {
	for _, w := range wireErrors {
		if errors.Is(err, w.err) {
			return true
		}
	}
	return false
}

// Limits of one PutBlocks call (SPEC.md §6.2): the server refuses a batch
// of more blocks (ErrBadRequest) or more bytes of data in all
// (ErrBlockTooLarge). A client batches only small blocks, within them.
const (
	MaxBatchBlocks = 256
	MaxBatchBytes  = 8 << 20
)
