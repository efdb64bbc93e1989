package transfer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"syscall"
	"time"

	"github.com/coffre/coffre/workspace"
)

// getPlan is what a Get writes: its folders, parents first, and its files.
type getPlan struct {
	dirs  []string
	files []getFile
}

type getFile struct {
	remote, local string
	size          uint64
}

// planGet lists what getting remote (ver) to local writes, before
// anything is downloaded.
func planGet(v *workspace.Vault, remote, local string, ver workspace.Version, at time.Time) (*getPlan, error) {
	plan := &getPlan{}
	var walk func(remote, local string, ver workspace.Version) error
	walk = func(remote, local string, ver workspace.Version) error {
		if !ver.Manifest.Folder {
			plan.files = append(plan.files, getFile{remote, local, ver.Manifest.Size})
			return nil
		}
		plan.dirs = append(plan.dirs, local)
		items, err := v.List(remote, at)
		if err != nil {
			return err
		}
		for _, i := range items {
			child, err := v.Stat(path.Join(remote, i.Name), at)
			if err != nil {
				return err
			}
			if err := walk(path.Join(remote, i.Name), filepath.Join(local, i.Name), child); err != nil {
				return err
			}
		}
		return nil
	}
	return plan, walk(remote, local, ver)
}

// check refuses the plan when a local path is in the way: a file where a
// folder goes (always), a folder where a file goes (always), a file where
// a file goes (unless replace). The first one is named, with how many more.
func (g *getPlan) check(replace bool) error {
	var first error
	n := 0
	note := func(err error) {
		if first == nil {
			first = err
		}
		n++
	}
	for _, d := range g.dirs {
		if info, err := os.Stat(d); err == nil && !info.IsDir() {
			note(fmt.Errorf("%s: %w locally, a folder in the vault", d, workspace.ErrNotFolder))
		}
	}
	for _, f := range g.files {
		info, err := os.Lstat(f.local)
		switch {
		case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR): // under a file in the way, already named
		case err != nil:
			note(err)
		case info.IsDir():
			note(fmt.Errorf("%s: %w locally, a file in the vault", f.local, workspace.ErrIsFolder))
		case !replace:
			note(fmt.Errorf("%s: %w", f.local, workspace.ErrLocalExists))
		}
	}
	if n > 1 {
		return fmt.Errorf("%w (and %d more in the way)", first, n-1)
	}
	return first
}
