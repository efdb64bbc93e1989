package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/workspace"
)

// vaultPath splits VAULT:/path.
func vaultPath(arg string) (vault, p string, err error) {
	vault, p, ok := strings.Cut(arg, ":")
	if !ok || vault == "" {
		return "", "", fmt.Errorf("%q: want VAULT:/path", arg)
	}
	if p == "" {
		p = "/"
	}
	return vault, p, nil
}

// openVault unlocks the device and opens the vault named in arg.
func (g *globalOptions) openVault(cmd *cobra.Command, arg string) (*client.Session, *workspace.Vault, string, error) {
	vault, p, err := vaultPath(arg)
	if err != nil {
		return nil, nil, "", err
	}
	s, err := g.unlock(cmd, false)
	if err != nil {
		return nil, nil, "", err
	}
	w, err := s.OpenVault(cmd.Context(), vault)
	if err != nil {
		s.Close()
		return nil, nil, "", err
	}
	warnQuarantined(cmd, s, w)
	return s, w, p, nil
}

// warnQuarantined says which writes of the vault were skipped because
// they don't open (SPEC.md §11.5), naming the device that signed them.
func warnQuarantined(cmd *cobra.Command, s *client.Session, w *workspace.Vault) {
	q := w.Log().Quarantined()
	if len(q) == 0 {
		return
	}
	last := q[len(q)-1]
	who := last.User
	if u, ok := s.Organisation().User(last.User); ok {
		who = u.Email
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "warning: %d write(s) to this vault don't open and are skipped, the last at entry %d by %s (device %s) on %s: ask them to write it again\n",
		len(q), last.Position, who, last.Author, last.Time.Format(time.RFC3339))
}

func atFlag(cmd *cobra.Command, at *string) {
	cmd.Flags().StringVar(at, "at", "", "read the vault as it was at this date (RFC 3339 or YYYY-MM-DD)")
}

func parseAt(at string) (time.Time, error) {
	if at == "" {
		return time.Time{}, nil
	}
	return parseDate(at)
}

func newLsCommand(g *globalOptions) *cobra.Command {
	var asJSON bool
	var at string
	cmd := &cobra.Command{
		Use:     "ls VAULT:/path",
		Short:   "List a folder of a vault",
		Example: "  coffre ls cardiology:/\n  coffre ls cardiology:/2026 --at 2026-11-01 --json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := parseAt(at)
			if err != nil {
				return err
			}
			s, w, p, err := g.openVault(cmd, args[0])
			if err != nil {
				return err
			}
			defer s.Close()
			items, err := w.List(p, t)
			if err != nil {
				return err
			}
			authors := map[string]string{}
			for _, u := range s.Organisation().Users() {
				authors[u.ID] = u.Email
			}
			if asJSON {
				type item struct {
					Name    string    `json:"name"`
					Folder  bool      `json:"folder"`
					Size    uint64    `json:"size"`
					Version uint64    `json:"version"`
					Updated time.Time `json:"updated"`
					Author  string    `json:"author"`
				}
				out := []item{}
				for _, i := range items {
					out = append(out, item{i.Name, i.Folder, i.Size, i.Version, i.Updated, authors[i.Author]})
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			for _, i := range items {
				name, size := shown(i.Name), fmt.Sprint(i.Size)
				if i.Folder {
					name, size = name+"/", "-"
				}
				fmt.Fprintf(tw, "%s\t%s\tv%d\t%s\t%s\n", name, size, i.Version, i.Updated.Local().Format("2006-01-02 15:04"), shown(authors[i.Author]))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	atFlag(cmd, &at)
	return cmd
}

func newMkdirCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "mkdir VAULT:/path",
		Short: "Create a folder in a vault",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, w, p, err := g.openVault(cmd, args[0])
			if err != nil {
				return err
			}
			defer s.Close()
			return w.Mkdir(cmd.Context(), p)
		},
	}
}

func newRmCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "rm VAULT:/path",
		Short: "Remove a file or an empty folder (its versions stay: get --at DATE reads it back)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, w, p, err := g.openVault(cmd, args[0])
			if err != nil {
				return err
			}
			defer s.Close()
			return w.Remove(cmd.Context(), p)
		},
	}
}

func newMvCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "mv VAULT:/from VAULT:/to",
		Short: "Rename or move a file or folder within a vault",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			v2, to, err := vaultPath(args[1])
			if err != nil {
				return err
			}
			s, w, from, err := g.openVault(cmd, args[0])
			if err != nil {
				return err
			}
			defer s.Close()
			if v1, _, _ := vaultPath(args[0]); v1 != v2 {
				return errors.New("mv works within one vault: get and put to copy between vaults")
			}
			return w.Move(cmd.Context(), from, to)
		},
	}
}

// progress prints bytes done on a terminal, and nothing otherwise.
func progress(cmd *cobra.Command, what string, total int64) (workspace.Progress, func()) {
	f, ok := cmd.ErrOrStderr().(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, func() {}
	}
	start := time.Now()
	last := time.Time{}
	return func(done int64) {
			if time.Since(last) < 200*time.Millisecond {
				return
			}
			last = time.Now()
			rate := float64(done) / 1e6 / max(time.Since(start).Seconds(), 1e-3)
			if total > 0 {
				fmt.Fprintf(f, "\r%s: %d/%d MB (%.0f%%) %.1f MB/s ", what, done>>20, total>>20, 100*float64(done)/float64(total), rate)
			} else {
				fmt.Fprintf(f, "\r%s: %d MB %.1f MB/s ", what, done>>20, rate)
			}
		}, func() {
			fmt.Fprint(f, "\r\033[K")
		}
}

func newPutCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "put LOCAL VAULT:/path",
		Short: "Upload a file (or a folder, recursively) into a vault",
		Long: `Upload LOCAL to VAULT:/path, encrypted on this device, block by block (memory
stays flat whatever the size). An existing file gets a new version; the old
ones stay in its history. If someone else changed the file meanwhile, nothing
is written and you are told. Use '-' as LOCAL to read standard input.`,
		Example: "  coffre put report.pdf cardiology:/2026/report.pdf\n  coffre put ./scans cardiology:/scans",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, w, p, err := g.openVault(cmd, args[1])
			if err != nil {
				return err
			}
			defer s.Close()
			if args[0] == "-" {
				_, err := w.Put(cmd.Context(), p, cmd.InOrStdin(), nil)
				return err
			}
			return putPath(cmd, w, args[0], p)
		},
	}
}

// putBatchFiles and putBatchBytes bound one commit of a recursive put:
// a folder receiving many files is rewritten once per batch.
const (
	putBatchFiles = 256
	putBatchBytes = 256 << 20
)

