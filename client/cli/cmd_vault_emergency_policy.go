package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
)

type vaultEmergencyPolicyOptions struct {
	invokers []string
	profile  string
	onCall   string
	duration time.Duration
	approver string
	remove   bool
}

func newVaultEmergencyPolicyCommand(g *globalOptions) *cobra.Command {
	var opts vaultEmergencyPolicyOptions
	cmd := &cobra.Command{
		Use:   "emergency-policy VAULT [--invokers USER,...] [--profile admin] [--on-call VAULT] [--duration 4h] [--approver USER]",
		Short: "Say who may open a vault in an emergency, for how long (owners)",
		Long: `Set the emergency policy of VAULT (SPEC.md §16). The people it names may
open the vault as readers with 'coffre vault emergency VAULT_ID --reason ...',
for --duration from that moment (4h by default, 1s to 168h), without being
members. Name them with any of:

  --invokers a@x,b@x     users (email or id)
  --profile admin        every user of a profile
  --on-call VAULT        every member of another vault (an on-call roster)

With --approver, an invocation waits for that person's approval. Nobody holds
the vault key in advance: a member of the vault releases it after checking
the signed invocation. Every invocation, with its reason, is shown to the
owners and managers. A new policy replaces the old one; --remove removes it.
Only owners set it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVaultEmergencyPolicy(cmd.Context(), g, args[0], opts, newConsole(cmd))
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&opts.invokers, "invokers", nil, "users who may invoke (email or id), comma-separated")
	f.StringVar(&opts.profile, "profile", "", "every user of this profile may invoke (admin, standard or outsider)")
	f.StringVar(&opts.onCall, "on-call", "", "every member of this vault may invoke (name or id)")
	f.DurationVar(&opts.duration, "duration", certificate.DefaultEmergencyDuration, "how long an invocation gives access")
	f.StringVar(&opts.approver, "approver", "", "who must approve each invocation first (email or id)")
	f.BoolVar(&opts.remove, "remove", false, "remove the vault's emergency policy")
	return cmd
}

func runVaultEmergencyPolicy(ctx context.Context, g *globalOptions, vault string, opts vaultEmergencyPolicyOptions, con *console) error {
	p := client.EmergencyPolicyOptions{Invokers: opts.invokers, OnCallVault: opts.onCall, Duration: opts.duration, Approver: opts.approver}
	if opts.profile != "" {
		pr, err := certificate.ParseProfile(opts.profile)
		if err != nil {
			return err
		}
		p.Profile = pr
	}
	named := len(p.Invokers) > 0 || p.Profile != 0 || p.OnCallVault != ""
	switch {
	case opts.remove && (named || p.Approver != ""):
		return errors.New("--remove takes no other option")
	case !opts.remove && !named:
		return errors.New("name who may invoke it: --invokers, --profile or --on-call (or --remove)")
	case !opts.remove && (opts.duration < certificate.MinEmergencyDuration || opts.duration > certificate.MaxEmergencyDuration):
		return fmt.Errorf("--duration must be between %s and %s", certificate.MinEmergencyDuration, certificate.MaxEmergencyDuration)
	}
	if opts.remove {
		p = client.EmergencyPolicyOptions{}
	}
	s, err := g.unlock(ctx, con, false)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.SetEmergencyPolicy(ctx, vault, p); err != nil {
		return err
	}
	if opts.remove {
		fmt.Fprintf(con.out, "vault %s has no emergency policy now\n", shown(vault))
		return nil
	}
	fmt.Fprintf(con.out, "emergency policy of vault %s set: an invocation gives %s of read access\n", shown(vault), opts.duration)
	return nil
}
