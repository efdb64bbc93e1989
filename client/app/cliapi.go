package app

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/client/syncservice"
	"github.com/coffre/coffre/client/transfer"
	"github.com/coffre/coffre/workspace"
	"github.com/coffre/coffre/workspace/syncer"
)

// The command line's endpoints (SPEC.md §14 "The command line through the
// app"): what 'coffre ls', put, get, vault list and status ask the app when
// it runs unlocked. They answer the data each command prints, and the
// command prints it as it does alone, so that output, hints and exit
// statuses stay the same: a failure carries the messages of its whole
// error chain (Chain), and the command line's RemoteError matches the
// library's sentinels by them.
//
// Why not run the command itself in the app: a command's output, standard
// input, terminal prompts and exit status would all have to cross the
// socket, and the app's one session would be closed by the command's
// deferred Close. Calling the same library operations is smaller and
// keeps each side simple.

// CLIError is the body of a failed /api/cli call.
type CLIError struct {
	Message string `json:"message"`
	// Chain is the message of every error in the chain, outermost first.
	Chain []string `json:"chain"`
}

// errorChain lists the messages of err and of every error it wraps.
func errorChain(err error) []string {
	var out []string
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		out = append(out, e.Error())
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return out
}

func writeCLIError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	if errors.Is(err, client.ErrLocked) {
		status = http.StatusLocked
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(CLIError{Message: err.Error(), Chain: errorChain(err)})
}

func (a *App) cliRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/cli/ls", a.cliLs)
	mux.HandleFunc("GET /api/cli/vaults", a.cliVaults)
	mux.HandleFunc("GET /api/cli/status", a.cliStatus)
	mux.HandleFunc("POST /api/cli/put", a.cliPut)
	mux.HandleFunc("POST /api/cli/get", a.cliGet)
	mux.HandleFunc("POST /api/cli/mkdir", a.cliPathOp(func(ctx context.Context, v *workspace.Vault, p string, op PathOp) error {
		if op.Parents {
			return v.MkdirAll(ctx, p)
		}
		return v.Mkdir(ctx, p)
	}))
	mux.HandleFunc("POST /api/cli/rm", a.cliPathOp(func(ctx context.Context, v *workspace.Vault, p string, op PathOp) error {
		if op.Recursive {
			return v.RemoveAll(ctx, p)
		}
		return v.Remove(ctx, p)
	}))
	mux.HandleFunc("POST /api/cli/mv", a.cliPathOp(func(ctx context.Context, v *workspace.Vault, p string, op PathOp) error {
		_, to, err := SplitTarget(op.To)
		if err != nil {
			return err
		}
		return v.Move(ctx, p, to)
	}))
}

// PathOp is a mkdir, rm or mv in one vault: Target is VAULT:/path, To the
// destination of a mv (in the same vault: the command line checks).
type PathOp struct {
	Target    string `json:"target"`
	To        string `json:"to,omitempty"`
	Parents   bool   `json:"parents,omitempty"`
	Recursive bool   `json:"recursive,omitempty"`
}

func (a *App) cliPathOp(do func(context.Context, *workspace.Vault, string, PathOp) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var op PathOp
		if err := json.NewDecoder(r.Body).Decode(&op); err != nil {
			writeCLIError(w, fmt.Errorf("bad request: %v", err))
			return
		}
		err := a.withVault(r.Context(), op.Target, func(_ *client.Session, v *workspace.Vault, p string) error {
			return do(r.Context(), v, p, op)
		})
		if err != nil {
			writeCLIError(w, err)
			return
		}
		writeJSON(w, struct{}{})
	}
}

// SplitTarget splits VAULT:/path ("/" when the path is empty).
func SplitTarget(arg string) (vault, p string, err error) {
	vault, p, ok := strings.Cut(arg, ":")
	if !ok || vault == "" {
		return "", "", fmt.Errorf("%q: want VAULT:/path, such as cardiology:/2026/scan.pdf", arg)
	}
	if p == "" {
		p = "/"
	}
	return vault, p, nil
}

// withVault runs fn with the vault named in target, after its upkeep, as
// the command line's openVault does.
func (a *App) withVault(ctx context.Context, target string, fn func(*client.Session, *workspace.Vault, string) error) error {
	return a.vaultIn(ctx, a.withSession, target, fn)
}

