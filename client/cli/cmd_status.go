package cli

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client"
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
	// Emergencies: running emergency accesses and takeovers this user
	// sees (SPEC.md §16.3).
	Emergencies     []client.EmergencyInfo `json:"emergencies,omitempty"`
	BlockCacheBytes int64                  `json:"block_cache_bytes"`
	CheckedAt       time.Time              `json:"checked_at"`
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
	s, err := g.unlock(ctx, con, true)
	if err != nil {
		return err
	}
	defer s.Close()
	id := s.Identity()
	st := statusJSON{
		Organisation: id.OrganisationName, OrganisationID: id.OrganisationID, Server: id.Server,
		UserID: id.UserID, DeviceID: id.DeviceID, DeviceLabel: id.DeviceLabel,
		LogPosition: s.Head().Position, LogHead: hex.EncodeToString(s.Head().Hash),
		OrganisationLink: id.OrganisationLink, CheckedAt: time.Now(),
	}
	if me, ok := s.Me(); ok {
		st.Name, st.Email, st.Profile, st.Revoked = me.Name, me.Email, me.Profile.String(), me.Revoked()
	}
	prev, cur, err := s.Hello(ctx)
	switch {
	case err == nil:
		st.ServerReachable = true
		if !prev.Time.IsZero() {
			st.LastConnection = &connJSON{prev.Time, prev.Address}
		}
		st.ThisConnection = &connJSON{cur.Time, cur.Address}
	case errors.Is(err, client.ErrServerUnavailable):
	default:
		return err
	}
	st.Offline = g.offline
	st.BlockCacheBytes = s.BlockCacheLimit()
	for _, e := range s.Emergencies() {
		if e.Running || e.Kind == "takeover" {
			st.Emergencies = append(st.Emergencies, e)
		}
	}
	st.Synced = syncservice.Statuses(g.home, s.SyncKey())
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
	emergencyLines(con, st.Emergencies, true)
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
