package boltstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrNotBackup is returned by CheckBackup and Restore for a file that is
// not a sound copy of a store: not a bbolt file, cut short, damaged, or
// without the layout every store has.
var ErrNotBackup = errors.New("not a coffre backup")

// Backup writes a consistent copy of the bbolt file to w; the copy opens
// with Open. Writers are not blocked while it runs.
func (s *Store) Backup(ctx context.Context, w io.Writer) error {
	return s.view(ctx, func(tx *bolt.Tx) error {
		if _, err := tx.WriteTo(ctxWriter{ctx, w}); err != nil {
			return fmt.Errorf("backing up store: %w", err)
		}
		return nil
	})
}

// ctxWriter stops a long backup when its context is cancelled.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// IsBackup says whether head, the first bytes of a file, looks like a
// backup of this store (a bbolt file); CheckBackup checks it.
func IsBackup(head []byte) bool {
	// The first page of a bbolt file is a meta page: a 16-byte page
	// header, then the magic number, little-endian.
	return len(head) >= 20 && bytes.Equal(head[16:20], []byte{0xed, 0xda, 0x0c, 0xed})
}

// CheckBackup opens the bbolt file at path read-only and checks that bbolt
// finds its pages consistent and that it holds what every store holds (the
// layout in boltstore.go): a format version, the organisation buckets, the
// sub-buckets of each organisation and a log in each vault. A file that is
// not is ErrNotBackup; one that another process holds, ErrLocked.
func CheckBackup(path string) (err error) {
	notBackup := func(format string, args ...any) error {
		return fmt.Errorf("%s is %w: %s", path, ErrNotBackup, fmt.Sprintf(format, args...))
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("reading the backup: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("%s is %w: give a backup, not a running server's store", path, ErrLocked)
	case err != nil:
		return notBackup("%v", err)
	}
	defer db.Close()
	// A file cut short is mapped past its end, and reading there faults:
	// make that a panic this function recovers from.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = notBackup("it is damaged (%v)", r)
		}
	}()
	return db.View(func(tx *bolt.Tx) error {
		if tx.Size() > fi.Size() {
			return notBackup("it is cut short (%d bytes of %d)", fi.Size(), tx.Size())
		}
		var damage error
		for err := range tx.Check() { // read to the end: Check stops then
			if damage == nil {
				damage = err
			}
		}
		if damage != nil {
			return notBackup("it is damaged (%v)", damage)
		}
		meta := tx.Bucket(bucketMeta)
		if meta == nil || len(meta.Get(keyVersion)) == 0 {
			return notBackup("it has no format version")
		}
		if v := meta.Get(keyVersion); !knownFormat(v) {
			return notBackup("its format version %q is neither %q nor %q", v, formatVersion, formatSmallBlocks)
		}
		orgs, org := tx.Bucket(bucketOrgs), tx.Bucket(bucketOrg)
		if orgs == nil || org == nil {
			return notBackup("it has no organisations bucket")
		}
		return orgs.ForEach(func(id, _ []byte) error {
			b := org.Bucket(id)
			if b == nil {
				return notBackup("organisation %s has no data", id)
			}
			for _, name := range orgBuckets {
				if b.Bucket(name) == nil {
					return notBackup("organisation %s lacks its %s", id, name)
				}
			}
			// Made by a vault's first append: absent is fine, but each
			// vault in it has its log.
			vaults := b.Bucket(bucketVaults)
			if vaults == nil {
				return nil
			}
			return vaults.ForEachBucket(func(vault []byte) error {
				if vaults.Bucket(vault).Bucket(bucketLog) == nil {
					return notBackup("vault %s of organisation %s lacks its log", vault, id)
				}
				return nil
			})
		})
	})
}

// Restored says what Restore did.
type Restored struct {
	Organisations int    // in the restored store
	Kept          string // the replaced store's new name; "" if there was none
}

// Restore puts the backup at from in place of the store at path, which no
// process may hold (ErrLocked): the backup is checked (CheckBackup), copied
// next to path, synced, opened as a store, and renamed over path in one
// step. The store it replaces is kept as path.before-restore-TIME.
func Restore(ctx context.Context, path, from string) (Restored, error) {
	if a, err := os.Stat(from); err == nil {
		if b, err := os.Stat(path); err == nil && os.SameFile(a, b) {
			return Restored{}, fmt.Errorf("%s is the store itself, not a backup of it", from)
		}
	}
	if err := checkUnlocked(path); err != nil {
		return Restored{}, err
	}
	if err := CheckBackup(from); err != nil {
		return Restored{}, err
	}
	dir := filepath.Dir(path)
	tmp, err := copyInto(dir, from)
	if err != nil {
		return Restored{}, fmt.Errorf("copying the backup into %s: %w", dir, err)
	}
	defer os.Remove(tmp) // gone already once renamed
	// The copy is the store's own: check that the store opens it.
	st, err := Open(tmp, Options{})
	if err != nil {
		return Restored{}, fmt.Errorf("%s is %w: %w", from, ErrNotBackup, err)
	}
	orgs, err := st.Organisations(ctx)
	if err := errors.Join(err, st.Close()); err != nil {
		return Restored{}, fmt.Errorf("%s is %w: %w", from, ErrNotBackup, err)
	}

	// A server may have been started since the first check.
	if err := checkUnlocked(path); err != nil {
		return Restored{}, err
	}
	kept, err := keepOld(path)
	if err != nil {
		return Restored{}, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return Restored{}, fmt.Errorf("putting the backup in place: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return Restored{}, err
	}
	return Restored{Organisations: len(orgs), Kept: kept}, nil
}

// checkUnlocked fails with ErrLocked if another process holds the bbolt
// file at path (a server holds it for as long as it runs). A file that is
// missing or does not open is not held: it is what a restore replaces.
func checkUnlocked(path string) error {
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 300 * time.Millisecond})
	if errors.Is(err, berrors.ErrTimeout) {
		return fmt.Errorf("%s is %w (a server still running?): stop it before restoring", path, ErrLocked)
	}
	if err == nil {
		db.Close()
	}
	return nil
}

// copyInto copies the file from to a new temporary file in dir, synced to
// disk, and returns its path.
func copyInto(dir, from string) (string, error) {
	src, err := os.Open(from)
	if err != nil {
		return "", err
	}
	defer src.Close()
	dst, err := os.CreateTemp(dir, ".restore-*")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(dst, src)
	if err == nil {
		err = dst.Chmod(0o600)
	}
	if err == nil {
		err = dst.Sync()
	}
	if err := errors.Join(err, dst.Close()); err != nil {
		os.Remove(dst.Name())
		return "", err
	}
	return dst.Name(), nil
}

// keepOld gives the store at path a second name,
// path.before-restore-TIME, and returns it ("" when there is no store). A
// hard link keeps path in place until the rename over it, so that there is
// always a store there; where links can't be made, the file is moved.
func keepOld(path string) (string, error) {
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	stamp := time.Now().UTC().Format("20060102T150405Z")
	kept := path + ".before-restore-" + stamp
	for i := 2; ; i++ {
		if _, err := os.Lstat(kept); errors.Is(err, os.ErrNotExist) {
			break
		}
		kept = fmt.Sprintf("%s.before-restore-%s-%d", path, stamp, i)
	}
	if err := os.Link(path, kept); err != nil {
		if err := os.Rename(path, kept); err != nil {
			return "", fmt.Errorf("keeping the current store: %w", err)
		}
	}
	return kept, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
