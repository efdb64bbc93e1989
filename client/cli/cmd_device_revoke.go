package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

func newDeviceRevokeCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke DEVICE",
		Short: "Revoke a lost or stolen device (yours, from another of your devices; or anyone's, for an administrator)",
		Long: `Revoke DEVICE (its id, or its label among your devices; see 'coffre device
list'): a signed certificate in the organisation log. The server refuses the
device from its next call, every client refuses what it signs from then on,
and if it comes back online it erases this organisation's data it holds.

When the device is yours, your user keys are rotated first: a new key,
sealed to each of your remaining devices' own seal keys, so that nothing
sealed to you from then on opens with the revoked device's copy. Devices
enrolled before device seal keys existed can't receive it: they are listed
and must be enrolled again. (An administrator's revocation leaves it to
your next use of a remaining device.)

Then the key of every vault its user is in is rotated: here for the vaults
you manage, by their managers' devices at their next use for the others.
What the revoked device's copy of the user's keys still opens is in
SPEC.md §15.2. A device can't revoke itself.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDeviceRevoke(cmd.Context(), g, args[0], newConsole(cmd))
		},
	}
}

func runDeviceRevoke(ctx context.Context, g *globalOptions, ref string, con *console) error {
	s, err := g.unlock(ctx, con, false)
	if err != nil {
		return err
	}
	defer s.Close()
	r, err := s.RevokeDevice(ctx, ref)
	if r.Device != nil && r.Device.Revoked() {
		fmt.Fprintf(con.out, "revoked device %s (%s)\n", r.Device.ID, shown(r.Device.Label))
	}
	if r.UserKeys != nil {
		fmt.Fprintf(con.out, "rotated your user keys\n")
		for _, d := range r.UserKeys.Stranded {
			fmt.Fprintf(con.out, "device %s (%s) can't receive your new keys: enrol it again ('coffre device invite' on a device that has them), then revoke it\n", d.ID, shown(d.Label))
		}
	}
	if r.UserKeysErr != nil {
		fmt.Fprintf(con.out, "your user keys were not rotated: %v\n", r.UserKeysErr)
	}
	for _, v := range r.Rotated {
		fmt.Fprintf(con.out, "rotated the key of vault %s\n", shown(v.Name))
	}
	for _, v := range r.Pending {
		fmt.Fprintf(con.info, "vault %s: its managers' devices rotate its key at their next use\n", shown(v.Name))
	}
	if r.Device != nil && r.Device.UserID != s.Identity().UserID && s.Organisation().AwaitsUserKeys(r.Device.UserID) {
		// SPEC.md §15.2: only the person's own devices can replace their keys.
		fmt.Fprintf(con.info, "the person's keys are replaced when they next open coffre on another of their devices; until then, new keys of the vaults they are in wait, and so do writes to those that need one\n")
	}
	return err
}
