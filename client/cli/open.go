package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/client/app"
	"github.com/coffre/coffre/client/control"
	"github.com/coffre/coffre/internal/usage"
	"github.com/coffre/coffre/workspace"
)

// unlock opens this device and brings its verified state up to date. When
// the server can't be reached, offline commands go on with the state
// verified last (and say so); others stop.
func (g *globalOptions) unlock(ctx context.Context, con *console, offlineOK bool) (*client.Session, error) {
	if !client.HasDevice(g.home) {
		return nil, g.noDevice(ctx)
	}
	p, err := g.passphrase(con, false)
	if err != nil {
		return nil, err
	}
	s, err := client.Open(ctx, g.home, p)
	if err != nil {
		return nil, err
	}
	control.Touch(g.home) // the person is here: running syncs' idle lock starts again
	// Every command that reaches the server records the connection, so
	// 'coffre status' can show the last one (CNIL).
	_, _, err = s.Hello(ctx)
	if err == nil {
		err = s.Sync(ctx)
	}
	if client.IsRevokedAnswer(err) {
		defer s.Close()
		return nil, wipeIfRevoked(ctx, s, con) // SPEC.md §15
	}
	if err != nil {
		if offlineOK && errors.Is(err, client.ErrServerUnavailable) {
			fmt.Fprintf(con.err, "warning: %v; showing what this device verified last (exit status %d)\n", err, ExitOffline)
			g.offline = true
			return s, nil
		}
		s.Close()
		return nil, err
	}
	return s, nil
}

// noDevice is the error of a command run with no device in the data
// directory: client.ErrNoDevice, unless the running app erased it as
// revoked (SPEC.md §15.3), which the command then says.
func (g *globalOptions) noDevice(ctx context.Context) error {
	if _, st := app.Dial(ctx, g.home); st.Revoked != nil {
		return erasedByApp{st.Revoked.Message}
	}
	return client.ErrNoDevice
}

// erasedByApp is the app's RevokedError as the command line reads it
// from the app's state: its exit status is that of a revoked device.
type erasedByApp struct{ message string }

func (e erasedByApp) Error() string { return e.message }
func (e erasedByApp) Unwrap() error { return client.ErrRevokedHere }

// viaApp is the running app of this data directory when it answers and is
// unlocked (SPEC.md §14.5): the command asks it, with no passphrase and no
// verification of its own. nil: the command works alone, and says nothing.
func (g *globalOptions) viaApp(ctx context.Context) *app.Client {
	return app.DialUnlocked(ctx, g.home)
}

// vaultPath splits VAULT:/path; an argument not of that form is a usage
// error (exit status 2).
func vaultPath(arg string) (vault, p string, err error) {
	vault, p, err = app.SplitTarget(arg)
	if err != nil {
		return "", "", usage.Error{Err: err}
	}
	return vault, p, nil
}

// appOffline is what a command answered by an app that can't reach the
// server says (as unlock does when it goes on offline).
func (g *globalOptions) appOffline(con *console) {
	g.offline = true
	fmt.Fprintf(con.err, "warning: %v; showing what this device verified last (exit status %d)\n", client.ErrServerUnavailable, ExitOffline)
}

// openVault unlocks the device and opens the vault named in arg, after its
// upkeep (PrepareVault: the key rotation or checkpoint it may wait for).
func (g *globalOptions) openVault(ctx context.Context, con *console, arg string) (*client.Session, *workspace.Vault, string, error) {
	vault, p, err := vaultPath(arg)
	if err != nil {
		return nil, nil, "", err
	}
	s, err := g.unlock(ctx, con, false)
	if err != nil {
		return nil, nil, "", err
	}
	w, _, err := s.PrepareVault(ctx, vault)
	if err != nil {
		s.Close()
		return nil, nil, "", err
	}
	warnQuarantined(con, s, w)
	return s, w, p, nil
}

// warnQuarantined says which writes of the vault were skipped because
// they don't open (SPEC.md §11.5), naming the device that signed them.
func warnQuarantined(con *console, s *client.Session, w *workspace.Vault) {
	q := w.Log().Quarantined()
	if len(q) == 0 {
		return
	}
	last := q[len(q)-1]
	who := last.User
	if u, ok := s.Organisation().User(last.User); ok {
		who = personEmail(u)
	}
	fmt.Fprintf(con.err, "warning: %d write(s) to this vault don't open and are skipped, the last at entry %d by %s (device %s) on %s: ask them to write it again\n",
		len(q), last.Position, who, last.Author, last.Time.Format(time.RFC3339))
}
