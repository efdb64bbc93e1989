package app

import (
	"cmp"
	"fmt"
	"net/http"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/link"
)

// People: the users of the organisation as the verified log describes
// them, invitations, revocation and profiles (administrators), and the
// audit trail with its verification in words. The code exchange that
// enrols an invited person is api_greet.go's.

// userJSON is a user of the organisation.
type userJSON struct {
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	Email     string       `json:"email"`
	Profile   string       `json:"profile"` // admin, standard or outsider
	Me        bool         `json:"me"`
	Revoked   bool         `json:"revoked"`
	RevokedOn *time.Time   `json:"revokedOn,omitempty"`
	Created   time.Time    `json:"created"`
	Devices   []deviceJSON `json:"devices"`
	// Unknown: this device was not sent the user's name and email
	// (SPEC.md §17); the interface shows them by id.
	Unknown bool `json:"unknown,omitempty"`
}

type deviceJSON struct {
	ID      string    `json:"id"`
	Label   string    `json:"label"`
	Created time.Time `json:"created"`
}

func userOut(s *client.Session, u *certificate.User) userJSON {
	out := userJSON{ID: u.ID, Name: u.Name, Email: u.Email, Profile: u.Profile.String(), Me: u.ID == s.Identity().UserID,
		Revoked: u.Revoked(), Created: u.CreatedAt, Devices: []deviceJSON{}, Unknown: u.Unknown()}
	if u.Revoked() {
		out.RevokedOn = timeOrNil(u.RevokedOn)
	}
	for _, d := range s.Organisation().Devices(u.ID) {
		out.Devices = append(out.Devices, deviceJSON{ID: d.ID, Label: d.Label, Created: d.CreatedAt})
	}
	return out
}

// listUsers lists every user of the organisation, revoked ones too (they
// stay in the history), in the order they joined.
func (h *api) listUsers(r *http.Request) (any, error) {
	out := []userJSON{}
	err := h.app.withSession(r.Context(), func(s *client.Session) error {
		for _, u := range s.Organisation().Users() {
			out = append(out, userOut(s, u))
		}
		return nil
	})
	return out, err
}

// changeUser changes a user's profile (administrators).
func (h *api) changeUser(r *http.Request) (any, error) {
	var req struct {
		Profile string `json:"profile"`
	}
	if err := readJSON(r, &req); err != nil {
		return nil, err
	}
	p, err := certificate.ParseProfile(req.Profile)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	return h.userChange(r, func(s *client.Session, ref string) (*certificate.User, error) {
		return s.SetProfile(r.Context(), ref, p)
	})
}

// revokeUser revokes a user and all their devices (administrators).
func (h *api) revokeUser(r *http.Request) (any, error) {
	return h.userChange(r, func(s *client.Session, ref string) (*certificate.User, error) {
		return s.Revoke(r.Context(), ref)
	})
}

// userChange runs an administrator's change to the user in the path and
// answers the user as the log then says.
func (h *api) userChange(r *http.Request, change func(*client.Session, string) (*certificate.User, error)) (any, error) {
	var out userJSON
	err := h.app.withSession(r.Context(), func(s *client.Session) error {
		u, err := change(s, r.PathValue("user"))
		if err != nil {
			return err
		}
		if u, err = s.FindUser(u.ID); err != nil {
			return err
		}
		out = userOut(s, u)
		return nil
	})
	return out, err
}

// invitationJSON is an invitation as the server lists it.
type invitationJSON struct {
	ID       string    `json:"id"`
	Kind     string    `json:"kind"` // user or device
	Email    string    `json:"email,omitempty"`
	Profile  string    `json:"profile,omitempty"`
	Created  time.Time `json:"created,omitzero"`
	Expires  time.Time `json:"expires"`
	State    string    `json:"state"`
	Attempts int       `json:"attempts"`
}

func invitationOut(inv client.Invitation) invitationJSON {
	return invitationJSON{ID: inv.ID, Kind: inv.Kind, Email: inv.Email, Profile: inv.Profile, Created: inv.Created,
		Expires: inv.Expires, State: inv.State, Attempts: inv.Attempts}
}

func (h *api) listInvitations(r *http.Request) (any, error) {
	out := []invitationJSON{}
	err := h.app.withSession(r.Context(), func(s *client.Session) error {
		invs, err := s.Invitations(r.Context())
		for _, inv := range invs {
			out = append(out, invitationOut(inv))
		}
		return err
	})
	return out, err
}

