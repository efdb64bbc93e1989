package cli

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/workspace/syncer"
)

// syncStatuses reads the status files that running syncs keep.
func syncStatuses(home string, key crypto.SecretKey) []syncer.Status {
	files, _ := filepath.Glob(filepath.Join(home, "sync", "*.status.json"))
	out := []syncer.Status{}
	for _, f := range files {
		if st, err := syncer.ReadStatus(f); err == nil {
			out = append(out, syncer.OpenStatus(key, st))
		}
	}
	return out
}

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
	CheckedAt        time.Time       `json:"checked_at"`
}

type connJSON struct {
	Time    time.Time `json:"time"`
	Address string    `json:"address"`
}

func newStatusCommand(g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the organisation, this device, the verified log head and the last connection",
		Long: `Show who and where you are: the organisation, your user and this device, the
head of the organisation log this device verified (compare it with a
colleague's to rule out a fork), and this device's previous connection (date,
time, address): if you don't recognise it, tell an administrator.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.unlock(cmd, true)
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
			prev, cur, err := s.Hello(cmd.Context())
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
			st.Synced = syncStatuses(g.home, s.SyncKey())
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			out := cmd.OutOrStdout()
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
			for _, f := range st.Synced {
				state := f.State
				if f.State != "idle" && time.Since(f.Updated) > 2*time.Minute {
					state = "stopped (was " + f.State + ")"
				}
				line := fmt.Sprintf("synced folder %s ↔ %s: %s", shown(f.Dir), shown(f.Vault), shown(state))
				if !f.LastSync.IsZero() {
					line += ", last sync " + f.LastSync.Local().Format("2006-01-02 15:04:05")
				}
				if f.Pending > 0 {
					line += fmt.Sprintf(", %d pending (%d bytes)", f.Pending, f.PendingBytes)
				}
				if f.LastError != "" {
					line += ", error: " + f.LastError
				}
				fmt.Fprintln(out, line)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
