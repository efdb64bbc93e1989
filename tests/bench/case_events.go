package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/workspace/syncer"
)

// The `coffre sync` defaults (client/cli/cmd_sync.go), used by the second
// measure.
const (
	cliSettle   = 2 * time.Second
	cliDebounce = 300 * time.Millisecond
	cliScan     = 30 * time.Second
)

// caseEvents: device A writes a small file into a vault (the client
// library, as `coffre put`); device B, another member, must see it. The
// latency runs from the start of A's write to the moment B has it.
//
//   - B as a library client: it watches the server's events and, on each
//     event for the vault, fetches and verifies the vault log; visible once
//     the new file is in its verified listing.
//   - B as a running `coffre sync` (the syncer Runner, with the command's
//     defaults, fed by the server's events as the command does); visible
//     once the file is in B's folder.
func caseEvents(ctx context.Context, e *env) ([]Row, error) {
	srv, err := e.startServer(ctx, "events")
	if err != nil {
		return nil, err
	}
	defer func() { srv.Stop(); os.RemoveAll(srv.Dir) }()
	org, err := e.newOrg(ctx, srv, "events")
	if err != nil {
		return nil, err
	}
	defer org.close()
	info, err := org.admin.CreateVault(ctx, "events")
	if err != nil {
		return nil, err
	}
	vid := info.ID
	users, err := org.addUsers(ctx, 1, true)
	if err != nil {
		return nil, err
	}
	if err := org.share(ctx, vid, users); err != nil {
		return nil, err
	}
	a, _, err := org.admin.PrepareVault(ctx, vid) // device A
	if err != nil {
		return nil, err
	}
	content := bytes.Repeat([]byte("x"), 4096)
	put := func(name string) error {
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_, err := a.Put(c, "/"+name, bytes.NewReader(content), nil)
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	u, err := client.Unlock(users[0].Dir, passphrase)
	if err != nil {
		return nil, err
	}
	n := e.sz.events
	const perChange = 10 * time.Second // bound on each wait

	// 1. B as a library client.
	var libMs []float64
	err = func() error {
		s, err := u.Session()
		if err != nil {
			return err
		}
		defer s.Close()
		if err := s.Sync(ctx); err != nil {
			return err
		}
		b, _, err := s.PrepareVault(ctx, vid)
		if err != nil {
			return err
		}
		events := make(chan struct{}, 1)
		wctx, stopWatch := context.WithCancel(ctx)
		defer stopWatch()
		go watch(wctx, u, vid, events)
		time.Sleep(200 * time.Millisecond) // the stream is up
		for i := range n {
			name := fmt.Sprintf("lib-%04d.txt", i)
			start := time.Now()
			if err := put(name); err != nil {
				return fmt.Errorf("device A's put: %w", err)
			}
			deadline := time.After(perChange)
		wait:
			for {
				if _, err := b.Stat("/"+name, time.Time{}); err == nil {
					break wait
				}
				select {
				case <-events:
					if err := b.Sync(ctx); err != nil {
						return fmt.Errorf("device B's vault sync: %w", err)
					}
				case <-deadline:
					return fmt.Errorf("change %d not seen by B after %v", i, perChange)
				}
			}
			libMs = append(libMs, float64(time.Since(start).Microseconds())/1000)
			time.Sleep(20 * time.Millisecond)
		}
		return nil
	}()
	if err != nil {
		return nil, fmt.Errorf("library: %w", err)
	}

	// 2. B as a running sync of a folder.
	var syncMs []float64
	err = func() error {
		dir := filepath.Join(e.dir, "events-b-folder")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		j, err := syncer.OpenJournal(filepath.Join(e.dir, "events-b-journal.db"), syncer.FixedKey(crypto.NewSecretKey()))
		if err != nil {
			return err
		}
		defer j.Close()
		remote := make(chan struct{}, 1)
		rctx, stop := context.WithCancel(ctx)
		defer stop()
		go watch(rctx, u, vid, remote)
		var idle atomic.Int64
		runner := &syncer.Runner{
			Engine: &syncer.Engine{Dir: dir, Journal: j, Device: "device-b", Settle: cliSettle, Open: opener(u, vid)},
			Remote: remote, Scan: cliScan, Debounce: cliDebounce,
			Offline: func(err error) bool { return errors.Is(err, client.ErrServerUnavailable) },
			Locked:  u.Locked,
			Report: func(st syncer.Status, _ syncer.Result) {
				if st.State == "idle" {
					idle.Add(1)
				}
			},
		}
		done := make(chan error, 1)
		go func() { done <- runner.Run(rctx) }()
		// The first cycle brings the files of the first measure.
		for t := time.Now(); idle.Load() == 0; time.Sleep(10 * time.Millisecond) {
			if time.Since(t) > time.Minute {
				return errors.New("device B's first sync cycle did not end in a minute")
			}
		}
		for i := range n {
			name := fmt.Sprintf("sync-%04d.txt", i)
			start := time.Now()
			if err := put(name); err != nil {
				return fmt.Errorf("device A's put: %w", err)
			}
			for {
				if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
					break
				}
				if time.Since(start) > perChange {
					return fmt.Errorf("change %d not in B's folder after %v", i, perChange)
				}
				time.Sleep(time.Millisecond)
			}
			syncMs = append(syncMs, float64(time.Since(start).Microseconds())/1000)
			time.Sleep(100 * time.Millisecond)
		}
		stop()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			return errors.New("device B's sync did not stop")
		}
	}()
	if err != nil {
		return nil, fmt.Errorf("sync folder: %w", err)
	}
	row := func(title string, ms []float64, note string) Row {
		p50, p99 := percentile(ms, 50), percentile(ms, 99)
		return Row{Title: title, Figure: fmt.Sprintf("p50 %.0f ms, p99 %.0f ms (%d changes, max %.0f ms)", p50, p99, len(ms), percentile(ms, 100)),
			Baseline: "—", Ratio: "—", Goal: "< 100 / < 300 ms", Met: metIf(p50 < 100 && p99 < 300), Note: note}
	}
	return []Row{
		row("a change on A visible on B: B a library client on the server's events", libMs,
			"From the start of A's write of a 4 KiB file (upload, commit) to B having fetched and verified the vault entry that adds it, B woken by the server's Watch stream."),
		row("a change on A visible on B: B a running `coffre sync` (command defaults)", syncMs,
			fmt.Sprintf("From the start of A's write to the file being in B's folder; B is the sync runner with the command's defaults (debounce %v, scan %v) fed by the Watch stream as `coffre sync` is.", cliDebounce, cliScan)),
	}, nil
}

// watch forwards the server's events about a vault (or the organisation)
// to ch, reconnecting as `coffre sync` does.
func watch(ctx context.Context, u *client.Unlocked, vaultID string, ch chan struct{}) {
	for ctx.Err() == nil {
		u.Watch(ctx, func(ev client.Event) {
			if ev.VaultID == "" || ev.VaultID == vaultID {
				select {
				case ch <- struct{}{}:
				default:
				}
			}
		})
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}
