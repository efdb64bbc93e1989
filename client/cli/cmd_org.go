package cli

import (
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
	name, email, label string
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
			return runBootstrap(cmd, g, opts, args[0])
		},
	}
	cmd.Flags().StringVar(&opts.name, "name", "", "your name, as colleagues will see it")
	cmd.Flags().StringVar(&opts.email, "email", "", "your email address")
	cmd.Flags().StringVar(&opts.label, "device-label", "", "a name for this device (default: the host name)")
	return cmd
}

func runBootstrap(cmd *cobra.Command, g *globalOptions, opts bootstrapOptions, rawLink string) error {
	l, err := link.Parse(rawLink)
	if err != nil {
		return err
	}
	if client.HasDevice(g.home) {
		return client.ErrAlreadyEnrolled
	}
	pass, err := g.passphrase(newConsole(cmd), true)
	if err != nil {
		return err
	}
	s, err := client.Bootstrap(cmd.Context(), g.home, l, client.BootstrapOptions{
		Name: opts.name, Email: opts.email, DeviceLabel: opts.label, Passphrase: pass,
	})
	if err != nil {
		return err
	}
	defer s.Close()
	id := s.Identity()
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "organisation %q bootstrapped; you are its first administrator\n", id.OrganisationName)
	fmt.Fprintf(out, "user %s, device %s (%s)\n", id.UserID, id.DeviceID, shown(id.DeviceLabel))
	fmt.Fprintf(out, "organisation link:\n%s\n", id.OrganisationLink)
	fmt.Fprintln(out, "next: coffre user invite EMAIL")
	return nil
}
