package app

import (
	"net/http"
	"time"

	"github.com/coffre/coffre/client"
)

// emergencyJSON is an emergency access or an ownership takeover as the
// verified organisation log describes it (SPEC.md §16.3).
type emergencyJSON struct {
	Kind          string     `json:"kind"` // emergency or takeover
	VaultID       string     `json:"vaultId"`
	Vault         string     `json:"vault,omitempty"` // "" when this user can't decrypt its name
	UserID        string     `json:"userId"`
	User          string     `json:"user"`
	Reason        string     `json:"reason"`
	Start         time.Time  `json:"start"`
	Until         *time.Time `json:"until,omitempty"`
	NeedsApproval bool       `json:"needsApproval"`
	Approved      bool       `json:"approved"`
	ApprovedBy    string     `json:"approvedBy,omitempty"`
	Released      bool       `json:"released"`
	Running       bool       `json:"running"`
}

func emergencyOut(e client.EmergencyInfo) emergencyJSON {
	out := emergencyJSON{Kind: e.Kind, VaultID: e.VaultID, Vault: e.VaultName, UserID: e.UserID, User: e.User,
		Reason: e.Reason, Start: e.Start, Until: timeOrNil(e.Until), NeedsApproval: e.NeedsApproval,
		Approved: e.Approved, Released: e.Released, Running: e.Running}
	if e.NeedsApproval {
		out.ApprovedBy = e.ApprovedBy
	}
	return out
}

// invocableJSON is a vault whose emergency policy lets this user invoke
// it: the user is not a member, so it is known by its id and its creator.
type invocableJSON struct {
	VaultID   string `json:"vaultId"`
	CreatedBy string `json:"createdBy"`
	Hours     int    `json:"hours"`
	Approver  string `json:"approver,omitempty"`
}

func (h *api) listEmergencies(r *http.Request) (any, error) {
	out := struct {
		Emergencies []emergencyJSON `json:"emergencies"`
		Invocable   []invocableJSON `json:"invocable"`
	}{[]emergencyJSON{}, []invocableJSON{}}
	return &out, h.app.withSession(r.Context(), func(s *client.Session) error {
		for _, e := range s.Emergencies() {
			out.Emergencies = append(out.Emergencies, emergencyOut(e))
		}
		vs, err := s.Vaults()
		if err != nil {
			return err
		}
		member := map[string]bool{}
		for _, v := range vs {
			member[v.ID] = true
		}
		for _, v := range s.InvocableVaults() {
			if member[v.ID] {
				continue // invoked already, or a member: nothing to invoke
			}
			out.Invocable = append(out.Invocable, invocableJSON{VaultID: v.ID, CreatedBy: v.CreatedBy,
				Hours: int(v.Duration / time.Hour), Approver: v.Approver})
		}
		return nil
	})
}

func (h *api) invokeEmergency(r *http.Request) (any, error) {
	var req struct {
		Vault  string `json:"vault"`
		Reason string `json:"reason"`
	}
	if err := readJSON(r, &req); err != nil {
		return nil, err
	}
	if req.Vault == "" {
		return nil, badRequest("vault is required (the vault's id)")
	}
	var out emergencyJSON
	return &out, h.app.withSession(r.Context(), func(s *client.Session) error {
		e, err := s.InvokeEmergency(r.Context(), req.Vault, req.Reason)
		out = emergencyOut(e)
		return err
	})
}
