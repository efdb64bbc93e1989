package app

import (
	"net/http"
	"sync"

	"github.com/coffre/coffre/client"
)

// api is the JSON API's handlers (docs/API.md lists the calls). Besides
// the App it keeps what lasts between calls: the vaults opened on the
// app's session, and the code exchanges (greetings, enrolments) that run
// in the background while the interface polls them.
type api struct {
	app        *App
	vaults     vaultCache // used under app.mu only (withSession)
	transfers  transfers
	greetings  exchanges
	enrolments exchanges
	claiming   sync.Mutex // held while a claim starts
}

// routes registers the JSON API (docs/API.md lists it). Paths inside a
// vault are always the query parameter path (/a/b), never part of the
// URL path: a file name may hold any character but '/' and NUL.
func (a *App) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/identity", a.identity)
	(&api{app: a}).register(mux)
}

func (h *api) register(mux *http.ServeMux) {

	// Vaults and sharing (api_vaults.go, api_sharing.go).
	mux.Handle("GET /api/vaults", jsonCall(h.listVaults))
	mux.Handle("POST /api/vaults", jsonCall(h.createVault))
	mux.Handle("GET /api/vaults/{vault}", jsonCall(h.getVault))
	mux.Handle("PATCH /api/vaults/{vault}", jsonCall(h.changeVault))
	mux.Handle("GET /api/vaults/{vault}/members", jsonCall(h.listMembers))
	mux.Handle("PUT /api/vaults/{vault}/members/{user}", jsonCall(h.share))
	mux.Handle("DELETE /api/vaults/{vault}/members/{user}", jsonCall(h.unshare))

	// Files (api_files.go, api_history.go).
	mux.Handle("GET /api/vaults/{vault}/files", jsonCall(h.listFiles))
	mux.Handle("DELETE /api/vaults/{vault}/files", jsonCall(h.removeFile))
	mux.Handle("POST /api/vaults/{vault}/folders", jsonCall(h.makeFolder))
	mux.Handle("POST /api/vaults/{vault}/move", jsonCall(h.moveFile))
	mux.HandleFunc("PUT /api/vaults/{vault}/content", h.upload)
	mux.HandleFunc("GET /api/vaults/{vault}/content", h.download)
	mux.HandleFunc("GET /api/vaults/{vault}/preview", h.preview)
	mux.Handle("GET /api/vaults/{vault}/trash", jsonCall(h.listTrash))
	mux.Handle("POST /api/vaults/{vault}/undelete", jsonCall(h.undelete))
	mux.Handle("GET /api/vaults/{vault}/history", jsonCall(h.history))
	mux.Handle("POST /api/vaults/{vault}/restore", jsonCall(h.restore))

	// People (api_people.go, api_greet.go).
	mux.Handle("GET /api/emergencies", jsonCall(h.listEmergencies))
	mux.Handle("POST /api/emergencies", jsonCall(h.invokeEmergency))
	mux.Handle("GET /api/users", jsonCall(h.listUsers))
	mux.Handle("PATCH /api/users/{user}", jsonCall(h.changeUser))
	mux.Handle("POST /api/users/{user}/revoke", jsonCall(h.revokeUser))
	mux.Handle("GET /api/devices", jsonCall(h.listDevices))
	mux.Handle("POST /api/devices/{id}/revoke", jsonCall(h.revokeDevice))
	mux.Handle("POST /api/devices/recovery", jsonCall(h.exportRecovery))
	mux.Handle("GET /api/invitations", jsonCall(h.listInvitations))
	mux.Handle("POST /api/invitations", jsonCall(h.invite))
	mux.Handle("DELETE /api/invitations/{id}", jsonCall(h.cancelInvitation))
	mux.Handle("GET /api/audit", jsonCall(h.audit))
	mux.Handle("GET /api/audit/verify", jsonCall(h.verifyAudit))
	mux.Handle("POST /api/greetings", jsonCall(h.startGreeting))
	mux.Handle("GET /api/greetings/{id}", jsonCall(h.greetingState))
	mux.Handle("POST /api/greetings/{id}/answer", jsonCall(h.answerGreeting))
	mux.Handle("DELETE /api/greetings/{id}", jsonCall(h.cancelGreeting))

	// A device's first run, or another device (api_enrol.go): no keys
	// needed.
	mux.Handle("POST /api/enrol", jsonCall(h.inspectInvitation))
	mux.Handle("POST /api/enrol/{id}/start", jsonCall(h.startClaim))
	mux.Handle("GET /api/enrol/{id}", jsonCall(h.claimState))
	mux.Handle("POST /api/enrol/{id}/answer", jsonCall(h.answerClaim))
	mux.Handle("POST /api/enrol/{id}/passphrase", jsonCall(h.choosePassphrase))
	mux.Handle("DELETE /api/enrol/{id}", jsonCall(h.cancelClaim))

	// Sync folders (api_sync.go).
	mux.Handle("GET /api/sync", jsonCall(h.listSync))
	mux.Handle("POST /api/sync", jsonCall(h.addSync))
	mux.Handle("POST /api/sync/{id}/pause", jsonCall(h.pauseSync))
	mux.Handle("POST /api/sync/{id}/resume", jsonCall(h.resumeSync))
}

// identityJSON is who this device is.
type identityJSON struct {
	OrganisationID   string `json:"organisationId"`
	OrganisationName string `json:"organisationName"`
	// OrganisationLink has no secret: what invitations are made from.
	OrganisationLink string `json:"organisationLink"`
	Server           string `json:"server"`
	UserID           string `json:"userId"`
	DeviceID         string `json:"deviceId"`
	DeviceLabel      string `json:"deviceLabel"`
}

func identityOut(id client.Identity) identityJSON {
	return identityJSON{OrganisationID: id.OrganisationID, OrganisationName: id.OrganisationName,
		OrganisationLink: id.OrganisationLink, Server: id.Server, UserID: id.UserID, DeviceID: id.DeviceID, DeviceLabel: id.DeviceLabel}
}

// identity answers who this device is.
func (a *App) identity(w http.ResponseWriter, r *http.Request) {
	var id client.Identity
	err := a.withSession(r.Context(), func(s *client.Session) error {
		id = s.Identity()
		return nil
	})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, identityOut(id))
}
