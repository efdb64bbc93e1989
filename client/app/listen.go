package app

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// ErrRunning is returned by Listen when an app already answers on the data
// directory's socket: one app per device.
var ErrRunning = errors.New("an app already runs for this data directory")

// ErrNotLoopback is returned by Listen for an HTTP address that is not on
// this machine's loopback: the interface is never served to the network.
var ErrNotLoopback = errors.New("the interface's address must be on 127.0.0.1 (or another loopback address)")

// DefaultAddr is the HTTP listener's address by default: loopback, a port
// the system chooses.
const DefaultAddr = "127.0.0.1:0"

// SocketPath is the app's Unix socket in the data directory home. Its
// folder is 0700 and the socket 0600: only this account connects, and
// that is the socket's whole authentication (SPEC.md §14).
func SocketPath(home string) string { return filepath.Join(home, "app", "app.sock") }

// listenSocket makes the app's socket, refusing when another app answers
// on it (a socket nobody answers is left by an app that died: replaced).
func listenSocket(home string) (net.Listener, error) {
	dir := filepath.Dir(SocketPath(home))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// MkdirAll keeps an existing folder's mode: make sure.
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	path := SocketPath(home)
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, ErrRunning
	}
	os.Remove(path)
	lis, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		lis.Close()
		return nil, err
	}
	return lis, nil
}

// listenHTTP listens on addr, which must name a loopback IP address
// ("localhost" is taken as 127.0.0.1: a name could resolve elsewhere).
func listenHTTP(addr string) (net.Listener, error) {
	if addr == "" {
		addr = DefaultAddr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--addr %q: want 127.0.0.1:PORT", addr)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("--addr %q: %w", addr, ErrNotLoopback)
	}
	return net.Listen("tcp", net.JoinHostPort(ip.String(), port))
}

// newHTTPServer bounds how long a client may take to send its headers.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
}
