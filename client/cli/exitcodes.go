package cli

import (
	"errors"
	"io/fs"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/internal/usage"
	"github.com/coffre/coffre/vaultlog"
	"github.com/coffre/coffre/wire"
	"github.com/coffre/coffre/workspace"
)

// Exit statuses, for scripts: the one place where library errors become
// numbers. 'coffre --help' and the README's "Exit status" list them; keep
// the three in step.
const (
	ExitOK      = 0
	ExitFailure = 1 // anything not listed below
	ExitUsage   = 2 // unknown command or flag, wrong number of arguments, a malformed VAULT:/path
	// ExitOffline: the server could not be reached and the command
	// answered from what this device verified last (status, vault list,
	// user list; SECURITY.md A32). The answer may be stale.
	ExitOffline      = 3
	ExitNotFound     = 4 // no such vault, user, file or folder
	ExitRefused      = 5 // refused by policy: your role, profile or the organisation's limits
	ExitUnreachable  = 6 // the server could not be reached: nothing was changed
	ExitVerification = 7 // something did not verify: a signature, a log, a block, the enrolment codes
)

// exitStatusHelp is the "Exit status" section of 'coffre --help'.
const exitStatusHelp = `Exit status:
  0  done
  1  failed (any other error)
  2  usage: unknown command or flag, wrong number of arguments, a
     malformed VAULT:/path
  3  the server could not be reached and the answer (status, vault list,
     user list) comes from what this device verified last: it may be stale
     (--json output says "offline": true too)
  4  not found: no such vault, user, file or folder
  5  refused by policy: your role in the vault, your profile, or the
     organisation's limits do not allow it
  6  the server could not be reached: nothing was changed
  7  verification failed: a signature, the organisation or a vault log, a
     block, or the enrolment codes did not check out (nothing was accepted)`

// exitCodes maps sentinel errors to statuses, first match wins: an error
// that wraps two sentinels gets the status of the one listed first
// (unreachable before anything else, a failed check before a refusal).
var exitCodes = []struct {
	err    error
	status int
}{
	{client.ErrServerUnavailable, ExitUnreachable},

	{certificate.ErrMalformed, ExitVerification},
	{certificate.ErrSignature, ExitVerification},
	{certificate.ErrRule, ExitVerification},
	{certificate.ErrChain, ExitVerification},
	{certificate.ErrRollback, ExitVerification},
	{certificate.ErrFork, ExitVerification},
	{client.ErrBadLog, ExitVerification},
	{client.ErrServerMisbehaved, ExitVerification},
	{client.ErrSASMismatch, ExitVerification},
	{client.ErrEnrolmentBroken, ExitVerification},
	{vaultlog.ErrMalformed, ExitVerification},
	{vaultlog.ErrEntryRefused, ExitVerification},
	{workspace.ErrBadBlock, ExitVerification},
	{workspace.ErrWithheld, ExitVerification},

	{client.ErrNotAdmin, ExitRefused},
	{client.ErrNotAllowed, ExitRefused},
	{wire.ErrForbidden, ExitRefused},
	{wire.ErrDeviceRevoked, ExitRefused},
	{client.ErrRevokedHere, ExitRefused},
	{client.ErrRecoveryRevoked, ExitRefused},
	{client.ErrWrongRecoverySecret, ExitRefused},
	{client.ErrRecoverySecretMistyped, ExitUsage},
	{client.ErrThisDevice, ExitRefused},
	{client.ErrUnknownDevice, ExitNotFound},
	{wire.ErrStorageQuota, ExitRefused},
	{wire.ErrUserLimit, ExitRefused},
	{workspace.ErrReadOnly, ExitRefused},
	{workspace.ErrArchived, ExitRefused},

	{client.ErrUnknownVault, ExitNotFound},
	{client.ErrUnknownUser, ExitNotFound},
	{workspace.ErrNotFound, ExitNotFound},
	{workspace.ErrNoVersion, ExitNotFound},
	{wire.ErrNotFound, ExitNotFound},
	{fs.ErrNotExist, ExitNotFound},
}

// exitCode is the exit status for an error a command returned.
func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	if usage.Is(err) {
		return ExitUsage
	}
	for _, c := range exitCodes {
		if errors.Is(err, c.err) {
			return c.status
		}
	}
	return ExitFailure
}