// vaultIn is withVault in the session that with gives.
func (a *App) vaultIn(ctx context.Context, with func(context.Context, func(*client.Session) error) error, target string, fn func(*client.Session, *workspace.Vault, string) error) error {
	vault, p, err := SplitTarget(target)
	if err != nil {
		return err
	}
	return with(ctx, func(s *client.Session) error {
		w, _, err := s.PrepareVault(ctx, vault)
		if err != nil {
			return err
		}
		return fn(s, w, p)
	})
}

// LsItem is one entry 'coffre ls' prints; Author is the author's e-mail.
type LsItem struct {
	Name    string    `json:"name"`
	Folder  bool      `json:"folder"`
	Size    uint64    `json:"size"`
	Version uint64    `json:"version"`
	Updated time.Time `json:"updated"`
	Author  string    `json:"author"`
}

func (a *App) cliLs(w http.ResponseWriter, r *http.Request) {
	at, err := parseAt(r.URL.Query().Get("at"))
	if err != nil {
		writeCLIError(w, err)
		return
	}
	var out []LsItem
	err = a.withVault(r.Context(), r.URL.Query().Get("target"), func(s *client.Session, v *workspace.Vault, p string) error {
		var err error
		out, err = ListItems(s, v, p, at)
		return err
	})
	if err != nil {
		writeCLIError(w, err)
		return
	}
	writeJSON(w, out)
}

// ListItems lists the folder p of v as of at (zero: now), with each
// author's e-mail: what 'coffre ls' prints, with or without the app.
func ListItems(s *client.Session, v *workspace.Vault, p string, at time.Time) ([]LsItem, error) {
	items, err := v.List(p, at)
	if err != nil {
		return nil, err
	}
	authors := map[string]string{}
	for _, u := range s.Organisation().Users() {
		authors[u.ID] = u.Email
		if u.Unknown() {
			authors[u.ID] = "unknown member (id " + u.ID + ")"
		}
	}
	out := []LsItem{}
	for _, i := range items {
		out = append(out, LsItem{i.Name, i.Folder, i.Size, i.Version, i.Updated, authors[i.Author]})
	}
	return out, nil
}

