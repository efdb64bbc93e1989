package client

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/wire"
	"github.com/coffre/coffre/workspace/syncer"
)

// Wipe on return (SPEC.md §15): a revoked device that connects again
// erases its copies of the organisation's data, but only once its own
// verified log holds the revocation. The server's "you are revoked" alone
// wipes nothing (SECURITY.md A42).

// Revocation is the verified certificate that revoked this device: its
// own revocation or its user's.
type Revocation struct {
	Position uint64
	Time     time.Time
	By       string // the revoking device's user's email
	User     bool   // the whole user was revoked, not only this device
}

// CheckRevoked reads the organisation log and reports the verified
// revocation of this device, if any. It returns nil, nil when the log
// holds none, whatever the server answered to other calls.
func (s *Session) CheckRevoked(ctx context.Context) (*Revocation, error) {
	if err := s.Sync(ctx); err != nil {
		return nil, err
	}
	return s.revocation(), nil
}

// Revoked returns the revocation of this device (its own or its user's)
// in the verified log, nil if none: whoever holds a session answers
// nothing more with it.
func (s *Session) Revoked() *Revocation { return s.revocation() }

func (s *Session) revocation() *Revocation {
	d, ok := s.org.Device(s.keys.DeviceID)
	if !ok {
		return nil
	}
	u, _ := s.org.User(d.UserID)
	switch {
	case u.Revoked() && (!d.Revoked() || u.RevokedAt < d.RevokedAt):
		return &Revocation{Position: u.RevokedAt, Time: u.RevokedOn, By: s.deviceOwnerEmail(u.RevokedBy), User: true}
	case d.Revoked():
		return &Revocation{Position: d.RevokedAt, Time: d.RevokedOn, By: s.deviceOwnerEmail(d.RevokedBy)}
	}
	return nil
}

// IsRevokedAnswer reports whether err is the server saying this device is
// revoked: the cue to run CheckRevoked, never a reason to wipe by itself.
func IsRevokedAnswer(err error) bool { return errors.Is(err, wire.ErrDeviceRevoked) }

// WipeReport is what Wipe erased and kept.
type WipeReport struct {
	Revocation Revocation
	// Removed counts the synced files erased: those unchanged since the
	// sync last matched them with the vault.
	Removed int
	// Kept are the files kept aside, changed since the last sync or never
	// synced: each moved from a folder DIR to DIR.kept-DATE beside it (the
	// same file system, so the move is a rename), full paths.
	Kept []string
	// KeptDirs are the folders DIR.kept-DATE the kept files were moved
	// into, one per synced folder that had any.
	KeptDirs []string
	// Folders are the synced folders that were cleaned.
	Folders []string
}

// Wipe erases this device's copies of the organisation's data once the
// verified log says it is revoked (ErrNotRevoked otherwise): in each
// synced folder, the files unchanged since the sync matched them with the
// vault are deleted and the others moved to KeptDir; then the sync
// journals, the block cache, the local state and the key file. The
// session is left for the caller to close. Run again after a crash, it
// goes on where it stopped (the key file and the state go last).
func (s *Session) Wipe(ctx context.Context) (WipeReport, error) {
	r := s.revocation()
	if r == nil {
		return WipeReport{}, ErrNotRevoked
	}
	rep := WipeReport{Revocation: *r}
	stamp := time.Now().UTC().Format("20060102-150405")
	key := s.SyncKey()
	statuses, _ := filepath.Glob(filepath.Join(s.dir, "sync", "*.status.json"))
	for _, p := range statuses {
		st, err := syncer.ReadStatus(p)
		if err != nil {
			continue
		}
		st = syncer.OpenStatus(key, st)
		if st.Dir == "" {
			continue
		}
		kept, keptDir := len(rep.Kept), st.Dir+".kept-"+stamp
		if err := wipeFolder(strings.TrimSuffix(p, ".status.json")+".db", key, st.Dir, keptDir, &rep); err != nil {
			return rep, err
		}
		if len(rep.Kept) > kept {
			rep.KeptDirs = append(rep.KeptDirs, keptDir)
		}
		rep.Folders = append(rep.Folders, st.Dir)
	}
	if err := s.state.close(); err != nil {
		return rep, err
	}
	for _, p := range []string{filepath.Join(s.dir, "sync"), filepath.Join(s.dir, "cache"), statePath(s.dir), statePath(s.dir) + "-wait", keyFilePath(s.dir)} {
		if err := os.RemoveAll(p); err != nil {
			return rep, fmt.Errorf("erasing %s: %w", p, err)
		}
	}
	return rep, nil
}

// ErrRevocationNotInLog is the answer to a server that refuses this
// device as revoked while the device's own verified log holds no
// revocation of it: the refusal is unsigned, so nothing is erased
// (SECURITY.md A42).
var ErrRevocationNotInLog = errors.New("the server refuses this device as revoked, but its organisation log holds no revocation of it: nothing was erased; tell your administrator")

// ErrNotRevoked is returned by Wipe when the verified log does not revoke
// this device: nothing is erased.
var ErrNotRevoked = errors.New("this device is not revoked in the verified organisation log: nothing erased")

// wipeFolder cleans one synced folder with its journal: what matches the
// journal's base (size and modification time, the sync's own test of an
// unchanged file) is deleted, everything else is moved aside.
func wipeFolder(journalPath string, key crypto.SecretKey, dir, keptDir string, rep *WipeReport) error {
	bases := map[string]syncer.Base{}
	if _, err := os.Stat(journalPath); err == nil {
		j, err := syncer.OpenJournal(journalPath, syncer.FixedKey(key))
		if err != nil {
			return err
		}
		bases, err = j.All()
		j.Close()
		if err != nil {
			return err
		}
	}
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			if rel != "." {
				dirs = append(dirs, p)
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		b, known := bases[filepath.ToSlash(rel)]
		if known && d.Type().IsRegular() && !b.Folder && b.Size == info.Size() && b.MtimeNs == info.ModTime().UnixNano() {
			rep.Removed++
			return os.Remove(p)
		}
		dst := filepath.Join(keptDir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		if err := os.Rename(p, dst); err != nil {
			return fmt.Errorf("keeping %s aside: %w", p, err)
		}
		rep.Kept = append(rep.Kept, dst)
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cleaning %s: %w", dir, err)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Remove(dirs[i]) // only if empty
	}
	os.Remove(dir)
	return nil
}
