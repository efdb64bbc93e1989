package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/certificate"
)

type userProfileOptions struct {
	user, profile string
}

func newUserProfileCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "profile USER PROFILE",
		Short: "Change a user's profile: admin, standard or outsider (administrators only)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runUserProfile(cmd.Context(), g, userProfileOptions{user: args[0], profile: args[1]}, newConsole(cmd))
		},
	}
}

func runUserProfile(ctx context.Context, g *globalOptions, opts userProfileOptions, con *console) error {
	p, err := certificate.ParseProfile(opts.profile)
	if err != nil {
		return err
	}
	s, err := g.unlock(ctx, con, false)
	if err != nil {
		return err
	}
	defer s.Close()
	u, err := s.SetProfile(ctx, opts.user, p)
	if err != nil {
		return err
	}
	fmt.Fprintf(con.info, "%s is now %s\n", person(u), p)
	return nil
}
