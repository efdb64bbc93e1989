package cli

import (
	"context"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/client/app"
)

// Shell completion of vault names and vault paths, from this device's
// local state only: no server call and never a prompt (a Tab that asks
// for a passphrase, or waits on the network, is worse than none).
//
// What local state holds in clear is not enough: state.db is sealed under
// the state key, which the key file keeps under the passphrase, and nothing
// else on disk names a vault (SECURITY.md A37; completion writes no cache of
// names). So vault names and paths are completed when the app of this data
// directory runs unlocked (SPEC.md §14.5: asked on its socket, as ls is),
// or else when the passphrase comes without a prompt (COFFRE_PASSPHRASE or
// --passphrase-file, as in a session that set it), at the cost of one
// key-file unlock per Tab; otherwise nothing is offered. Alone, the names
// in a folder come from the vault log this device verified last
// (client.LocalVault), which may be behind the server's: a file a colleague
// just put is completed once this device has read the vault again. The
// app's answer is as fresh as its session, which events keep up to date.

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
	add := func(vaults []client.VaultInfo) {
		for _, v := range vaults {
			if strings.HasPrefix(v.Name, prefix) && completable(v.Name) {
				names = append(names, v.Name)
			}
		}
	}
	if c := g.completionApp(ctx); c != nil {
		ctx, cancel := context.WithTimeout(ctx, completionWait)
		defer cancel()
		if a, err := c.Vaults(ctx); err == nil {
			add(a.Vaults)
		}
	} else {
		g.withLocalSession(ctx, func(s *client.Session) {
			if vaults, err := s.Vaults(); err == nil {
				add(vaults)
			}
		})
	}
	slices.Sort(names)
	return names
}

// completionWait bounds what a Tab waits for the app's answer.
const completionWait = 2 * time.Second

// completionApp is the app of this data directory when it answers
// unlocked, as for the commands (viaApp), within completionWait.
func (g *globalOptions) completionApp(ctx context.Context) *app.Client {
	ctx, cancel := context.WithTimeout(ctx, completionWait)
	defer cancel()
	return g.viaApp(ctx)
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
	add := func(name string, folder bool) {
		if !strings.HasPrefix(name, prefix) || !completable(name) {
			return
		}
		c := vault + ":" + dir + name
		if folder {
			c += "/"
		}
		out = append(out, c)
	}
	if c := g.completionApp(ctx); c != nil {
		ctx, cancel := context.WithTimeout(ctx, completionWait)
		defer cancel()
		// A file's path lists the file itself: only a folder's items count.
		if appIsFolder(ctx, c, vault, dir) {
			if items, err := c.Ls(ctx, vault+":"+dir, time.Time{}); err == nil {
				for _, it := range items {
					add(it.Name, it.Folder)
				}
			}
		}
	} else {
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
				add(it.Name, it.Folder)
			}
		})
	}
	slices.Sort(out)
	return out
}

// appIsFolder reports whether dir (ending in a slash) is a folder of the
// vault, by the app's listing of its parent: ls of a file lists the file.
func appIsFolder(ctx context.Context, c *app.Client, vault, dir string) bool {
	clean := path.Clean(dir)
	if clean == "/" {
		return true
	}
	items, err := c.Ls(ctx, vault+":"+path.Dir(clean), time.Time{})
	if err != nil {
		return false
	}
	for _, it := range items {
		if it.Name == path.Base(clean) {
			return it.Folder
		}
	}
	return false
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
