package app

import (
	"net/http"
	"time"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/workspace"
)

// History: the versions of a file, and bringing an old one back. "View as
// of a date" is the listing's and the download's at parameter
// (api_files.go).

// versionJSON is one version of a file or folder.
type versionJSON struct {
	Version uint64    `json:"version"`
	Time    time.Time `json:"time"`
	Size    uint64    `json:"size"`
	Kind    string    `json:"kind"`
	Author  userRef   `json:"author"`
	// Device is the label of the device that signed it.
	Device string `json:"device"`
}

// history lists every version of the file or folder at path, oldest
// first.
func (h *api) history(r *http.Request) (any, error) {
	p, err := vaultPath(r, "path")
	if err != nil {
		return nil, err
	}
	out := []versionJSON{}
	err = h.withVault(r, func(s *client.Session, v *workspace.Vault) error {
		hist, err := v.History(p)
		org := s.Organisation()
		for _, ver := range hist {
			device := ver.Author
			if d, ok := org.Device(ver.Author); ok {
				device = d.Label
			}
			out = append(out, versionJSON{Version: ver.Version, Time: ver.Time, Size: ver.Manifest.Size,
				Kind: kindOf(ver.Manifest.Folder), Author: userOf(org, ver.User), Device: device})
		}
		return err
	})
	return out, err
}

// restore makes an old version of a file its newest, as a new version:
// nothing of the history is lost.
func (h *api) restore(r *http.Request) (any, error) {
	return h.changeVersion(r, false, func(v *workspace.Vault, p string, n uint64) (workspace.Version, error) {
		if err := v.Restore(r.Context(), p, n); err != nil {
			return workspace.Version{}, err
		}
		return v.Stat(p, time.Time{})
	})
}