func parseAt(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// VaultsAnswer is what 'coffre vault list' prints.
type VaultsAnswer struct {
	Vaults []client.VaultInfo `json:"vaults"`
	// Offline: from what this device verified last.
	Offline bool `json:"offline"`
	// Emergencies this user sees (SPEC.md §16).
	Emergencies []client.EmergencyInfo `json:"emergencies,omitempty"`
}

func (a *App) cliVaults(w http.ResponseWriter, r *http.Request) {
	var out VaultsAnswer
	err := a.withSession(r.Context(), func(s *client.Session) error {
		out.Offline = a.sessOffline
		var err error
		out.Vaults, err = s.Vaults()
		out.Emergencies = s.Emergencies()
		return err
	})
	if err != nil {
		writeCLIError(w, err)
		return
	}
	writeJSON(w, out)
}

// StatusAnswer is what 'coffre status' prints.
type StatusAnswer struct {
	Identity        client.Identity
	Name, Email     string
	Profile         string
	Revoked         bool
	LogPosition     uint64
	LogHead         string
	ServerReachable bool
	// LastConnection is zero when none came before; ThisConnection zero
	// when the server is unreachable.
	LastConnection, ThisConnection client.Connection
	Offline                        bool
	BlockCacheBytes                int64
	Synced                         []syncer.Status
	// Emergencies are the running emergency accesses and takeovers this
	// user sees (SPEC.md §16).
	Emergencies []client.EmergencyInfo
}

func (a *App) cliStatus(w http.ResponseWriter, r *http.Request) {
	var st StatusAnswer
	err := a.withSession(r.Context(), func(s *client.Session) error {
		var err error
		st, err = StatusOf(r.Context(), s, a.Home)
		st.Offline = a.sessOffline
		return err
	})
	if err != nil {
		writeCLIError(w, err)
		return
	}
	writeJSON(w, st)
}

// StatusOf gathers what 'coffre status' shows, with or without the app. It
// says hello to the server, which records the connection; an unreachable
// server leaves ServerReachable false.
func StatusOf(ctx context.Context, s *client.Session, home string) (StatusAnswer, error) {
	st := StatusAnswer{Identity: s.Identity()}
	if me, ok := s.Me(); ok {
		st.Name, st.Email, st.Profile, st.Revoked = me.Name, me.Email, me.Profile.String(), me.Revoked()
	}
	st.LogPosition, st.LogHead = s.Head().Position, hex.EncodeToString(s.Head().Hash)
	prev, cur, err := s.Hello(ctx)
	switch {
	case err == nil:
		st.ServerReachable, st.LastConnection, st.ThisConnection = true, prev, cur
	case !errors.Is(err, client.ErrServerUnavailable):
		return st, err
	}
	st.BlockCacheBytes = s.BlockCacheLimit()
	st.Synced = syncservice.Statuses(home, s.SyncKey())
	for _, e := range s.Emergencies() {
		if e.Running || e.Kind == "takeover" {
			st.Emergencies = append(st.Emergencies, e)
		}
	}
	return st, nil
}

// TransferEvent is one line of a put or get's answer (newline-delimited
// JSON, streamed as the files move): "started", "done", "skipped", and
// last "end" (with Error when it failed).
type TransferEvent struct {
	Kind    string    `json:"kind"`
	From    string    `json:"from,omitempty"`
	To      string    `json:"to,omitempty"`
	Size    int64     `json:"size,omitempty"`
	Version uint64    `json:"version,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Error   *CLIError `json:"error,omitempty"`
}

// TransferRequest is a put's or a get's request. Local is absolute: the
// app reads and writes it as this same account.
type TransferRequest struct {
	Local  string    `json:"local"`
	Target string    `json:"target"`
	At     time.Time `json:"at,omitzero"`
	Force  bool      `json:"force,omitempty"`
}

// eventWriter streams transfer events; transfer.Progress.
type eventWriter struct {
	mu  sync.Mutex
	w   http.ResponseWriter
	enc *json.Encoder
}

func newEventWriter(w http.ResponseWriter) *eventWriter {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	return &eventWriter{w: w, enc: json.NewEncoder(w)}
}

func (e *eventWriter) send(ev TransferEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.enc.Encode(ev)
	if f, ok := e.w.(http.Flusher); ok {
		f.Flush()
	}
}

func (e *eventWriter) Started(remote string, size int64) {
	e.send(TransferEvent{Kind: "started", From: remote, Size: size})
}
func (e *eventWriter) Bytes(int64) {}
func (e *eventWriter) Done(from, to string, v workspace.Version) {
	e.send(TransferEvent{Kind: "done", From: from, To: to, Version: v.Version, Size: int64(v.Manifest.Size)})
}
func (e *eventWriter) Skipped(local string, reason error) {
	e.send(TransferEvent{Kind: "skipped", From: local, Reason: reason.Error()})
}

func (e *eventWriter) end(err error) {
	ev := TransferEvent{Kind: "end"}
	if err != nil {
		ev.Error = &CLIError{Message: err.Error(), Chain: errorChain(err)}
	}
	e.send(ev)
}

func readTransfer(r *http.Request) (TransferRequest, error) {
	var req TransferRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return req, fmt.Errorf("bad request: %v", err)
	}
	if !filepath.IsAbs(req.Local) {
		return req, fmt.Errorf("%q: the app needs an absolute local path", req.Local)
	}
	return req, nil
}

func (a *App) cliPut(w http.ResponseWriter, r *http.Request) {
	req, err := readTransfer(r)
	if err != nil {
		writeCLIError(w, err)
		return
	}
	ev := newEventWriter(w)
	// A transfer has a session of its own: the interface does not wait for it.
	ev.end(a.vaultIn(r.Context(), a.withOwnSession, req.Target, func(_ *client.Session, v *workspace.Vault, p string) error {
		return transfer.Put(r.Context(), v, req.Local, p, ev)
	}))
}

func (a *App) cliGet(w http.ResponseWriter, r *http.Request) {
	req, err := readTransfer(r)
	if err != nil {
		writeCLIError(w, err)
		return
	}
	ev := newEventWriter(w)
	ev.end(a.vaultIn(r.Context(), a.withOwnSession, req.Target, func(_ *client.Session, v *workspace.Vault, p string) error {
		return transfer.Get(r.Context(), v, p, req.Local, transfer.GetOptions{At: req.At, Replace: req.Force}, ev)
	}))
}
