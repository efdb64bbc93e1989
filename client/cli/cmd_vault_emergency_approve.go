package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

func newVaultEmergencyApproveCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "emergency-approve VAULT_ID USER",
		Short: "Approve USER's waiting emergency access to a vault (the policy's approver)",
		Long: `When a vault's emergency policy names you as approver, an invocation waits
for you: this approves USER's (email or id). Their read access starts now and
ends at the end fixed by their invocation. The approval is signed and shown
to the vault's owners and managers with the invocation.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVaultEmergencyApprove(cmd.Context(), g, args[0], args[1], newConsole(cmd))
		},
	}
}

func runVaultEmergencyApprove(ctx context.Context, g *globalOptions, vault, user string, con *console) error {
	s, err := g.unlock(ctx, con, false)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.ApproveEmergency(ctx, vault, user); err != nil {
		return err
	}
	fmt.Fprintf(con.out, "approved the emergency access of %s to vault %s\n", shown(user), shown(vault))
	return nil
}
