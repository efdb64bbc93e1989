package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/link"
	"github.com/coffre/coffre/vaultlog"
	"github.com/coffre/coffre/wire"
	"github.com/coffre/coffre/workspace"
)

// apiError is the body of every failed API call: a stable code the web
// interface translates, and the English sentence the command line prints.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Revoked is what the wipe on return erased and kept (device_revoked).
	Revoked *RevokedJSON `json:"revoked,omitempty"`
}

// Errors of the API itself (the library's are mapped in errorCodes).
var (
	// errBadRequest: the request is malformed (a missing field, a bad
	// date, a body that is not JSON); the message says what.
	errBadRequest = errors.New("bad request")
	// errNoSuchExchange: a greeting or enrolment id this app does not
	// run (finished long ago, or never started).
	errNoSuchExchange = errors.New("no such code exchange: start again")
	// errExchangeStep: an answer that does not fit the exchange's step
	// (a code when a confirmation is asked, or nothing is asked).
	errExchangeStep = errors.New("the code exchange is not waiting for that answer")
	// errEnrolmentRunning: an enrolment is already under way here.
	errEnrolmentRunning = errors.New("an enrolment is already under way on this device: finish or cancel it first")
	// errNoSync: the app runs no sync service.
	errNoSync = errors.New("this app does not run the sync service")
)

// badRequest wraps errBadRequest with what is wrong.
func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, args...))
}

// errorCodes maps every sentinel a handler may return to an HTTP status
// and the code docs/API.md lists, in the order they are tested: a more
// specific sentinel before one it may wrap (ErrCheckpointDue wraps
// ErrWithheld).
var errorCodes = []struct {
	err    error
	status int
	code   string
}{
	// The API's own.
	{errBadRequest, http.StatusBadRequest, "bad_request"},
	{errNoSuchExchange, http.StatusNotFound, "no_such_exchange"},
	{errExchangeStep, http.StatusConflict, "wrong_step"},
	{errEnrolmentRunning, http.StatusConflict, "enrolment_running"},
	{errNewPassphrase, http.StatusBadRequest, "bad_passphrase"},
	{errNoSync, http.StatusNotImplemented, "sync_unavailable"},
	{ErrNoSyncFolder, http.StatusNotFound, "no_sync_folder"},
	{ErrFolderSynced, http.StatusConflict, "folder_synced"},
	// The device.
	{client.ErrLocked, http.StatusLocked, "locked"},
	{client.ErrNoDevice, http.StatusConflict, "no_device"},
	{client.ErrAlreadyEnrolled, http.StatusConflict, "already_enrolled"},
	{client.ErrClaimedWithoutKey, http.StatusConflict, "claimed_without_key"},
	{crypto.ErrWrongPassphrase, http.StatusUnauthorized, "wrong_passphrase"},
	{client.ErrCorruptState, http.StatusInternalServerError, "corrupt_state"},
	// The server.
	{client.ErrServerUnavailable, http.StatusServiceUnavailable, "offline"},
	{wire.ErrRateLimited, http.StatusTooManyRequests, "rate_limited"},
	{wire.ErrStorageQuota, http.StatusInsufficientStorage, "quota"},
	{wire.ErrUserLimit, http.StatusForbidden, "user_limit"},
	{client.ErrRevokedHere, http.StatusGone, "device_revoked"},
	{client.ErrRevocationNotInLog, http.StatusForbidden, "revocation_unverified"},
	{wire.ErrDeviceRevoked, http.StatusForbidden, "revoked"},
	{wire.ErrUnauthenticated, http.StatusForbidden, "unauthenticated"},
	{wire.ErrForbidden, http.StatusForbidden, "forbidden"},
	{wire.ErrStoreDamaged, http.StatusBadGateway, "server_damaged"},
	{wire.ErrBlockTooLarge, http.StatusBadGateway, "server_refused"},
	{wire.ErrCertificateRefused, http.StatusConflict, "server_refused"},
	{wire.ErrBadRequest, http.StatusBadGateway, "server_refused"},
	// Users, vaults, rules.
	{client.ErrThisDevice, http.StatusForbidden, "this_device"},
	{client.ErrUnknownDevice, http.StatusNotFound, "unknown_device"},
	{client.ErrAmbiguousDevice, http.StatusConflict, "ambiguous_device"},
	{errDeviceRevokedAlready, http.StatusConflict, "device_already_revoked"},
	{client.ErrNotAdmin, http.StatusForbidden, "not_admin"},
	{client.ErrNotAllowed, http.StatusForbidden, "not_allowed"},
	{client.ErrNotManager, http.StatusForbidden, "not_manager"},
	{client.ErrSelf, http.StatusForbidden, "not_yourself"},
	{client.ErrUserRevoked, http.StatusConflict, "user_revoked"},
	{client.ErrNotVaultMember, http.StatusConflict, "user_not_member"},
	{client.ErrOutsider, http.StatusForbidden, "outsider"},
	{certificate.ErrManagerUntil, http.StatusBadRequest, "manager_until"},
	{client.ErrUnknownUser, http.StatusNotFound, "unknown_user"},
	{client.ErrUnknownVault, http.StatusNotFound, "unknown_vault"},
	{client.ErrNotMember, http.StatusForbidden, "not_member"},
	{client.ErrVaultName, http.StatusBadRequest, "bad_vault_name"},
	{client.ErrVaultNameTaken, http.StatusConflict, "vault_name_taken"},
	{client.ErrAnchorFailed, http.StatusBadGateway, "anchor_failed"},
	{client.ErrCheckpointDue, http.StatusConflict, "checkpoint_due"},
	{vaultlog.ErrRotationPending, http.StatusConflict, "rotation_pending"},
	// Emergencies (SPEC.md §11.4).
	{client.ErrNoReason, http.StatusBadRequest, "no_reason"},
	{client.ErrNoEmergencyPolicy, http.StatusConflict, "no_emergency_policy"},
	{client.ErrNotInvoker, http.StatusForbidden, "not_invoker"},
	{client.ErrAlreadyMember, http.StatusConflict, "already_member"},
	{client.ErrKeyNotReleased, http.StatusConflict, "key_not_released"},
	{client.ErrOwnerActive, http.StatusConflict, "owner_active"},
	// Files.
	{workspace.ErrNotFound, http.StatusNotFound, "not_found"},
	{workspace.ErrNotInTrash, http.StatusNotFound, "not_in_trash"},
	{workspace.ErrExists, http.StatusConflict, "exists"},
	{workspace.ErrNotEmpty, http.StatusConflict, "not_empty"},
	{workspace.ErrNotFolder, http.StatusConflict, "not_folder"},
	{workspace.ErrIsFolder, http.StatusConflict, "is_folder"},
	{workspace.ErrWriteConflict, http.StatusConflict, "write_conflict"},
	{workspace.ErrReadOnly, http.StatusForbidden, "read_only"},
	{workspace.ErrArchived, http.StatusForbidden, "archived"},
	{workspace.ErrNoKey, http.StatusForbidden, "no_key"},
	// Invitations and enrolment.
	{link.ErrBadLink, http.StatusBadRequest, "bad_link"},
	{client.ErrInvitationLife, http.StatusBadRequest, "bad_request"},
	{client.ErrInvitationPending, http.StatusConflict, "invitation_pending"},
	{wire.ErrInvitationUnusable, http.StatusGone, "invitation_unusable"},
	{client.ErrSASMismatch, http.StatusConflict, "codes_differ"},
	{wire.ErrEnrolmentAborted, http.StatusConflict, "enrolment_aborted"},
	{wire.ErrEnrolmentStale, http.StatusConflict, "enrolment_aborted"},
	{client.ErrGreeterTimeout, http.StatusGatewayTimeout, "greeter_timeout"},
	{client.ErrEnrolmentBroken, http.StatusBadGateway, "enrolment_broken"},
	// What the server can't make the client believe (SECURITY.md): the
	// person is told, and nothing is shown as if it were fine.
	{certificate.ErrRollback, http.StatusBadGateway, "rollback"},
	{certificate.ErrFork, http.StatusBadGateway, "fork"},
	{client.ErrBadLog, http.StatusBadGateway, "bad_log"},
	{client.ErrNotFresh, http.StatusBadGateway, "not_fresh"},
	{client.ErrServerMisbehaved, http.StatusBadGateway, "server_misbehaved"},
	{workspace.ErrWithheld, http.StatusBadGateway, "withheld"},
	{workspace.ErrBadBlock, http.StatusBadGateway, "bad_block"},
	{workspace.ErrBadManifest, http.StatusBadGateway, "bad_manifest"},
	{vaultlog.ErrEntryRefused, http.StatusBadGateway, "bad_log"},
	// Last: a request the person (or the browser) gave up.
	{context.Canceled, 499, "cancelled"},
	{context.DeadlineExceeded, http.StatusGatewayTimeout, "timeout"},
}

