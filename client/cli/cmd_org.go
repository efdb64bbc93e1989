package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/link"
)

func newOrgCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "org", Short: "Bootstrap an organisation"}
	cmd.AddCommand(newOrgBootstrapCommand(g))
	return cmd
}

type bootstrapOptions struct {
	link               string
	name, email, label string
	json               bool
}

// bootstrapJSON is what 'org bootstrap --json' prints.
type bootstrapJSON struct {
	Organisation     string `json:"organisation"`
	OrganisationID   string `json:"organisation_id"`
	UserID           string `json:"user_id"`
	DeviceID         string `json:"device_id"`
	DeviceLabel      string `json:"device_label"`
	OrganisationLink string `json:"organisation_link"`
}

func newOrgBootstrapCommand(g *globalOptions) *cobra.Command {
	var opts bootstrapOptions
	cmd := &cobra.Command{
		Use:   "bootstrap LINK --name NAME --email EMAIL",
		Short: "Become the first administrator of a new organisation",
		Long: `Bootstrap the organisation named in a bootstrap link (printed by
'coffre-server org create'). This device makes the organisation's root key,
signs you in as the first administrator with this device, publishes that,
and forgets the root key. Your device keys are kept in --home, encrypted
under the passphrase you choose (asked twice on the terminal).

It prints the organisation link: the server address, the organisation id and
its root verify key, from which every invitation link is made.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.link = args[0]
			return runBootstrap(cmd.Context(), g, opts, newConsole(cmd))
		},
	}
	cmd.Flags().StringVar(&opts.name, "name", "", "your name, as colleagues will see it")
	cmd.Flags().StringVar(&opts.email, "email", "", "your email address")
	cmd.Flags().StringVar(&opts.label, "device-label", "", "a name for this device (default: the host name)")
	cmd.Flags().BoolVar(&opts.json, "json", false, "print JSON: organisation, ids, device label, organisation link")
	return cmd
}

func runBootstrap(ctx context.Context, g *globalOptions, opts bootstrapOptions, con *console) error {
	l, err := link.Parse(opts.link)
	if err != nil {
		return err
	}
	if client.HasDevice(g.home) {
		return client.ErrAlreadyEnrolled
	}
	pass, err := g.passphrase(con, true)
	if err != nil {
		return err
	}
	s, err := client.Bootstrap(ctx, g.home, l, client.BootstrapOptions{
		Name: opts.name, Email: opts.email, DeviceLabel: opts.label, Passphrase: pass,
	})
	if err != nil {
		return err
	}
	defer s.Close()
	id := s.Identity()
	if opts.json {
		return printJSON(con.out, bootstrapJSON{Organisation: id.OrganisationName, OrganisationID: id.OrganisationID,
			UserID: id.UserID, DeviceID: id.DeviceID, DeviceLabel: id.DeviceLabel, OrganisationLink: id.OrganisationLink})
	}
	info := con.info
	fmt.Fprintf(info, "organisation %q bootstrapped; you are its first administrator\n", id.OrganisationName)
	fmt.Fprintf(info, "user %s, device %s (%s)\n", id.UserID, id.DeviceID, shown(id.DeviceLabel))
	fmt.Fprintln(info, "organisation link:")
	fmt.Fprintln(con.out, id.OrganisationLink)
	fmt.Fprintln(info, "next: coffre user invite EMAIL")
	return nil
}
