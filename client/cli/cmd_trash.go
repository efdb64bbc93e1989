package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

type trashOptions struct {
	target string // VAULT or VAULT:/folder
	json   bool
}

func newTrashCommand(g *globalOptions) *cobra.Command {
	var opts trashOptions
	cmd := &cobra.Command{
		Use:   "trash VAULT[:/folder]",
		Short: "List removed files and folders, with who removed them and when",
		Long: `List what was removed from VAULT (under /folder, if given) and not brought
back: where it was, its last version, when and by whom it was removed. Who and
when come from the signed folder version that no longer lists it, never from
the server. Bring one back with coffre undelete VAULT:/path.`,
		Example: "  coffre trash cardiology\n  coffre trash cardiology:/2026\n  coffre undelete cardiology:/2026/scan.pdf",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.target = args[0]
			return runTrash(cmd.Context(), g, opts, newConsole(cmd))
		},
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, "print JSON")
	return cmd
}

func runTrash(ctx context.Context, g *globalOptions, opts trashOptions, con *console) error {
	target := opts.target
	if !strings.Contains(target, ":") {
		target += ":/"
	}
	s, w, p, err := g.openVault(ctx, con, target)
	if err != nil {
		return err
	}
	defer s.Close()
	removed, err := w.Trash(p)
	if err != nil {
		return err
	}
	type entry struct {
		Path      string    `json:"path"`
		Folder    bool      `json:"folder"`
		Version   uint64    `json:"version"`
		Size      uint64    `json:"size"`
		RemovedAt time.Time `json:"removed_at"`
		RemovedBy string    `json:"removed_by"`
		Device    string    `json:"device"`
	}
	out := []entry{}
	for _, r := range removed {
		by := r.By
		if u, ok := s.Organisation().User(r.By); ok {
			by = personEmail(u)
		}
		out = append(out, entry{r.Path, r.Folder, r.Version.Version, r.Version.Manifest.Size, r.At, by, r.Device})
	}
	if opts.json {
		return printJSON(con.out, out)
	}
	if len(out) == 0 {
		fmt.Fprintln(con.out, "the trash is empty")
		return nil
	}
	tw := tabwriter.NewWriter(con.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PATH\tVERSION\tREMOVED\tBY")
	for _, e := range out {
		name := shown(e.Path)
		if e.Folder {
			name += "/"
		}
		fmt.Fprintf(tw, "%s\tv%d\t%s\t%s\n", name, e.Version, e.RemovedAt.Local().Format("2006-01-02 15:04:05 MST"), shown(e.RemovedBy))
	}
	return tw.Flush()
}
