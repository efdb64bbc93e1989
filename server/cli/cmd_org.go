package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/server"
	"github.com/coffre/coffre/server/store"
)

func newOrgCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "org",
		Short: "Create and list organisations",
	}
	cmd.AddCommand(newOrgCreateCommand(), newOrgListCommand())
	return cmd
}

func newOrgCreateCommand() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "org create NAME",
		Short: "Create an organisation and print its bootstrap link",
		Long: `Create an organisation and print its bootstrap link. Give the link to the
organisation's first administrator, who runs 'coffre org bootstrap LINK'.
The link holds a one-time token; the server keeps only its hash.

Works whether the server is running (through its operator socket) or not.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runOrgCreate(cmd.Context(), cmd.OutOrStdout(), dataDir, args[0])
		},
	}
	cmd.Use = "create NAME"
	dataDirFlag(cmd, &dataDir)
	return cmd
}

func runOrgCreate(ctx context.Context, out io.Writer, dataDir, name string) error {
	var id, bootstrap string
	err := withOperator(ctx, dataDir,
		func(c coffrev1.OperatorServiceClient) error {
			resp, err := c.CreateOrganisation(ctx, &coffrev1.CreateOrganisationRequest{Name: name})
			if err != nil {
				return err
			}
			id, bootstrap = resp.GetOrganisationId(), resp.GetBootstrapLink()
			return nil
		},
		func(st store.Store) error {
			addr, pin, err := offlineLinkParams(dataDir)
			if err != nil {
				return err
			}
			l, err := server.NewOrganisation(ctx, st, name, addr, pin)
			id, bootstrap = l.OrganisationID, l.String()
			return err
		})
	if err != nil {
		return fmt.Errorf("creating organisation: %w", err)
	}
	fmt.Fprintf(out, "organisation %q created (id %s)\n", name, id)
	fmt.Fprintf(out, "bootstrap link (give it to the first administrator; it works once):\n%s\n", bootstrap)
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
			var orgs []*coffrev1.OrganisationSummary
			err := withOperator(ctx, dataDir,
				func(c coffrev1.OperatorServiceClient) error {
					resp, err := c.ListOrganisations(ctx, &coffrev1.ListOrganisationsRequest{})
					orgs = resp.GetOrganisations()
					return err
				},
				func(st store.Store) error {
					all, err := st.Organisations(ctx)
					for _, o := range all {
						orgs = append(orgs, &coffrev1.OrganisationSummary{Id: o.ID, Name: o.Name, Bootstrapped: o.RootVerifyKey != nil, CreatedMs: o.CreatedAt.UnixMilli()})
					}
					return err
				})
			if err != nil {
				return err
			}
			for _, o := range orgs {
				state := "waiting for bootstrap"
				if o.GetBootstrapped() {
					state = "bootstrapped"
				}
				fmt.Fprintf(out, "%s  %-24s  %s  created %s\n", o.GetId(), o.GetName(), state, time.UnixMilli(o.GetCreatedMs()).Format(time.RFC3339))
			}
			return nil
		},
	}
	dataDirFlag(cmd, &dataDir)
	return cmd
}
