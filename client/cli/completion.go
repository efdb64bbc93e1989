package cli

import (
	"context"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client"
)

// Shell completion of vault names and vault paths, from this device's
// local state only: no server call and never a prompt (a Tab that asks
// for a passphrase, or waits on the network, is worse than none).
//
// What local state holds in clear is not enough: state.db is sealed under
// the state key, which the key file keeps under the passphrase, and nothing
// else on disk names a vault (SECURITY.md A37; completion writes no cache of
// names). So vault names are completed only when the passphrase comes
// without a prompt (COFFRE_PASSPHRASE or --passphrase-file, as in a
// session that set it), at the cost of one key-file unlock per Tab;
// otherwise nothing is offered. Inside a vault only the root, "VAULT:/",
// is offered: folder contents are in the vault's manifests, which this
// device reads from the server.

// completeArgs gives every command whose usage line names a VAULT or a
// VAULT:/path argument (the commands other files define, and those added
// later) its completion, from that usage line.
func completeArgs(root *cobra.Command, g *globalOptions) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.ValidArgsFunction == nil && c.Runnable() {
			if kinds := argKinds(c.Use); len(kinds) > 0 {
				c.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
					kind := "LOCAL"
					if len(args) < len(kinds) {
						kind = kinds[len(args)]
					} else if strings.HasSuffix(kinds[len(kinds)-1], "...") {
						kind = kinds[len(kinds)-1]
					}
					return g.complete(cmd.Context(), kind, toComplete)
				}
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// argKinds returns the argument names of a usage line ("get VAULT:/path
// LOCAL" gives VAULT:/path, LOCAL), or nil when none is a vault.
func argKinds(use string) []string {
	fields := strings.Fields(use)
	var kinds []string
	vault := false
	for _, f := range fields[1:] {
		if strings.HasPrefix(f, "[-") || strings.HasPrefix(f, "-") || f == "|" {
			break
		}
		f = strings.Trim(f, "[]")
		kinds = append(kinds, f)
		vault = vault || strings.HasPrefix(f, "VAULT")
	}
	if !vault {
		return nil
	}
	return kinds
}

func (g *globalOptions) complete(ctx context.Context, kind, toComplete string) ([]string, cobra.ShellCompDirective) {
	switch {
	case strings.HasPrefix(kind, "VAULT:") || strings.HasPrefix(kind, "VAULT["):
		if strings.Contains(toComplete, ":") {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		names := g.vaultNames(ctx, toComplete)
		for i := range names {
			names[i] += ":/"
		}
		return names, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
	case strings.HasPrefix(kind, "VAULT"):
		return g.vaultNames(ctx, toComplete), cobra.ShellCompDirectiveNoFileComp
	case kind == "LOCAL" || kind == "DIR" || kind == "ROOT":
		return nil, cobra.ShellCompDirectiveDefault
	}
	return nil, cobra.ShellCompDirectiveNoFileComp
}

// vaultNames are the names of this user's vaults that start with prefix,
// read from the device's verified state, or none when that needs a prompt.
func (g *globalOptions) vaultNames(ctx context.Context, prefix string) []string {
	if !client.HasDevice(g.home) {
		return nil
	}
	p, ok := g.passphraseWithoutPrompt()
	if !ok {
		return nil
	}
	s, err := client.Open(ctx, g.home, p)
	if err != nil {
		return nil
	}
	defer s.Close()
	vaults, err := s.Vaults()
	if err != nil {
		return nil
	}
	var names []string
	for _, v := range vaults {
		if strings.HasPrefix(v.Name, prefix) && !strings.ContainsAny(v.Name, ": \t\n") {
			names = append(names, v.Name)
		}
	}
	slices.Sort(names)
	return names
}

// passphraseWithoutPrompt is the passphrase when it comes from
// --passphrase-file or COFFRE_PASSPHRASE.
func (g *globalOptions) passphraseWithoutPrompt() ([]byte, bool) {
	if g.passphraseFile == "" && os.Getenv("COFFRE_PASSPHRASE") == "" {
		return nil, false
	}
	p, err := g.passphrase(nil, false)
	return p, err == nil
}
