package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/client/app"
	"github.com/coffre/coffre/client/syncservice"
	"github.com/coffre/coffre/workspace/syncer"
)

type statusJSON struct {
	Organisation     string          `json:"organisation"`
	OrganisationID   string          `json:"organisation_id"`
	Server           string          `json:"server"`
	ServerReachable  bool            `json:"server_reachable"`
	Offline          bool            `json:"offline"` // answered from local state (exit status 3)
	UserID           string          `json:"user_id"`
	Name             string          `json:"name"`
	Email            string          `json:"email"`
	Profile          string          `json:"profile"`
	Revoked          bool            `json:"revoked"`
	DeviceID         string          `json:"device_id"`
	DeviceLabel      string          `json:"device_label"`
	LogPosition      uint64          `json:"log_position"`
	LogHead          string          `json:"log_head"`
	LastConnection   *connJSON       `json:"last_connection"`
	ThisConnection   *connJSON       `json:"this_connection,omitempty"`
	OrganisationLink string          `json:"organisation_link"`
	Synced           []syncer.Status `json:"synced_folders"`
	BlockCacheBytes  int64           `json:"block_cache_bytes"`
	CheckedAt        time.Time       `json:"checked_at"`
}

type connJSON struct {
	Time    time.Time `json:"time"`
	Address string    `json:"address"`
}

type statusOptions struct {
	json bool
}

func newStatusCommand(g *globalOptions) *cobra.Command {
	var opts statusOptions
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the organisation, this device, the verified log head and the last connection",
		Long: `Show who and where you are: the organisation, your user and this device, the
head of the organisation log this device verified (compare it with a
colleague's to rule out a fork), and this device's previous connection (date,
time, address): if you don't recognise it, tell an administrator.

Then each synced folder: whether its 'coffre sync' is running (up to date,
syncing, offline), locked ("locked: run coffre unlock": it receives nothing
until then) or stopped, and the files it keeps local only (in a vault you
can only read).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(cmd.Context(), g, opts, newConsole(cmd))
		},
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, "print JSON")
	return cmd
}

func runStatus(ctx context.Context, g *globalOptions, opts statusOptions, con *console) error {
	ans, err := g.status(ctx, con)
	if err != nil {
		return err
	}
	id := ans.Identity
	st := statusJSON{
		Organisation: id.OrganisationName, OrganisationID: id.OrganisationID, Server: id.Server,
		UserID: id.UserID, DeviceID: id.DeviceID, DeviceLabel: id.DeviceLabel,
		Name: ans.Name, Email: ans.Email, Profile: ans.Profile, Revoked: ans.Revoked,
		LogPosition: ans.LogPosition, LogHead: ans.LogHead, ServerReachable: ans.ServerReachable,
		OrganisationLink: id.OrganisationLink, CheckedAt: time.Now(),
		Offline: g.offline, BlockCacheBytes: ans.BlockCacheBytes, Synced: ans.Synced,
	}
	if ans.ServerReachable {
		if !ans.LastConnection.Time.IsZero() {
			st.LastConnection = &connJSON{ans.LastConnection.Time, ans.LastConnection.Address}
		}
		st.ThisConnection = &connJSON{ans.ThisConnection.Time, ans.ThisConnection.Address}
	}
	for i := range st.Synced {
		st.Synced[i].LastError = hinted(st.Synced[i].LastError)
	}
	if opts.json {
		return printJSON(con.out, st)
	}
	out := con.out
	fmt.Fprintf(out, "organisation  %s (%s)\n", shown(st.Organisation), st.OrganisationID)
	reach := "reachable"
	if !st.ServerReachable {
		reach = "unreachable"
	}
	fmt.Fprintf(out, "server        %s (%s)\n", st.Server, reach)
	fmt.Fprintf(out, "user          %s <%s>, %s (%s)\n", shown(st.Name), shown(st.Email), st.Profile, st.UserID)
	fmt.Fprintf(out, "device        %s (%s)\n", shown(st.DeviceLabel), st.DeviceID)
	fmt.Fprintf(out, "log head      position %d, %s\n", st.LogPosition, st.LogHead[:16])
	switch {
	case st.LastConnection != nil:
		fmt.Fprintf(out, "last connection  %s from %s\n", st.LastConnection.Time.Local().Format("2006-01-02 15:04:05 MST"), shown(st.LastConnection.Address))
	case st.ServerReachable:
		fmt.Fprintln(out, "last connection  none before this one")
	default:
		fmt.Fprintln(out, "last connection  unknown (server unreachable)")
	}
	if _, set, _ := client.BlockCacheBytes(g.home); set {
		fmt.Fprintf(out, "block cache   up to %s (coffre config set cache-size)\n", sizeText(st.BlockCacheBytes))
	} else {
		fmt.Fprintf(out, "block cache   up to %s (default; coffre config set cache-size SIZE)\n", sizeText(st.BlockCacheBytes))
	}
	for _, f := range st.Synced {
		line := fmt.Sprintf("synced folder %s ↔ %s: %s", shown(f.Dir), shown(f.Vault), syncState(f.State))
		if !f.LastSync.IsZero() {
			line += ", last sync " + f.LastSync.Local().Format("2006-01-02 15:04:05")
		}
		if f.Pending > 0 {
			line += fmt.Sprintf(", %d pending (%d bytes)", f.Pending, f.PendingBytes)
		}
		if f.LastError != "" {
			line += ", error: " + f.LastError
		}
		if len(f.LocalOnly) > 0 {
			line += fmt.Sprintf(", %d local only (you can only read this vault):", len(f.LocalOnly))
		}
		fmt.Fprintln(out, line)
		for _, name := range f.LocalOnly {
			fmt.Fprintln(out, "  local only "+shown(name))
		}
	}
	return nil
}

// syncState says whether a folder's sync runs, and what it does.
func syncState(state string) string {
	switch state {
	case syncservice.Stopped:
		return "stopped (no coffre sync running)"
	case "locked":
		return lockedHint
	case "idle":
		return "running, up to date"
	case "offline":
		return "running, offline (server unreachable)"
	}
	return "running, " + shown(state)
}

// status gathers what 'coffre status' shows, through the app when it runs
// unlocked.
func (g *globalOptions) status(ctx context.Context, con *console) (app.StatusAnswer, error) {
	if c := g.viaApp(ctx); c != nil {
		ans, err := c.Status(ctx)
		if err == nil && ans.Offline {
			g.appOffline(con)
		}
		return ans, err
	}
	s, err := g.unlock(ctx, con, true)
	if err != nil {
		return app.StatusAnswer{}, err
	}
	defer s.Close()
	return app.StatusOf(ctx, s, g.home)
}
