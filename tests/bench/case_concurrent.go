package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/workspace"
)

// caseConcurrent: N members, each with their own device (a session and a
// connection of its own) and their own vault, write new 4 KiB files as
// fast as they can for a while; every write is a Put (upload the block,
// commit the folder, verify). The server is a fresh process: its peak
// resident size is its own.
func caseConcurrent(ctx context.Context, e *env) ([]Row, error) {
	srv, err := e.startServer(ctx, "concurrent")
	if err != nil {
		return nil, err
	}
	defer func() { srv.Stop(); os.RemoveAll(srv.Dir) }()
	org, err := e.newOrg(ctx, srv, "concurrent")
	if err != nil {
		return nil, err
	}
	defer org.close()
	n := e.sz.clients
	users, err := org.addUsers(ctx, n, true)
	if err != nil {
		return nil, err
	}
	org.closeAdmin()
	type worker struct {
		s *client.Session
		w *workspace.Vault
	}
	workers := make([]worker, n)
	defer func() {
		for _, wk := range workers {
			if wk.s != nil {
				wk.s.Close()
			}
		}
	}()
	for i, u := range users {
		s, err := client.Open(ctx, u.Dir, passphrase)
		if err != nil {
			return nil, err
		}
		workers[i].s = s
		if err := s.Sync(ctx); err != nil {
			return nil, err
		}
		info, err := s.CreateVault(ctx, fmt.Sprintf("load-%03d", i))
		if err != nil {
			return nil, err
		}
		if workers[i].w, err = s.OpenVault(ctx, info.ID); err != nil {
			return nil, err
		}
	}
	rssBefore := srv.RSS()

	var (
		mu       sync.Mutex
		lat      []float64
		errs     int
		firstErr error
		peakRSS  atomic.Int64
	)
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if r := srv.RSS(); r > peakRSS.Load() {
				peakRSS.Store(r)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	d, _ := e.measure("concurrent", srv, func() error {
		deadline := time.Now().Add(e.sz.loadFor)
		for i := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := workers[i].w
				var mine []float64
				for k := 0; time.Now().Before(deadline) && ctx.Err() == nil; k++ {
					data := crypto.RandomBytes(4096)
					c, cancel := context.WithTimeout(ctx, 30*time.Second)
					start := time.Now()
					_, err := w.Put(c, fmt.Sprintf("/file-%06d.txt", k), bytes.NewReader(data), nil)
					el := time.Since(start)
					cancel()
					if err != nil {
						mu.Lock()
						errs++
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
						continue
					}
					mine = append(mine, float64(el.Microseconds())/1000)
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		return nil
	})
	close(stopSampling)
	<-sampled
	for _, wk := range workers {
		wk.s.Close()
	}
	workers = nil
	if err := srv.Stop(); err != nil {
		return nil, err
	}
	ops := float64(len(lat)) / d.Seconds()
	p50, p99 := percentile(lat, 50), percentile(lat, 99)
	fig := fmt.Sprintf("%.0f ops/s, p50 %.0f ms, p99 %.0f ms, %d errors; server RSS peak %s (%s before the load, %s over its life)",
		ops, p50, p99, errs, fmtMB(peakRSS.Load()), fmtMB(rssBefore), fmtMB(srv.MaxRSS()))
	note := fmt.Sprintf("%d writes in %.0f s. Each client is a device with its own session, connection and vault, in this process (the server is a separate process); a write is Vault.Put of a new 4 KiB file.", len(lat), d.Seconds())
	if firstErr != nil {
		note += " First error: " + firstErr.Error()
	}
	return []Row{{
		Title:  fmt.Sprintf("%d concurrent clients writing small files for %v", n, e.sz.loadFor),
		Figure: fig, Baseline: "—", Ratio: "—", Goal: "no error, p99 < 100 ms",
		Met: metIf(errs == 0 && len(lat) > 0 && p99 < 100), Note: note,
	}}, nil
}
