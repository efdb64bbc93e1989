package cli

import (
	"context"
	"os"
	"slices"
	"strings"
	"time"

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
// names). So vault names and paths are completed only when the passphrase
// comes without a prompt (COFFRE_PASSPHRASE or --passphrase-file, as in a
// session that set it), at the cost of one key-file unlock per Tab;
// otherwise nothing is offered. Inside a vault, the names in a folder come
// from the vault log this device verified last (client.LocalVault), which
// may be behind the server's: a file a colleague just put is completed
// once this device has read the vault again.

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
		if strings.HasPrefix(f, "[-") && strings.HasSuffix(f, "]") {
			continue // an optional flag of its own, such as mkdir's [-p]
		}
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
		if vault, p, ok := strings.Cut(toComplete, ":"); ok {
			return g.vaultPaths(ctx, vault, p), cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
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
	var names []string
	g.withLocalSession(ctx, func(s *client.Session) {
		vaults, err := s.Vaults()
		if err != nil {
			return
		}
		for _, v := range vaults {
			if strings.HasPrefix(v.Name, prefix) && completable(v.Name) {
				names = append(names, v.Name)
			}
		}
	})
	slices.Sort(names)
	return names
}

// vaultPaths completes the path p inside a vault: the files and folders of
// the folder it names whose names start with what follows its last slash,
// as VAULT:/folder/name (a folder with its slash, to go on typing).
func (g *globalOptions) vaultPaths(ctx context.Context, vault, p string) []string {
	dir, prefix := "/", p
	if i := strings.LastIndex(p, "/"); i >= 0 {
		dir, prefix = p[:i+1], p[i+1:]
	}
	if !strings.HasPrefix(dir, "/") {
		dir = "/" + dir
	}
	var out []string
	g.withLocalSession(ctx, func(s *client.Session) {
		w, err := s.LocalVault(vault)
		if err != nil {
			return
		}
		if v, err := w.Stat(dir, time.Time{}); err != nil || !v.Manifest.Folder {
			return
		}
		items, err := w.List(dir, time.Time{})
		if err != nil {
			return
		}
		for _, it := range items {
			if !strings.HasPrefix(it.Name, prefix) || !completable(it.Name) {
				continue
			}
			c := vault + ":" + dir + it.Name
			if it.Folder {
				c += "/"
			}
			out = append(out, c)
		}
	})
	slices.Sort(out)
	return out
}

// completable reports whether a name can be offered to the shell as it
// is: none that a shell would split or that the vault path syntax reads,
// and none with characters that could redraw the terminal when the shell
// lists the choices (someone else chose it: SECURITY.md A26).
func completable(name string) bool {
	return !strings.ContainsAny(name, ": \t\n") && shown(name) == name
}

// withLocalSession runs fn on this device's session when it opens without
// a prompt and without the server.
func (g *globalOptions) withLocalSession(ctx context.Context, fn func(*client.Session)) {
	if !client.HasDevice(g.home) {
		return
	}
	p, ok := g.passphraseWithoutPrompt()
	if !ok {
		return
	}
	s, err := client.Open(ctx, g.home, p)
	if err != nil {
		return
	}
	defer s.Close()
	fn(s)
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
