// Package usage tells a command line that does not parse from a command
// that ran and failed, for both binaries, so that each exits with status 2
// for it (as 'coffre --help' documents) and says what is wrong in one line.
package usage

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

// Error is a command line that does not parse: cobra's own errors
// (unknown flag, wrong number of arguments), unknown commands, and an
// argument a command can't read (a malformed VAULT:/path).
type Error struct{ Err error }

func (u Error) Error() string { return u.Err.Error() }
func (u Error) Unwrap() error { return u.Err }

// Errorf is a usage Error with a formatted message.
func Errorf(format string, a ...any) error { return Error{fmt.Errorf(format, a...)} }

// Is reports whether err is, or wraps, a usage Error.
func Is(err error) bool {
	var u Error
	return errors.As(err, &u)
}

// Mark makes every command's argument and flag errors
// usage Errors, and makes a command group refuse an unknown subcommand
// (cobra prints the group's help and exits 0 for 'coffre vault frobnicate').
func Mark(root *cobra.Command) {
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return Error{err} })
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if args := c.Args; args != nil {
			c.Args = func(cmd *cobra.Command, a []string) error {
				if err := args(cmd, a); err != nil {
					return Error{err}
				}
				return nil
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// UnknownCommand refuses a command line that names a subcommand that does
// not exist, in one line (cobra adds "Did you mean this?" lines at the root,
// and under a group such as 'coffre vault frobnicate' prints the group's
// help and succeeds).
func UnknownCommand(root *cobra.Command, args []string) error {
	if len(args) > 0 && (args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd) {
		return nil // shell completion: cobra answers
	}
	// The commands cobra adds when it runs, so that Find knows them.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd(args...)
	c, rest, err := root.Find(args)
	if c == nil || (err == nil && (c.Runnable() || !c.HasSubCommands())) {
		return nil
	}
	if c.ParseFlags(rest) != nil {
		return nil // cobra reports the flag
	}
	a := c.Flags().Args()
	if len(a) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", a[0], c.CommandPath())
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2 // cobra sets it at the root only
	}
	if s := c.SuggestionsFor(a[0]); len(s) > 0 {
		msg += fmt.Sprintf(": did you mean %q?", s[0])
	}
	return Error{errors.New(msg)}
}
