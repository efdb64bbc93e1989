package cli

import (
	"errors"
	"fmt"
	"testing"

	"github.com/coffre/coffre/client"
)

// TestHintsKeepTheMessages: the library's errors name no command; what the
// person reads after "coffre:" is the same as when they did.
func TestHintsKeepTheMessages(t *testing.T) {
	cause := errors.New("cannot reach the server")
	for _, c := range []struct {
		err  error
		want string
	}{
		{client.ErrNoDevice, "no device in this data directory: run 'coffre org bootstrap LINK' or 'coffre invitation claim LINK' first"},
		{fmt.Errorf("opening: %w", client.ErrLocked), "opening: locked: give the passphrase again (coffre unlock)"},
		{fmt.Errorf("%w: %w", client.ErrFirstSync, cause), "bootstrapped, but the first sync failed (run 'coffre status' to retry): cannot reach the server"},
		{fmt.Errorf("%w: %w", client.ErrAnchorFailed, cause), "the vault's certificate is published, but anchoring its log failed (run 'coffre ls' on it to retry): cannot reach the server"},
		{client.ErrNotFresh, "nothing was written: the server did not confirm that this device's view is current (try again; if it persists, compare `coffre status` with another member)"},
		{fmt.Errorf("vault x: %w", client.ErrServerMisbehaved), "vault x: nothing was written: the server signed a head that contradicts the verified log (kept as proof: run coffre audit --verify and tell your administrator)"},
		{cause, "cannot reach the server"},
	} {
		if got := message(c.err); got != c.want {
			t.Errorf("message(%v) = %q, want %q", c.err, got, c.want)
		}
	}
	// A sync's last error is kept as text in its status file.
	if got := hinted("vault x: locked: give the passphrase again"); got != "vault x: locked: give the passphrase again (coffre unlock)" {
		t.Errorf("hinted status error: %q", got)
	}
	if got := hinted(message(client.ErrLocked)); got != "locked: give the passphrase again (coffre unlock)" {
		t.Errorf("a hint added twice: %q", got)
	}
	// A message that merely contains a sentinel's words gets no hint.
	if got := message(errors.New("no device in this data directory, says the server")); got != "no device in this data directory, says the server" {
		t.Errorf("hint on an unrelated error: %q", got)
	}
}
