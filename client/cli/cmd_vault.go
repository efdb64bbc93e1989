package cli

import "github.com/spf13/cobra"

func newVaultCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vault",
		Short: "Create, list, share and manage vaults (shared encrypted folders)",
		Long: `A vault is a shared encrypted folder. Roles: owner > manager > contributor >
reader. A manager grants only contributor and reader; an outsider can't be
owner or manager; nobody changes their own role. Removing a member rotates
the vault key: they can decrypt nothing written afterwards.`,
	}
	cmd.AddCommand(newVaultCreateCommand(g), newVaultListCommand(g), newVaultShareCommand(g),
		newVaultUnshareCommand(g), newVaultRotateCommand(g), newVaultRenameCommand(g), newVaultArchiveCommand(g),
		newVaultEmergencyCommand(g), newVaultEmergencyPolicyCommand(g), newVaultEmergencyApproveCommand(g),
		newVaultTakeOwnershipCommand(g))
	return cmd
}
