package cli

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/internal/usage"
	"github.com/coffre/coffre/workspace"
)

// Each class of library error gets its status, however deeply wrapped; the
// cases the golden scripts can't reach (a fork, a bad block) are here.
func TestExitCode(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("opening vault cardio: %w", fmt.Errorf("reading: %w", err)) }
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{errors.New("something else"), ExitFailure},
		{crypto.ErrWrongPassphrase, ExitFailure},
		{usage.Error{Err: errors.New("unknown flag: --bogus")}, ExitUsage},
		{fmt.Errorf("reading: %w", usage.Errorf("bad")), ExitUsage},
		{wrap(client.ErrUnknownVault), ExitNotFound},
		{wrap(workspace.ErrNotFound), ExitNotFound},
		{wrap(client.ErrNotAdmin), ExitRefused},
		{wrap(workspace.ErrReadOnly), ExitRefused},
		{wrap(client.ErrServerUnavailable), ExitUnreachable},
		{wrap(certificate.ErrFork), ExitVerification},
		{wrap(workspace.ErrBadBlock), ExitVerification},
		{wrap(client.ErrSASMismatch), ExitVerification},
		// A failed check wins over what it would otherwise look like.
		{fmt.Errorf("%w: %w", workspace.ErrNotFound, certificate.ErrSignature), ExitVerification},
	} {
		if got := exitCode(c.err); got != c.want {
			t.Errorf("exitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

// The help text lists every status the code returns.
func TestExitStatusHelpListsEveryStatus(t *testing.T) {
	for _, s := range []int{ExitOK, ExitFailure, ExitUsage, ExitOffline, ExitNotFound, ExitRefused, ExitUnreachable, ExitVerification} {
		if !strings.Contains(exitStatusHelp, fmt.Sprintf("\n  %d  ", s)) {
			t.Errorf("coffre --help does not explain exit status %d", s)
		}
	}
}

func TestArgKinds(t *testing.T) {
	for use, want := range map[string]string{
		"get VAULT:/path LOCAL":                       "VAULT:/path LOCAL",
		"mkdir [-p] VAULT:/path":                      "VAULT:/path",
		"rm [-r] VAULT:/path":                         "VAULT:/path",
		"put LOCAL VAULT:/path":                       "LOCAL VAULT:/path",
		"share VAULT USER --role ROLE [--until DATE]": "VAULT USER",
		"sync VAULT DIR | sync --all ROOT":            "VAULT DIR",
		"trash VAULT[:/folder]":                       "VAULT[:/folder",
		"unshare VAULT USER...":                       "VAULT USER...",
		"invite EMAIL":                                "",
		"status":                                      "",
	} {
		if got := strings.Join(argKinds(use), " "); got != want {
			t.Errorf("argKinds(%q) = %q, want %q", use, got, want)
		}
	}
}
