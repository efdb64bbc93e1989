package cli

import (
	"context"
	"errors"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/client/app"
	"github.com/coffre/coffre/workspace"
)

type appOptions struct {
	addr      string
	lockAfter time.Duration
	open      bool
}

func newAppCommand(g *globalOptions) *cobra.Command {
	var opts appOptions
	cmd := &cobra.Command{
		Use:   "app",
		Short: "Run coffre's app until stopped: the web interface, the syncs, a fast command line",
		Long: `Run this device's app until interrupted (Ctrl-C): it holds the unlocked keys,
serves the web interface on this machine only (127.0.0.1), keeps the folders
you add there in sync, and answers 'coffre ls', put, get, mkdir, mv, rm,
vault list and status at once (no passphrase asked) while it is unlocked.

It prints the interface's address with a login link that opens one browser
once (--open opens it for you); 'coffre app open' gives another. The
passphrase is asked at start (or read from --passphrase-file or
COFFRE_PASSPHRASE); without a terminal, or when you press Enter, it starts
locked and the interface asks for it. Without a device yet, the interface
lets you claim your invitation.

After --lock-after without you (no use of the interface or of a command, no
change in a synced folder) it forgets the keys: the syncs wait and the
interface shows the lock screen until the passphrase is given again there or
with 'coffre unlock'. 'coffre lock' locks it at once. 'coffre app install'
starts it at each login.`,
		Example: "  coffre app --open\n  coffre app --addr 127.0.0.1:8384 --lock-after 5m\n  coffre app open\n  coffre app install",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runApp(cmd.Context(), g, opts, newConsole(cmd))
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.addr, "addr", app.DefaultAddr, "the interface's address: a loopback address and port (port 0: any free one)")
	f.DurationVar(&opts.lockAfter, "lock-after", 15*time.Minute, "forget the keys after this long without you (0: only 'coffre lock' locks)")
	f.BoolVar(&opts.open, "open", false, "open the interface in the browser")
	cmd.AddCommand(newAppOpenCommand(g), newAppInstallCommand(g))
	return cmd
}

func runApp(ctx context.Context, g *globalOptions, opts appOptions, con *console) error {
	if opts.lockAfter < 0 {
		return fmt.Errorf("--lock-after can't be negative (got %s)", opts.lockAfter)
	}
	a := app.New(g.home, opts.lockAfter)
	// The wipe on return (SPEC.md §15.3): the report the commands print,
	// and the app's sentence, which every call now answers.
	a.OnRevoked = func(e *app.RevokedError) {
		printWipeReport(con, e.Report)
		fmt.Fprintf(con.err, "coffre app: %s\n", shown(e.Error()))
	}
	if err := a.Listen(opts.addr); err != nil {
		return err
	}
	state := "no device yet: claim your invitation in the interface"
	if client.HasDevice(g.home) {
		state = "locked: unlock it in the interface"
		pass, err := g.appPassphrase(con)
		if err != nil {
			a.Close()
			return err
		}
		if len(pass) > 0 {
			if err := a.Unlock(ctx, pass); err != nil {
				a.Close()
				return err
			}
			state = "unlocked"
		}
	}
	url := a.LoginURL()
	fmt.Fprintf(con.out, "coffre app: %s; the interface, for one browser (Ctrl-C stops the app):\n  %s\n", state, url)
	if opts.open {
		openInBrowser(g.home, url)
	}
	return a.Serve(ctx)
}

// appPassphrase is the passphrase to start unlocked with: from the file or
// the environment, else asked on the terminal; nil (start locked) without
// a terminal or when the person just presses Enter.
func (g *globalOptions) appPassphrase(con *console) ([]byte, error) {
	if g.passphraseFile != "" || os.Getenv("COFFRE_PASSPHRASE") != "" {
		return g.passphrase(con, false)
	}
	if !con.tty {
		return nil, nil
	}
	fmt.Fprintln(con.out, "Passphrase (Enter: start locked, unlock in the interface)")
	p, err := g.passphrase(con, false)
	if err != nil {
		return nil, nil // no terminal after all
	}
	return p, nil
}

// openInBrowser opens the login link in the person's browser, without
// putting the token on a command line (where every account of the machine
// can read it, ps): the browser opens a private file that redirects to it,
// as Jupyter does. A failure is ignored: the link is printed anyway.
func openInBrowser(home, url string) {
	page := filepath.Join(filepath.Dir(app.SocketPath(home)), "open.html")
	body := `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=` + html.EscapeString(url) + `"><title>coffre</title><a href="` + html.EscapeString(url) + `">coffre</a>`
	if err := os.WriteFile(page, []byte(body), 0o600); err != nil {
		return
	}
	opener := "xdg-open"
	if runtime.GOOS == "darwin" {
		opener = "open"
	}
	cmd := exec.Command(opener, "file://"+page)
	if cmd.Start() == nil {
		go cmd.Wait()
	}
	// The page is read once; then it holds a spent token.
	time.AfterFunc(time.Minute, func() { os.Remove(page) })
}

func newAppOpenCommand(g *globalOptions) *cobra.Command {
	var opts struct{ open bool }
	cmd := &cobra.Command{
		Use:   "open",
		Short: "Print (and open) a new login link to the running app's interface",
		Long: `Ask the running 'coffre app' for a new login link (each link opens one
browser once), print it, and open it in the browser (--open=false: print only).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			con := newConsole(cmd)
			c, _ := app.Dial(cmd.Context(), g.home)
			if c == nil {
				return errAppNotRunning
			}
			url, err := c.LoginURL(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintln(con.out, url)
			if opts.open {
				openInBrowser(g.home, url)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&opts.open, "open", true, "open the link in the browser (--open=false: print only)")
	return cmd
}

// errAppNotRunning: no app answers on this data directory's socket.
var errAppNotRunning = errors.New("no coffre app runs for this data directory: start one with 'coffre app'")

// transferViaApp runs a put or a get in the running app (when it runs
// unlocked and local is not '-') and prints what it moves as the command
// does alone. ok false: the command works alone.
func (g *globalOptions) transferViaApp(ctx context.Context, con *console, local string, do func(c *app.Client, abs string, fn func(app.TransferEvent)) error) (ok bool, err error) {
	if local == "-" {
		return false, nil
	}
	c := g.viaApp(ctx)
	if c == nil {
		return false, nil
	}
	abs, err := filepath.Abs(local)
	if err != nil {
		return true, err
	}
	// The app names local paths absolute; show them as they were typed.
	typed := func(p string) string {
		if rest, ok := strings.CutPrefix(p, abs); ok {
			return local + rest
		}
		return p
	}
	progress := newTransferPrinter(con)
	defer progress.clear()
	return true, do(c, abs, func(ev app.TransferEvent) {
		switch ev.Kind {
		case "started":
			progress.Started(ev.From, ev.Size)
		case "done":
			progress.Done(typed(ev.From), typed(ev.To), workspace.Version{Version: ev.Version, Manifest: &workspace.Manifest{Size: uint64(ev.Size)}})
		case "skipped":
			progress.Skipped(typed(ev.From), errors.New(ev.Reason))
		}
	})
}
