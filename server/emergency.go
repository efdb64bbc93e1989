package server

import (
	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/server/store"
)

// publishEmergencies tells the owners and managers of a vault, through
// their Watch streams, that an emergency access to it was invoked or
// approved, or that an admin took it over (SPEC.md §16.3). The event is a
// hint, like every event: their client verifies the log and shows the
// certificate, never this.
func (s *Server) publishEmergencies(orgID string, certs []*certificate.Certificate) {
	for _, c := range certs {
		var vault string
		switch st := c.Statement.(type) {
		case certificate.EmergencyInvoked:
			vault = st.VaultID
		case certificate.EmergencyApproved:
			vault = st.VaultID
		case certificate.VaultOwnershipTaken:
			vault = st.VaultID
		default:
			continue
		}
		s.bus.Publish(orgID, store.Event{Kind: store.EmergencyAppended, Vault: vault, Position: c.Position})
	}
}

// hearsEmergency: the caller owns or manages the vault (their stream's
// state was brought to the log's head by the LogAppended event published
// before), or, for a takeover, is any member of it.
func (s *Server) hearsEmergency(c *caller, ev store.Event) bool {
	v, ok := c.org.Vault(ev.Vault)
	if !ok {
		return false
	}
	role := c.org.RoleOf(v, c.user.ID, s.cfg.Now())
	if role.CanManage() {
		return true
	}
	for _, t := range v.Takeovers() {
		if t.Position == ev.Position && role != certificate.RoleNone {
			return true
		}
	}
	return false
}