func putPath(cmd *cobra.Command, w *workspace.Vault, local, p string) error {
	info, err := os.Stat(local)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return putFile(cmd, w, local, p, info.Size())
	}
	var batch []workspace.PutItem
	var locals []string
	var batchBytes int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		vs, err := w.PutFiles(cmd.Context(), batch)
		if err != nil {
			return err
		}
		for i, v := range vs {
			fmt.Fprintf(cmd.OutOrStdout(), "%s → %s (v%d, %d bytes)\n", shown(locals[i]), shown(batch[i].Path), v.Version, v.Manifest.Size)
		}
		batch, locals, batchBytes = nil, nil, 0
		return nil
	}
	err = filepath.WalkDir(local, func(lp string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(local, lp)
		target := path.Join(p, filepath.ToSlash(rel))
		if d.IsDir() {
			if err := flush(); err != nil {
				return err
			}
			if err := w.Mkdir(cmd.Context(), target); err != nil && !errors.Is(err, workspace.ErrExists) {
				return err
			}
			return nil
		}
		if !d.Type().IsRegular() {
			fmt.Fprintf(cmd.ErrOrStderr(), "skipping %s: not a regular file\n", shown(lp))
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		batch = append(batch, workspace.PutItem{Path: target, Open: func() (io.ReadCloser, error) { return os.Open(lp) }})
		locals = append(locals, lp)
		if batchBytes += info.Size(); len(batch) >= putBatchFiles || batchBytes >= putBatchBytes {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

func putFile(cmd *cobra.Command, w *workspace.Vault, local, p string, size int64) error {
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	report, clear := progress(cmd, p, size)
	v, err := w.Put(cmd.Context(), p, f, report)
	clear()
	if err != nil {
		return fmt.Errorf("%s: %w", local, err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s → %s (v%d, %d bytes)\n", shown(local), shown(p), v.Version, v.Manifest.Size)
	return nil
}

func newGetCommand(g *globalOptions) *cobra.Command {
	var at string
	cmd := &cobra.Command{
		Use:   "get VAULT:/path LOCAL",
		Short: "Download a file (or a folder, recursively) from a vault",
		Long: `Download VAULT:/path to LOCAL, checking every block against the signed
manifest. The file appears only once complete and verified; folders are
created private (0700). Use '-' as LOCAL to write a file to standard output
(each block once verified: a failure stops it with an error); --at reads the
vault as it was then.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := parseAt(at)
			if err != nil {
				return err
			}
			s, w, p, err := g.openVault(cmd, args[0])
			if err != nil {
				return err
			}
			defer s.Close()
			if args[1] == "-" {
				// Streamed: the plaintext is staged nowhere (SPEC.md §9).
				_, err := w.WriteTo(cmd.Context(), p, t, cmd.OutOrStdout(), nil)
				return err
			}
			return getPath(cmd, w, p, t, args[1])
		},
	}
	atFlag(cmd, &at)
	return cmd
}

func getPath(cmd *cobra.Command, w *workspace.Vault, p string, t time.Time, local string) error {
	ver, err := w.Stat(p, t)
	if err != nil {
		return err
	}
	if !ver.Manifest.Folder {
		if st, err := os.Stat(local); err == nil && st.IsDir() {
			local = filepath.Join(local, path.Base(path.Clean("/"+p)))
		}
		report, clear := progress(cmd, p, int64(ver.Manifest.Size))
		v, err := w.Get(cmd.Context(), p, t, local, report)
		clear()
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s → %s (v%d, %d bytes)\n", shown(p), shown(local), v.Version, v.Manifest.Size)
		return nil
	}
	if err := os.MkdirAll(local, 0o700); err != nil {
		return err
	}
	items, err := w.List(p, t)
	if err != nil {
		return err
	}
	for _, i := range items {
		if err := getPath(cmd, w, path.Join(p, i.Name), t, filepath.Join(local, i.Name)); err != nil {
			return err
		}
	}
	return nil
}

func newHistoryCommand(g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "history VAULT:/path",
		Short: "List every version of a file or folder, with its author",
		Long: `List every version of VAULT:/path: the author is the device whose signature
was verified, never what the server says.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, w, p, err := g.openVault(cmd, args[0])
			if err != nil {
				return err
			}
			defer s.Close()
			versions, err := w.History(p)
			if err != nil {
				return err
			}
			type version struct {
				Version uint64    `json:"version"`
				Size    uint64    `json:"size"`
				Time    time.Time `json:"time"`
				Author  string    `json:"author"`
				Device  string    `json:"device"`
			}
			var out []version
			for _, v := range versions {
				author := v.User
				if u, ok := s.Organisation().User(v.User); ok {
					author = u.Email
				}
				out = append(out, version{v.Version, v.Manifest.Size, v.Time, author, v.Author})
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tSIZE\tTIME\tAUTHOR")
			for _, v := range out {
				fmt.Fprintf(tw, "v%d\t%d\t%s\t%s\n", v.Version, v.Size, v.Time.Local().Format("2006-01-02 15:04:05"), shown(v.Author))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newRestoreCommand(g *globalOptions) *cobra.Command {
	var version uint64
	cmd := &cobra.Command{
		Use:   "restore VAULT:/path --version N",
		Short: "Make an old version of a file current again (as a new version)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, w, p, err := g.openVault(cmd, args[0])
			if err != nil {
				return err
			}
			defer s.Close()
			if err := w.Restore(cmd.Context(), p, version); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s restored from v%d\n", shown(p), version)
			return nil
		},
	}
	cmd.Flags().Uint64Var(&version, "version", 0, "the version to restore (see coffre history)")
	cmd.MarkFlagRequired("version")
	return cmd
}
