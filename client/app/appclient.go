package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/coffre/coffre/client"
)

// Client is the command line's side of the app's Unix socket.
type Client struct {
	hc *http.Client
}

// Dial returns a client of the app of the data directory home and the
// app's state, or nil when no app answers on its socket.
func Dial(ctx context.Context, home string) (*Client, State) {
	path := SocketPath(home)
	if _, err := os.Stat(path); err != nil {
		return nil, State{} // no app: don't wait for a dial
	}
	c := &Client{hc: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := c.State(ctx)
	if err != nil {
		return nil, State{}
	}
	return c, st
}

// DialUnlocked returns a client of the app of home when one answers and is
// unlocked, else nil: the command line then works alone (SPEC.md §14.5).
func DialUnlocked(ctx context.Context, home string) *Client {
	c, st := Dial(ctx, home)
	if c == nil || st.Locked {
		return nil
	}
	return c
}

// RemoteError is an error the app answered. It matches (errors.Is) the
// sentinels of its chain by their messages, so that the command line's
// hints and exit statuses work as they do without the app.
type RemoteError struct {
	CLIError
}

func (e *RemoteError) Error() string { return e.Message }

// Is reports whether target's message is one of the chain's.
func (e *RemoteError) Is(target error) bool {
	msg := target.Error()
	for _, m := range e.Chain {
		if m == msg {
			return true
		}
	}
	return false
}

// call sends a request and decodes the answer into out.
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.send(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

func (c *Client) send(ctx context.Context, method, path string, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://app"+path, body)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the app's socket: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var e CLIError
		if json.NewDecoder(resp.Body).Decode(&e) != nil || e.Message == "" {
			return nil, fmt.Errorf("the app answered %s", resp.Status)
		}
		if e.Chain == nil {
			e.Chain = []string{e.Message}
		}
		if resp.StatusCode == http.StatusLocked {
			e.Chain = append(e.Chain, client.ErrLocked.Error())
		}
		return nil, &RemoteError{e}
	}
	return resp, nil
}

// State is the app's state.
func (c *Client) State(ctx context.Context) (State, error) {
	var st State
	return st, c.call(ctx, http.MethodGet, "/api/state", nil, &st)
}

// Lock locks the app.
func (c *Client) Lock(ctx context.Context) error {
	var st State
	return c.call(ctx, http.MethodPost, "/api/lock", struct{}{}, &st)
}

// LoginURL asks the app for a new single-use login link.
func (c *Client) LoginURL(ctx context.Context) (string, error) {
	var out struct {
		URL string `json:"url"`
	}
	return out.URL, c.call(ctx, http.MethodPost, "/api/login-link", struct{}{}, &out)
}

// Ls lists target (VAULT:/path) as of at (zero: now).
func (c *Client) Ls(ctx context.Context, target string, at time.Time) ([]LsItem, error) {
	q := url.Values{"target": {target}}
	if !at.IsZero() {
		q.Set("at", at.Format(time.RFC3339Nano))
	}
	var out []LsItem
	return out, c.call(ctx, http.MethodGet, "/api/cli/ls?"+q.Encode(), nil, &out)
}

// Vaults lists the user's vaults.
func (c *Client) Vaults(ctx context.Context) (VaultsAnswer, error) {
	var out VaultsAnswer
	return out, c.call(ctx, http.MethodGet, "/api/cli/vaults", nil, &out)
}

// Status is what 'coffre status' shows.
func (c *Client) Status(ctx context.Context) (StatusAnswer, error) {
	var out StatusAnswer
	return out, c.call(ctx, http.MethodGet, "/api/cli/status", nil, &out)
}

// PathOp runs a mkdir, rm or mv ("mkdir", "rm", "mv") in the app.
func (c *Client) PathOp(ctx context.Context, kind string, op PathOp) error {
	var out struct{}
	return c.call(ctx, http.MethodPost, "/api/cli/"+kind, op, &out)
}

// Put uploads req.Local to req.Target; each event is given to fn as it
// comes.
func (c *Client) Put(ctx context.Context, req TransferRequest, fn func(TransferEvent)) error {
	return c.transfer(ctx, "/api/cli/put", req, fn)
}

// Get downloads req.Target to req.Local.
func (c *Client) Get(ctx context.Context, req TransferRequest, fn func(TransferEvent)) error {
	return c.transfer(ctx, "/api/cli/get", req, fn)
}

func (c *Client) transfer(ctx context.Context, path string, req TransferRequest, fn func(TransferEvent)) error {
	resp, err := c.send(ctx, http.MethodPost, path, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev TransferEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return fmt.Errorf("the app's answer: %w", err)
		}
		if ev.Kind == "end" {
			if ev.Error != nil {
				return &RemoteError{*ev.Error}
			}
			return nil
		}
		fn(ev)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("the app's answer: %w", err)
	}
	return fmt.Errorf("the app stopped before the end of the transfer")
}
