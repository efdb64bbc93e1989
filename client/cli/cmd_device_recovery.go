package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/coffre/coffre/client"
)

func newDeviceRecoveryCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "recovery",
		Short: "Recover your account: a recovery file, or shares held by trusted members",
		Long: `A recovery file is a device of yours kept in a file, encrypted under a secret
printed once. With both, you enrol a new device on your own when you lost
every other one or forgot your passphrase. Keep the file and the secret
apart (the secret on paper, the file on a USB key). Anyone with both can act
as you: revoke the recovery device ('coffre device revoke') if either leaks.

Or share it: 'coffre device recovery share' splits the secret among trusted
members (K of N), who help you with 'coffre device recovery assist YOUR-EMAIL'
while you run 'coffre device recovery claim LINK...'.`,
	}
	cmd.AddCommand(newDeviceRecoveryExportCommand(g), newDeviceRecoveryImportCommand(g),
		newDeviceRecoveryShareCommand(g), newDeviceRecoveryAssistCommand(g), newDeviceRecoveryClaimCommand(g))
	return cmd
}

func newDeviceRecoveryExportCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "export FILE",
		Short: "Enrol a recovery device and write it to FILE; print its secret once",
		Long: `Enrol a new "recovery" device of yours (a certificate in the organisation log,
listed by 'coffre device list') and write it to FILE, encrypted under a random
secret of 30 characters printed once, here: write it down. FILE must not
exist.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDeviceRecoveryExport(cmd.Context(), g, args[0], newConsole(cmd))
		},
	}
}

func runDeviceRecoveryExport(ctx context.Context, g *globalOptions, file string, con *console) error {
	s, err := g.unlock(ctx, con, false)
	if err != nil {
		return err
	}
	defer s.Close()
	secret, d, err := s.ExportRecovery(ctx, file)
	if err != nil {
		return err
	}
	fmt.Fprintf(con.info, "recovery device %s (%s) written to %s\n", d.ID, shown(d.Label), file)
	fmt.Fprintln(con.info, "its secret, shown only now (write it down, keep it apart from the file):")
	fmt.Fprintln(con.out, secret)
	return nil
}

type recoveryImportOptions struct {
	secretFile, label string
}

func newDeviceRecoveryImportCommand(g *globalOptions) *cobra.Command {
	var opts recoveryImportOptions
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Enrol a new device of yours from a recovery file and its secret",
		Long: `Open the recovery FILE with its secret (asked on the terminal, or read from
--secret-file) and enrol a new device of its user in --home, which must hold
no device yet; the recovery device signs its certificate and hands over your
keys. Then revoke the devices you lost, and the recovery device, and export
a new recovery file.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDeviceRecoveryImport(cmd.Context(), g, args[0], opts, newConsole(cmd))
		},
	}
	cmd.Flags().StringVar(&opts.secretFile, "secret-file", "", "read the recovery secret from the first line of this file")
	cmd.Flags().StringVar(&opts.label, "device-label", "", "label of the new device (default: the host name)")
	return cmd
}

func runDeviceRecoveryImport(ctx context.Context, g *globalOptions, file string, opts recoveryImportOptions, con *console) error {
	if client.HasDevice(g.home) {
		return client.ErrAlreadyEnrolled
	}
	if _, err := os.Stat(file); err != nil {
		return err
	}
	secret, err := recoverySecret(opts.secretFile)
	if err != nil {
		return err
	}
	pass, err := g.passphrase(con, true)
	if err != nil {
		return err
	}
	s, err := client.ImportRecovery(ctx, file, secret, g.home, opts.label, pass)
	if err != nil {
		return err
	}
	defer s.Close()
	id := s.Identity()
	fmt.Fprintf(con.out, "enrolled device %s (%s) from the recovery file\n", id.DeviceID, shown(id.DeviceLabel))
	fmt.Fprintln(con.info, "now revoke the devices you lost and the recovery device ('coffre device list', 'coffre device revoke'), and export a new recovery file")
	return nil
}

// recoverySecret reads the secret from a file, or asks it on the terminal
// without echo: never from the command line, which other users can see.
func recoverySecret(file string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("reading the secret file: %w", err)
		}
		first, _, _ := strings.Cut(string(b), "\n")
		return first, nil
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", errors.New("no terminal to ask the recovery secret on: use --secret-file")
	}
	defer tty.Close()
	fmt.Fprint(tty, "Recovery secret: ")
	b, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	return string(b), err
}
