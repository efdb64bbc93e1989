package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffre/coffre/client"
)

// A running sync listens on a Unix socket in the data directory (mode
// 0600: only this account reaches it) for "lock" and "unlock PASSPHRASE".
// Locked, it forgets the device keys and leaves the folder as it is until
// unlocked.

func controlDir(home string) string { return filepath.Join(home, "sync") }

// serveControl answers lock and unlock requests for u until ctx ends.
func serveControl(ctx context.Context, home string, u *client.Unlocked, lockAfter time.Duration, activity <-chan struct{}, wake func()) (func(), error) {
	path := filepath.Join(controlDir(home), fmt.Sprintf("%d.sock", os.Getpid()))
	os.Remove(path)
	lis, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		lis.Close()
		return nil, err
	}
	go func() {
		<-ctx.Done()
		lis.Close()
	}()
	unlocked := make(chan struct{}, 1)
	if lockAfter > 0 {
		// Idle lock: the keys are forgotten after lockAfter without the
		// person doing anything in the folder (or unlocking).
		go func() {
			t := time.NewTimer(lockAfter)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-activity:
				case <-unlocked:
				case <-t.C:
					u.Lock()
					wake()
					continue
				}
				if !t.Stop() {
					select {
					case <-t.C:
					default:
					}
				}
				t.Reset(lockAfter)
			}
		}()
	}
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				line, _ := bufio.NewReader(c).ReadString('\n')
				cmd, arg, _ := strings.Cut(strings.TrimRight(line, "\n"), " ")
				switch cmd {
				case "lock":
					u.Lock()
					wake()
					fmt.Fprintln(c, "ok")
				case "unlock":
					if err := u.Relock(home, []byte(arg)); err != nil {
						fmt.Fprintln(c, "error", err)
						return
					}
					select {
					case unlocked <- struct{}{}:
					default:
					}
					fmt.Fprintln(c, "ok")
				default:
					fmt.Fprintln(c, "error unknown request")
				}
			}()
		}
	}()
	return func() { lis.Close(); os.Remove(path) }, nil
}

// tellSyncs sends a request to every running sync of this data directory.
func tellSyncs(home, request string) (int, error) {
	socks, _ := filepath.Glob(filepath.Join(controlDir(home), "*.sock"))
	n := 0
	var errs []error
	for _, s := range socks {
		c, err := net.DialTimeout("unix", s, time.Second)
		if err != nil {
			os.Remove(s) // a sync that died without cleaning up
			continue
		}
		fmt.Fprintln(c, request)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		answer, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if strings.HasPrefix(answer, "ok") {
			n++
		} else {
			errs = append(errs, errors.New(strings.TrimSpace(strings.TrimPrefix(answer, "error "))))
		}
	}
	return n, errors.Join(errs...)
}

func newLockCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "lock",
		Short: "Make running syncs forget the device keys until 'coffre unlock'",
		Long: `Lock: every running 'coffre sync' of this device forgets the unlocked keys and
leaves its folder as it is until 'coffre unlock'. Other commands keep no keys
between runs: each asks for the passphrase.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, err := tellSyncs(g.home, "lock")
			fmt.Fprintf(cmd.OutOrStdout(), "locked %d running sync(s)\n", n)
			return err
		},
	}
}

func newUnlockCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "unlock",
		Short: "Give the passphrase back to locked syncs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pass, err := g.passphrase(newConsole(cmd), false)
			if err != nil {
				return err
			}
			if _, err := client.Unlock(g.home, pass); err != nil {
				return err // checked here first: a wrong passphrase reaches no sync
			}
			n, err := tellSyncs(g.home, "unlock "+string(pass))
			fmt.Fprintf(cmd.OutOrStdout(), "unlocked %d running sync(s)\n", n)
			return err
		},
	}
}
