package app

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/vaultlog"
	"github.com/coffre/coffre/workspace"
)

// vaultJSON is a vault as the API shows it.
type vaultJSON struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Role     string `json:"role"` // owner, manager, contributor or reader
	Members  int    `json:"members"`
	Archived bool   `json:"archived"`
	// Until is when this user's grant ends; absent: no end.
	Until *time.Time `json:"until,omitempty"`
	// CanWrite and CanManage say what the interface may offer.
	CanWrite  bool `json:"canWrite"`
	CanManage bool `json:"canManage"`
	// NeedsRotation: a member left and the key is not rotated yet; an
	// owner or manager's next write rotates it.
	NeedsRotation bool `json:"needsRotation"`
	// MemberList is given by GET /api/vaults/{vault} only.
	MemberList []memberJSON `json:"memberList,omitempty"`
}

func vaultOut(v client.VaultInfo, withMembers bool) vaultJSON {
	out := vaultJSON{ID: v.ID, Name: v.Name, Role: v.Role.String(), Members: len(v.Members), Archived: v.Archived,
		Until: timeOrNil(v.Until), CanWrite: v.Role.CanWrite() && !v.Archived, CanManage: v.Role.CanManage(),
		NeedsRotation: v.NeedsRotation}
	if withMembers {
		out.MemberList = membersOut(v.Members)
	}
	return out
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (h *api) listVaults(r *http.Request) (any, error) {
	out := []vaultJSON{}
	err := h.app.withSession(r.Context(), func(s *client.Session) error {
		vs, err := s.Vaults()
		for _, v := range vs {
			out = append(out, vaultOut(v, false))
		}
		return err
	})
	return out, err
}

func (h *api) createVault(r *http.Request) (any, error) {
	var req struct {
		Name string `json:"name"`
	}
	if err := readJSON(r, &req); err != nil {
		return nil, err
	}
	var out vaultJSON
	return &out, h.app.withSession(r.Context(), func(s *client.Session) error {
		v, err := s.CreateVault(r.Context(), req.Name)
		out = vaultOut(v, true)
		return err
	})
}

func (h *api) getVault(r *http.Request) (any, error) {
	var out vaultJSON
	return &out, h.app.withSession(r.Context(), func(s *client.Session) error {
		_, v, err := s.FindVault(r.PathValue("vault"))
		out = vaultOut(v, true)
		return err
	})
}

// changeVault renames, archives or restores a vault: the fields given
// are changed, in that order.
func (h *api) changeVault(r *http.Request) (any, error) {
	var req struct {
		Name     *string `json:"name"`
		Archived *bool   `json:"archived"`
	}
	if err := readJSON(r, &req); err != nil {
		return nil, err
	}
	if req.Name == nil && req.Archived == nil {
		return nil, badRequest("give name or archived")
	}
	var out vaultJSON
	return &out, h.app.withSession(r.Context(), func(s *client.Session) error {
		ctx, ref := r.Context(), r.PathValue("vault")
		v, _, err := s.FindVault(ref)
		if err != nil {
			return err
		}
		if req.Name != nil {
			if err := s.RenameVault(ctx, v.ID, *req.Name); err != nil {
				return err
			}
		}
		if req.Archived != nil {
			if err := s.ArchiveVault(ctx, v.ID, *req.Archived); err != nil {
				return err
			}
		}
		_, info, err := s.FindVault(v.ID)
		out = vaultOut(info, true)
		return err
	})
}

// vaultCache keeps the vaults opened on the app's session, so that
// browsing a folder page after page reads the vault log from the local
// state once, not at every call: an opened vault is brought up to date
// with the server (Vault.Sync) instead. An entry is good only for the
// session and the verified organisation it was opened with: a new
// session, or a certificate verified since (a member added or removed, a
// key rotated), opens the vault again with its upkeep.
type vaultCache struct {
	sess    *client.Session
	org     *certificate.Organisation
	entries map[string]*workspace.Vault // by vault id
}

// vault opens the vault ref (an id, or a name) on s, with its upkeep
// (PrepareVault: the person the interface stands for may write), or
// takes it from the cache. Call it inside withSession only.
func (h *api) vault(ctx context.Context, s *client.Session, ref string) (*workspace.Vault, error) {
	c := &h.vaults
	if c.sess != s || c.org != s.Organisation() {
		*c = vaultCache{sess: s, org: s.Organisation(), entries: map[string]*workspace.Vault{}}
	}
	v, _, err := s.FindVault(ref)
	if err != nil {
		return nil, err
	}
	if w, ok := c.entries[v.ID]; ok {
		err := w.Sync(ctx)
		if err == nil {
			return w, nil
		}
		delete(c.entries, v.ID)
		if !errors.Is(err, vaultlog.ErrOrganisationBehind) {
			return nil, err
		}
	}
	w, _, err := s.PrepareVault(ctx, v.ID)
	if err != nil {
		return nil, err
	}
	// The upkeep may have published a rotation: the cache starts again
	// on the organisation as it is now.
	if c.org != s.Organisation() {
		*c = vaultCache{sess: s, org: s.Organisation(), entries: map[string]*workspace.Vault{}}
	}
	c.entries[v.ID] = w
	return w, nil
}

// withVault runs fn with the vault named in the request's path, opened on
// the app's session.
func (h *api) withVault(r *http.Request, fn func(*client.Session, *workspace.Vault) error) error {
	return h.app.withSession(r.Context(), func(s *client.Session) error {
		w, err := h.vault(r.Context(), s, r.PathValue("vault"))
		if err != nil {
			return err
		}
		return fn(s, w)
	})
}
