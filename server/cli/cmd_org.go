package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/server"
	"github.com/coffre/coffre/server/store"
)

func newOrgCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "org",
		Short: "Create and list organisations",
	}
	cmd.AddCommand(newOrgCreateCommand(), newOrgListCommand(), newOrgSetCommand())
	return cmd
}

func newOrgCreateCommand() *cobra.Command {
	var dataDir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an organisation and print its bootstrap link",
		Long: `Create an organisation and print its bootstrap link. Give the link to the
organisation's first administrator, who runs 'coffre org bootstrap LINK'.
The link holds a one-time token; the server keeps only its hash.

Works whether the server is running (through its operator socket) or not.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runOrgCreate(cmd.Context(), cmd.OutOrStdout(), dataDir, args[0], asJSON)
		},
	}
	dataDirFlag(cmd, &dataDir)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: id, name, bootstrap_link")
	return cmd
}

func runOrgCreate(ctx context.Context, out io.Writer, dataDir, name string, asJSON bool) error {
	var created server.CreatedOrganisation
	err := withOperator(ctx, dataDir, func(op server.Operator) (err error) {
		created, err = op.CreateOrganisation(ctx, name)
		return err
	})
	if err != nil {
		return fmt.Errorf("creating organisation: %w", err)
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // the link keeps its '&' for scripts
		return enc.Encode(struct {
			ID            string `json:"id"`
			Name          string `json:"name"`
			BootstrapLink string `json:"bootstrap_link"`
		}{created.ID, name, created.BootstrapLink})
	}
	fmt.Fprintf(out, "organisation %q created (id %s)\n", name, created.ID)
	fmt.Fprintf(out, "bootstrap link (give it to the first administrator; it works once):\n%s\n", created.BootstrapLink)
	return nil
}

func newOrgListCommand() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List organisations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, out := cmd.Context(), cmd.OutOrStdout()
			var orgs []server.OrganisationSummary
			err := withOperator(ctx, dataDir, func(op server.Operator) (err error) {
				orgs, err = op.ListOrganisations(ctx)
				return err
			})
			if err != nil {
				return err
			}
			for _, o := range orgs {
				state := "waiting for bootstrap"
				if o.Bootstrapped {
					state = "bootstrapped"
				}
				usage := fmt.Sprintf("%s used", formatBytes(o.UsedBytes))
				if o.Limits.StorageBytes > 0 {
					usage += " of " + formatBytes(o.Limits.StorageBytes)
				}
				if o.Limits.Users > 0 {
					usage += fmt.Sprintf(", at most %d users", o.Limits.Users)
				}
				fmt.Fprintf(out, "%s  %-24s  %s  created %s  %s\n", o.ID, o.Name, state, time.UnixMilli(o.CreatedAt.UnixMilli()).Format(time.RFC3339), usage)
			}
			return nil
		},
	}
	dataDirFlag(cmd, &dataDir)
	return cmd
}

func newOrgSetCommand() *cobra.Command {
	var dataDir, storage string
	var users int
	cmd := &cobra.Command{
		Use:   "set ORGANISATION --storage SIZE --users N",
		Short: "Set an organisation's storage quota and active-user limit (0: none)",
		Long: `Set the quotas of ORGANISATION (its id, from 'org list'): --storage, the
encrypted bytes its members may store (e.g. 500GiB, 2TB, 0 for none), and
--users, how many active users it may have (0 for none). Members who reach a
limit get a clear error naming it.`,
		Example: "  coffre-server org set 5609befa98b1b31317a7764938df1c1c --storage 200GiB --users 50",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			limit, err := parseBytes(storage)
			if err != nil {
				return err
			}
			if users < 0 {
				return fmt.Errorf("--users can't be negative")
			}
			err = withOperator(ctx, dataDir, func(op server.Operator) error {
				return op.SetLimits(ctx, args[0], store.Limits{StorageBytes: limit, Users: users})
			})
			if err != nil {
				return fmt.Errorf("setting limits: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "organisation %s: storage quota %s, user limit %d (0: none)\n", args[0], formatBytes(limit), users)
			return nil
		},
	}
	dataDirFlag(cmd, &dataDir)
	cmd.Flags().StringVar(&storage, "storage", "0", "storage quota (e.g. 500GiB; 0: none)")
	cmd.Flags().IntVar(&users, "users", 0, "active-user limit (0: none)")
	return cmd
}

// parseBytes reads sizes like 500GiB, 2TB, 1048576.
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q: want a number with an optional unit (KiB, MiB, GiB, TiB, KB, MB, GB, TB)", s)
	}
	return int64(n * float64(mult)), nil
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<40:
		return fmt.Sprintf("%.1f TiB", float64(n)/(1<<40))
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d B", n)
}
