package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrLocalExists is returned when a download would replace a file that is
// already on this device and the caller did not ask to replace it: nothing
// was written, the local file is as it was.
var ErrLocalExists = errors.New("already on this device")

// placeFile puts the finished temporary file tmp (in dest's folder,
// synced) at dest. With replace, a rename: dest is atomically either the
// old file or the new one, never a mix. Without it, a hard link, which
// fails when dest exists, so a file that appeared during the download is
// not replaced either. The folder is synced so the new name survives a
// power cut.
func placeFile(tmp, dest string, replace bool) error {
	if replace {
		if info, err := os.Lstat(dest); err == nil && info.IsDir() {
			return fmt.Errorf("%s: %w", dest, ErrIsFolder)
		}
		if err := os.Rename(tmp, dest); err != nil {
			return err
		}
		return syncDir(filepath.Dir(dest))
	}
	err := os.Link(tmp, dest)
	switch {
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%s: %w", dest, ErrLocalExists)
	case err != nil:
		// A file system without hard links (FAT, some network shares):
		// look, then rename; only a file made in between is at risk.
		if _, serr := os.Lstat(dest); !errors.Is(serr, fs.ErrNotExist) {
			return fmt.Errorf("%s: %w", dest, ErrLocalExists)
		}
		if err := os.Rename(tmp, dest); err != nil {
			return err
		}
	default:
		os.Remove(tmp)
	}
	return syncDir(filepath.Dir(dest))
}

// localFree reports, as ErrLocalExists, a file or anything else already
// at dest (nil when the name is free).
func localFree(dest string) error {
	_, err := os.Lstat(dest)
	switch {
	case err == nil:
		return fmt.Errorf("%s: %w", dest, ErrLocalExists)
	case errors.Is(err, fs.ErrNotExist):
		return nil
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	// Some systems can't sync a folder (EINVAL): the rename stands anyway,
	// only its durability is the system's.
	d.Sync()
	return nil
}