// errorCode returns the HTTP status and code of err: "failed" with 500
// for an error no sentinel describes (its message still says what).
func errorCode(err error) (int, string) {
	for _, e := range errorCodes {
		if errors.Is(err, e.err) {
			return e.status, e.code
		}
	}
	return http.StatusInternalServerError, "failed"
}

// writeJSON answers v with status 200.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	json.NewEncoder(w).Encode(v)
}

// writeError answers err with the HTTP status and code its sentinel means.
func writeError(w http.ResponseWriter, err error) {
	status, code := errorCode(err)
	if rw, ok := w.(interface{ sawRevoked() }); ok && code == "revoked" {
		rw.sawRevoked() // the wipe on return's check follows (revokedHandler)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	body := apiError{Code: code, Message: err.Error()}
	var wiped *RevokedError
	if errors.As(err, &wiped) {
		body.Revoked = wiped.json()
	}
	json.NewEncoder(w).Encode(body)
}

// maxJSONBody bounds a JSON request body: none needs more.
const maxJSONBody = 1 << 20

// readJSON decodes a request's JSON body into v, refusing unknown fields
// (a misspelt field is an error, not a silent default).
func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("the body is not the JSON this call takes (%v)", err)
	}
	return nil
}

// jsonCall is a call answered with JSON: v, or the error.
type jsonCall func(r *http.Request) (v any, err error)

func (fn jsonCall) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v, err := fn(r)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, v)
}
