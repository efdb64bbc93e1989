package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

type appInstallOptions struct {
	addr      string
	lockAfter time.Duration
}

func newAppInstallCommand(g *globalOptions) *cobra.Command {
	var opts appInstallOptions
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Start the app at each login (a systemd user service)",
		Long: `Write the systemd user service coffre-app.service
($XDG_CONFIG_HOME/systemd/user, by default ~/.config/systemd/user) that runs
'coffre app' with this binary and this data directory, and print the command
that starts it now and at each login. No passphrase is stored: the app starts
locked and its interface asks for it; 'coffre app open' prints the link.
On macOS and Windows this is not done yet: start 'coffre app' by hand.`,
		Example: "  coffre app install\n  systemctl --user enable --now coffre-app",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAppInstall(cmd.Context(), g, opts, newConsole(cmd))
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.addr, "addr", "", "the interface's address the service uses (default: any free port on 127.0.0.1)")
	f.DurationVar(&opts.lockAfter, "lock-after", 15*time.Minute, "the service's --lock-after")
	return cmd
}

func runAppInstall(_ context.Context, g *globalOptions, opts appInstallOptions, con *console) error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("coffre app install is not implemented on %s yet: run 'coffre app --open' in a terminal (or add it to your login items)", runtime.GOOS)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this program's path: %w", err)
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return fmt.Errorf("finding this program's path: %w", err)
	}
	home, err := filepath.Abs(g.home)
	if err != nil {
		return err
	}
	config := os.Getenv("XDG_CONFIG_HOME")
	if config == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return fmt.Errorf("no XDG_CONFIG_HOME and no home folder: %w", err)
		}
		config = filepath.Join(h, ".config")
	}
	args := []string{exe, "app", "--home", home, "--lock-after", opts.lockAfter.String()}
	if opts.addr != "" {
		args = append(args, "--addr", opts.addr)
	}
	for i, a := range args {
		args[i] = systemdQuote(a)
	}
	unit := `[Unit]
Description=coffre app: web interface, folder sync and fast command line
After=network-online.target

[Service]
ExecStart=` + strings.Join(args, " ") + `
Restart=on-failure

[Install]
WantedBy=default.target
`
	dir := filepath.Join(config, "systemd", "user")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, "coffre-app.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(con.out, "wrote %s\nstart it now and at each login:\n  systemctl --user enable --now coffre-app\nthen open its interface:\n  coffre app open\n", path)
	return nil
}

// systemdQuote quotes one ExecStart argument (systemd.syntax: double
// quotes, backslash escapes; % is a specifier and doubles).
func systemdQuote(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	if !strings.ContainsAny(s, " \t\"'\\;$") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", "$$")
	return `"` + r.Replace(s) + `"`
}
