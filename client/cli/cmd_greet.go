package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

type greetOptions struct {
	kind string // user or device
	ref  string // invitation id or email; empty: the only pending one
	yes  bool
}

// newGreetCommand is 'user greet' and 'device greet'.
func newGreetCommand(g *globalOptions, kind string) *cobra.Command {
	opts := greetOptions{kind: kind}
	cmd := &cobra.Command{
		Use:   "greet [INVITATION]",
		Short: fmt.Sprintf("Greet the %s claiming an invitation: compare codes, then enrol", kind),
		Long: fmt.Sprintf(`Greet whoever opens a pending %[1]s invitation (by id or email; the only
pending one when omitted). Both sides show a 4-character code: read yours to
the other person and type theirs. If the codes don't match, someone is in the
middle: the attempt is aborted on both sides and burned.

Without a terminal, the other person's code is read from standard input (one
line), then the confirmation (y), unless --yes.`, kind),
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ref = firstArg(args)
			return runGreet(cmd.Context(), g, opts, newConsole(cmd))
		},
	}
	cmd.Flags().BoolVar(&opts.yes, "yes", false, "enrol without asking to confirm who is joining (the codes are still compared)")
	return cmd
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

func runGreet(ctx context.Context, g *globalOptions, opts greetOptions, con *console) error {
	s, err := g.unlock(ctx, con, false)
	if err != nil {
		return err
	}
	defer s.Close()
	inv, err := s.FindInvitation(ctx, opts.kind, opts.ref)
	if err != nil {
		return err
	}
	res, err := s.Greet(ctx, inv, &prompter{c: con, yes: opts.yes})
	if err != nil {
		return err
	}
	if opts.kind == "user" {
		fmt.Fprintf(con.info, "enrolled %s <%s> as user %s, with device %s\n", shown(res.Claimer.Name), shown(res.Claimer.Email), res.UserID, res.DeviceID)
	} else {
		fmt.Fprintf(con.info, "enrolled device %s (%s)\n", res.DeviceID, shown(res.Claimer.DeviceLabel))
	}
	return nil
}