// invite creates an invitation and answers the link to send: for a new
// user (administrators; replace cancels a pending one for the same
// email), or for another device of this user. The code exchange follows
// (POST /api/greetings) once the person opens the link.
func (h *api) invite(r *http.Request) (any, error) {
	var req struct {
		Kind    string `json:"kind"` // user (default) or device
		Email   string `json:"email"`
		Profile string `json:"profile"` // default standard
		Hours   int    `json:"hours"`   // how long the link works; default 48
		Replace bool   `json:"replace"`
	}
	if err := readJSON(r, &req); err != nil {
		return nil, err
	}
	life := client.DefaultInvitationLife
	if req.Hours < 0 {
		return nil, badRequest("hours: an invitation must stay valid for a positive time")
	} else if req.Hours > 0 {
		life = time.Duration(req.Hours) * time.Hour
	}
	profile, err := certificate.ParseProfile(cmp.Or(req.Profile, "standard"))
	if err != nil {
		return nil, badRequest("%v", err)
	}
	var out struct {
		Link       string         `json:"link"`
		Invitation invitationJSON `json:"invitation"`
	}
	err = h.app.withSession(r.Context(), func(s *client.Session) error {
		ctx := r.Context()
		var (
			l   link.Link
			inv client.Invitation
			err error
		)
		switch cmp.Or(req.Kind, "user") {
		case "user":
			invite := s.InviteUser
			if req.Replace {
				invite = s.ReplaceUserInvitation
			}
			l, inv, err = invite(ctx, req.Email, profile, life)
		case "device":
			l, inv, err = s.InviteDevice(ctx, life)
		default:
			return badRequest("kind: want user or device, not %q", req.Kind)
		}
		if err != nil {
			return err
		}
		out.Link, out.Invitation = l.String(), invitationOut(inv)
		return nil
	})
	return out, err
}

func (h *api) cancelInvitation(r *http.Request) (any, error) {
	id := r.PathValue("id")
	err := h.app.withSession(r.Context(), func(s *client.Session) error {
		return s.CancelInvitation(r.Context(), id)
	})
	return map[string]string{"id": id}, err
}

// auditJSON is one certificate of the verified history, in words.
type auditJSON struct {
	Position uint64    `json:"position"`
	Time     time.Time `json:"time"`
	Author   string    `json:"author"` // "name <email> (device)", or "root key"
	Action   string    `json:"action"`
	Hash     string    `json:"hash"`
}

// audit lists the verified organisation log, oldest first.
func (h *api) audit(r *http.Request) (any, error) {
	out := []auditJSON{}
	err := h.app.withSession(r.Context(), func(s *client.Session) error {
		entries, err := s.Audit()
		for _, e := range entries {
			out = append(out, auditJSON{Position: e.Position, Time: e.Time, Author: e.Author, Action: e.Action, Hash: e.Hash})
		}
		return err
	})
	return out, err
}

// verifyJSON is the audit's verification: the report, and what it means
// in one sentence.
type verifyJSON struct {
	Consistent         bool     `json:"consistent"`
	Summary            string   `json:"summary"`
	Problem            string   `json:"problem,omitempty"`
	Entries            uint64   `json:"entries"`
	Head               string   `json:"head"`
	VaultsChecked      int      `json:"vaultsChecked"`
	ServerMisbehaviour []string `json:"serverMisbehaviour,omitempty"`
}

// verifyAudit fetches the whole organisation log again, verifies it from
// the root key and compares it with what this device verified before,
// with the vault logs (coffre audit --verify).
func (h *api) verifyAudit(r *http.Request) (any, error) {
	var out verifyJSON
	err := h.app.withSession(r.Context(), func(s *client.Session) error {
		rep, err := s.VerifyAudit(r.Context())
		if err != nil {
			return err
		}
		out = verifyJSON{Consistent: rep.Consistent, Problem: rep.Problem, Entries: rep.Positions, Head: rep.Head,
			VaultsChecked: rep.VaultsChecked, ServerMisbehaviour: rep.ServerMisbehaviour}
		out.Summary = verifySummary(rep)
		return nil
	})
	return out, err
}

// verifySummary says a verification's result in words.
func verifySummary(rep client.AuditReport) string {
	if rep.Consistent {
		return fmt.Sprintf("Verified: the server's organisation log (%d entries) checks out from the organisation's root key and matches what this device verified before, as do the %d vault logs this device holds.",
			rep.Positions, rep.VaultsChecked)
	}
	return fmt.Sprintf("PROBLEM: %s. The server is showing this device a history that contradicts what it verified before: tell your administrator and keep this report.", rep.Problem)
}
