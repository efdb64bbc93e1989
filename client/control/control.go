// Package control is how a running sync is told to forget its keys or take
// them back: a Unix socket in the data directory (mode 0600: only this
// account reaches it) answering one line — "lock", "unlock PASSPHRASE",
// "touch" (the person just used coffre) or "ping" (are you running?) — and
// an idle lock that forgets the keys after a while without the person.
package control

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/coffre/coffre/client"
)

// Dir is where the sockets of a data directory's running syncs live.
func Dir(home string) string { return filepath.Join(home, "sync") }

// requestTimeout bounds how long one client may hold a connection.
const requestTimeout = 30 * time.Second

// Server answers lock and unlock requests for the keys of one running
// sync, and locks them after LockAfter without activity.
type Server struct {
	// Keys are the keys that lock forgets and unlock takes back.
	Keys *client.Unlocked
	// LockAfter is the idle lock's delay; zero: only a lock request locks.
	LockAfter time.Duration
	// Activity receives a value whenever the person does something (a
	// change in a synced folder): it keeps the idle lock away, as touch
	// requests (a coffre command run) and unlocks do.
	Activity <-chan struct{}
	// Changed, if set, is called after the keys were forgotten, so that
	// the sync reports its new state at once.
	Changed func()

	lis  net.Listener
	path string
}

// Listen makes the socket of this process in Dir(Keys.Home()), so that a
// failure shows before anything starts; Serve then answers on it.
func (s *Server) Listen() error {
	path := socketPath(s.Keys.Home(), os.Getpid())
	os.Remove(path) // left by a process that had our pid and died
	lis, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		lis.Close()
		return err
	}
	s.lis, s.path = lis, path
	return nil
}

// Serve answers requests until ctx ends, then removes the socket. It
// listens first if Listen was not called.
func (s *Server) Serve(ctx context.Context) error {
	if s.lis == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	defer os.Remove(s.path)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		s.lis.Close()
	}()
	unlocked := make(chan struct{}, 1) // an unlock or a touch
	if s.LockAfter > 0 {
		go s.idleLock(ctx, unlocked)
	}
	for {
		c, err := s.lis.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go s.answer(c, unlocked)
	}
}

// idleLock forgets the keys after LockAfter without activity, touch or
// unlock: idle means the person did nothing with coffre on this device, not
// that the folder did not change (a colleague's files still arrive while
// the person works elsewhere).
func (s *Server) idleLock(ctx context.Context, unlocked <-chan struct{}) {
	t := time.NewTimer(s.LockAfter)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.Activity:
		case <-unlocked:
		case <-t.C:
			s.lock()
			continue
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(s.LockAfter)
	}
}

func (s *Server) lock() {
	s.Keys.Lock()
	if s.Changed != nil {
		s.Changed()
	}
}

func (s *Server) answer(c net.Conn, unlocked chan<- struct{}) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(requestTimeout))
	line, _ := bufio.NewReader(c).ReadString('\n')
	cmd, arg, _ := strings.Cut(strings.TrimRight(line, "\n"), " ")
	switch cmd {
	case "lock":
		s.lock()
		fmt.Fprintln(c, "ok")
	case "touch":
		select {
		case unlocked <- struct{}{}:
		default:
		}
		fmt.Fprintln(c, "ok")
	case "ping":
		fmt.Fprintln(c, "ok")
	case "unlock":
		if err := s.Keys.Relock(s.Keys.Home(), []byte(arg)); err != nil {
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
}

// Lock makes every running sync of the data directory home forget its
// keys, and returns how many did.
func Lock(home string) (int, error) { return tell(home, "lock") }

// Unlock gives the passphrase back to every running sync of home and
// returns how many took their keys back. The passphrase is checked against
// the key file here first: a wrong one reaches no sync, and the error is
// client.Unlock's (crypto.ErrWrongPassphrase…). Syncs that refuse it are
// reported in a *RefusedError.
func Unlock(home string, passphrase []byte) (int, error) {
	if _, err := client.Unlock(home, passphrase); err != nil {
		return 0, err
	}
	return tell(home, "unlock "+string(passphrase))
}

// Touch tells every running sync of home that the person just used coffre
// on this device (a command that took the passphrase): their idle lock
// starts again. It returns how many were told.
func Touch(home string) int {
	n, _ := tell(home, "touch")
	return n
}

// Running reports whether the sync with process id pid still runs in the
// data directory home: its socket answers. A sync killed without cleaning
// up leaves a socket nobody answers (or a status file with no socket).
func Running(home string, pid int) bool {
	c, err := net.DialTimeout("unix", socketPath(home, pid), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintln(c, "ping")
	answer, _ := bufio.NewReader(c).ReadString('\n')
	return strings.HasPrefix(answer, "ok")
}

func socketPath(home string, pid int) string {
	return filepath.Join(Dir(home), fmt.Sprintf("%d.sock", pid))
}

// RefusedError is returned by Lock and Unlock when running syncs answered
// with an error: their answers, one per sync.
type RefusedError struct {
	Answers []string
}

func (e *RefusedError) Error() string { return strings.Join(e.Answers, "\n") }

// tell sends a request to every running sync of home.
func tell(home, request string) (int, error) {
	socks, _ := filepath.Glob(filepath.Join(Dir(home), "*.sock"))
	n := 0
	var refused []string
	for _, sock := range socks {
		c, err := net.DialTimeout("unix", sock, time.Second)
		if err != nil {
			os.Remove(sock) // a sync that died without cleaning up
			continue
		}
		fmt.Fprintln(c, request)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		answer, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if strings.HasPrefix(answer, "ok") {
			n++
		} else {
			refused = append(refused, strings.TrimSpace(strings.TrimPrefix(answer, "error ")))
		}
	}
	if len(refused) > 0 {
		return n, &RefusedError{Answers: refused}
	}
	return n, nil
}
