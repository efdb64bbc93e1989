package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/workspace"
	"github.com/coffre/coffre/workspace/syncer"
)

// folder is the state sync leaves for list.
type folder struct {
	srv     *serverProc
	org     *benchOrg
	vaultID string
	src     string
	n       int
	rows    []Row
}

func (f *folder) cleanup() {
	if f.org != nil {
		f.org.close()
	}
	if f.srv != nil {
		f.srv.Stop()
		os.RemoveAll(f.srv.Dir)
	}
	os.RemoveAll(f.src)
}

// syncPhase runs sync (once): rclone copying the folder, then coffre's
// folder sync engine (workspace/syncer, as `coffre sync --once` runs it)
// uploading it into an empty vault.
func (e *env) syncPhase(ctx context.Context) (*folder, error) {
	if e.folderState != nil {
		return e.folderState, nil
	}
	f := &folder{n: e.sz.syncFiles}
	e.folderState = f
	e.cleanups = append(e.cleanups, f.cleanup)
	var err error
	if f.srv, err = e.startServer(ctx, "folder"); err != nil {
		return nil, err
	}
	if f.org, err = e.newOrg(ctx, f.srv, "folder"); err != nil {
		return nil, err
	}
	info, err := f.org.admin.CreateVault(ctx, "folder")
	if err != nil {
		return nil, err
	}
	f.vaultID = info.ID
	f.org.closeAdmin()

	f.src = filepath.Join(e.dir, "folder-src")
	if err := os.MkdirAll(f.src, 0o700); err != nil {
		return nil, err
	}
	e.logf("   writing %s files of %d bytes", fmtCount(f.n), e.sz.syncFileSize)
	rnd := newStream(2, int64(f.n*e.sz.syncFileSize))
	buf := make([]byte, e.sz.syncFileSize)
	for i := range f.n {
		if _, err := io.ReadFull(rnd, buf); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(f.src, fmt.Sprintf("note-%05d.txt", i)), buf, 0o600); err != nil {
			return nil, err
		}
	}
	quiesce()

	title := fmt.Sprintf("sync a folder of %s files of %d KiB into an empty vault", fmtCount(f.n), e.sz.syncFileSize>>10)
	var rcRate float64
	var rcNote string
	if e.rclone != "" {
		ran, durable, err := e.rcloneCopy(ctx, f.src, "sync")
		if err != nil {
			return nil, err
		}
		rcRate = float64(f.n) / ran.Seconds()
		rcNote = fmt.Sprintf("rclone does not fsync; counting until a sync(2) afterwards returns: %.0f files/s. ", float64(f.n)/durable.Seconds())
	}

	u, err := client.Unlock(f.org.dir, passphrase)
	if err != nil {
		return nil, err
	}
	j, err := syncer.OpenJournal(filepath.Join(e.dir, "folder-journal.db"), syncer.FixedKey(crypto.NewSecretKey()))
	if err != nil {
		return nil, err
	}
	defer j.Close()
	engine := &syncer.Engine{Dir: f.src, Journal: j, Device: "bench", Settle: 0, Open: opener(u, f.vaultID)}
	var res syncer.Result
	d, err := e.measure("sync", f.srv, func() error {
		var err error
		res, err = engine.Cycle(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	if res.Uploaded != f.n {
		return nil, fmt.Errorf("sync uploaded %d files of %d (%+v)", res.Uploaded, f.n, res)
	}
	quiesce()
	rate := float64(f.n) / d.Seconds()
	fig := fmt.Sprintf("%.0f files/s (%.1f s)", rate, d.Seconds())
	note := rcNote + "coffre: one cycle of the sync engine (Settle 0), commits of 512 files, every block written durably by the server."
	if e.rclone == "" {
		f.rows = append(f.rows, Row{Title: title, Figure: fig, Baseline: "rclone: " + e.rcWhy, Ratio: "—", Goal: "≥ 1.5× rclone crypt", Met: "n/a", Note: note})
	} else {
		f.rows = append(f.rows, Row{Title: title, Figure: fig,
			Baseline: fmt.Sprintf("rclone copy to a crypt remote on local disk, %.0f files/s", rcRate), Ratio: fmtRatio(rate / rcRate),
			Goal: "≥ 1.5× rclone crypt, through the server", Met: metIf(rate >= 1.5*rcRate), Note: note})
	}
	return f, nil
}

// opener opens the vault for one sync cycle as `coffre sync` does: a new
// session from the unlocked keys, the organisation log, then the vault.
func opener(u *client.Unlocked, vaultID string) syncer.Opener {
	return func(ctx context.Context) (*workspace.Vault, func(), error) {
		s, err := u.Session()
		if err != nil {
			return nil, nil, err
		}
		if err := s.Sync(ctx); err != nil {
			s.Close()
			return nil, nil, err
		}
		v, _, err := s.PrepareVault(ctx, vaultID)
		if err != nil {
			s.Close()
			return nil, nil, err
		}
		return v, func() { s.Close() }, nil
	}
}

func caseSync(ctx context.Context, e *env) ([]Row, error) {
	f, err := e.syncPhase(ctx)
	if err != nil {
		return nil, err
	}
	return f.rows, nil
}

func caseList(ctx context.Context, e *env) ([]Row, error) {
	f, err := e.syncPhase(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { f.cleanup(); e.folderState = nil }()

	// A fresh device: a member who never opened the vault.
	if _, err := f.org.openAdmin(ctx); err != nil {
		return nil, err
	}
	users, err := f.org.addUsers(ctx, 1, true)
	if err != nil {
		return nil, err
	}
	if _, err := f.org.admin.ShareVault(ctx, f.vaultID, users[0].ID, certificate.RoleReader, time.Time{}); err != nil {
		return nil, err
	}
	f.org.closeAdmin()

	list := func(name string) (time.Duration, map[string]int64, int, error) {
		before, err := f.srv.Calls()
		if err != nil {
			return 0, nil, 0, err
		}
		var n int
		d, err := e.measure(name, f.srv, func() error {
			s, err := client.Open(ctx, users[0].Dir, passphrase)
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.Sync(ctx); err != nil {
				return err
			}
			w, _, err := s.PrepareVault(ctx, f.vaultID)
			if err != nil {
				return err
			}
			items, err := w.List("/", time.Time{})
			n = len(items)
			return err
		})
		if err != nil {
			return 0, nil, 0, err
		}
		after, err := f.srv.Calls()
		if err != nil {
			return 0, nil, 0, err
		}
		delta := map[string]int64{}
		for m, c := range after {
			if c -= before[m]; c > 0 {
				delta[m] = c
			}
		}
		return d, delta, n, nil
	}
	d, calls, n, err := list("list")
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	if n != f.n {
		return nil, fmt.Errorf("list: %d entries, want %d", n, f.n)
	}
	logBytes, err := f.srv.VaultBytes(f.org.orgID(), f.vaultID)
	if err != nil {
		return nil, err
	}
	// The folder's history: its vault log plus any block that is not one
	// of the files' (folder pages, SPEC §11.3.1). Each file is one block of
	// the same padded size.
	nBlocks, blockBytes, err := f.srv.VaultBlocks(f.org.orgID(), f.vaultID)
	if err != nil {
		return nil, err
	}
	fileBlock := int64(len(crypto.NewSecretKey().Encrypt(nil, make([]byte, workspace.PaddedSize(uint64(e.sz.syncFileSize))))))
	if nBlocks < int64(f.n) {
		return nil, fmt.Errorf("history: %d blocks stored for %d files", nBlocks, f.n)
	}
	pageBytes := blockBytes - int64(f.n)*fileBlock
	history := logBytes + pageBytes
	d2, calls2, _, err := list("list-again")
	if err != nil {
		return nil, fmt.Errorf("list again: %w", err)
	}
	ms := float64(d.Microseconds()) / 1000
	title := fmt.Sprintf("list a folder of %s entries on a fresh device", fmtCount(f.n))
	return []Row{
		{Title: title,
			Figure:   fmt.Sprintf("%.0f ms, %s", ms, fmtCalls(calls)),
			Baseline: "—", Ratio: "—", Goal: "one batched round trip, < 150 ms",
			Met:  metIf(ms < 150 && folderCalls(calls) == 1),
			Note: fmt.Sprintf("Open the device (unlock, local state), fetch the organisation log (GetLog: the device's open, not the folder's), then open the vault: fetch and verify its whole log (%s stored for this folder) with the folder's pages, and list the root. Round trips counted by the server; the goal counts the folder's, every call but GetLog.", fmtMB(logBytes))},
		{Title: "history stored for that folder after it was written in batches",
			Figure:   fmt.Sprintf("%s: vault log %s + %s in %s blocks beyond the files'", fmtMB(history), fmtMB(logBytes), fmtMB(pageBytes), fmtCount(int(nBlocks)-f.n)),
			Baseline: "—", Ratio: "—", Goal: "< 3 MB", Met: metIf(history < 3e6),
			Note: fmt.Sprintf("The sync above commits the %s files in batches; every version stays (history). Bytes on the server: the vault's log entries, and the blocks other than the files' own (%s files of one block of %s each).", fmtCount(f.n), fmtCount(f.n), fmtMB(fileBlock))},
		{Title: "(info) list the same folder again on that device",
			Figure:   fmt.Sprintf("%.0f ms, %s", float64(d2.Microseconds())/1000, fmtCalls(calls2)),
			Baseline: "—", Ratio: "—", Goal: "—", Met: "—",
			Note: "What every later `coffre ls` pays: the device re-verifies what it stored, then asks for what is new."},
	}, nil
}

// folderCalls counts the calls of a listing that are the folder's: all
// but the organisation log's (GetLog), which opening the device makes.
func folderCalls(m map[string]int64) int64 {
	var n int64
	for k, v := range m {
		if k != "GetLog" {
			n += v
		}
	}
	return n
}

func fmtCalls(m map[string]int64) string {
	var total int64
	var parts []string
	for k, v := range m {
		total += v
		parts = append(parts, fmt.Sprintf("%s×%d", k, v))
	}
	sort.Strings(parts)
	return fmt.Sprintf("%d round trips (%s)", total, strings.Join(parts, ", "))
}
