package app

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/coffre/coffre/client/app/web"
	"github.com/coffre/coffre/crypto"
)

// The web interface's security (SPEC.md §14.3, SECURITY.md A50–A57, A71).
// A local web server is reachable by every web page the person opens
// (through the browser) and by every account of the machine (through the
// loopback port): none of them must reach the API. Browsers don't isolate
// cookies by port, so another account's server on another loopback port
// that the person's browser visits receives the session cookie: the cookie
// alone opens nothing but the interface's (public) assets.
const (
	// CSRFHeader carries the session's CSRF token on every API request over
	// HTTP, GET included. The page gets the token once, in the fragment of
	// the login redirect (/#k=…), which no server receives, and keeps it in
	// its origin's storage (scoped by port, unlike cookies).
	CSRFHeader = "X-Coffre-CSRF"
	// TicketLifetime bounds how long a download ticket (POST /api/tickets)
	// waits for its one use.
	TicketLifetime = time.Minute
	// ContentSecurityPolicy: only this origin's scripts, styles and images
	// (and images the page makes itself: blob:, data:), no inline script,
	// no frame around the interface, no form or base elsewhere.
	ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

// webSecurity wraps the API and the embedded assets for the loopback HTTP
// listener.
type webSecurity struct {
	cookie string          // the session cookie's name (one per port: two apps don't clash)
	hosts  map[string]bool // the Host values this listener answers to
	api    http.Handler
	assets http.Handler

	now func() time.Time

	mu       sync.Mutex
	logins   map[[32]byte]bool   // login tokens not used yet, by digest
	sessions map[[32]byte]string // browser sessions' CSRF tokens, by cookie digest
	tickets  map[[32]byte]ticket // download tickets not used yet, by digest
}

// ticket lets one navigation (a download, an image or PDF preview: a
// request that can't carry the CSRF header) GET one file URL of the API,
// once, within TicketLifetime, with the cookie of the session that asked
// for it.
type ticket struct {
	session [32]byte // the cookie's digest
	target  string   // the API path and query it opens
	expires time.Time
}

// newWebSecurity serves api and the embedded assets to browsers that came
// through a login link, on the loopback address addr (host:port).
func newWebSecurity(addr string, api http.Handler, now func() time.Time) *webSecurity {
	_, port, _ := net.SplitHostPort(addr)
	host, _, _ := net.SplitHostPort(addr)
	hosts := map[string]bool{
		net.JoinHostPort(host, port):        true,
		net.JoinHostPort("localhost", port): true,
	}
	return &webSecurity{
		cookie:   "coffre_session_" + port,
		hosts:    hosts,
		api:      api,
		assets:   http.FileServerFS(web.Assets()),
		now:      now,
		logins:   map[[32]byte]bool{},
		sessions: map[[32]byte]string{},
		tickets:  map[[32]byte]ticket{},
	}
}

func randomToken() string { return base64.RawURLEncoding.EncodeToString(crypto.RandomBytes(32)) }

func digest(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// newLogin makes a single-use login token.
func (ws *webSecurity) newLogin() string {
	tok := randomToken()
	ws.mu.Lock()
	ws.logins[digest(tok)] = true
	ws.mu.Unlock()
	return tok
}

// useLogin spends a login token and opens a browser session: its cookie
// value and CSRF token. ok is false for a token unknown or already used.
func (ws *webSecurity) useLogin(tok string) (cookie, csrf string, ok bool) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	d := digest(tok)
	if !ws.logins[d] {
		return "", "", false
	}
	delete(ws.logins, d)
	cookie, csrf = randomToken(), randomToken()
	ws.sessions[digest(cookie)] = csrf
	return cookie, csrf, true
}

// session returns the CSRF token of the request's browser session and its
// cookie's digest.
func (ws *webSecurity) session(r *http.Request) (csrf string, id [32]byte, ok bool) {
	c, err := r.Cookie(ws.cookie)
	if err != nil {
		return "", id, false
	}
	id = digest(c.Value)
	ws.mu.Lock()
	defer ws.mu.Unlock()
	csrf, ok = ws.sessions[id]
	return csrf, id, ok
}

// ticketTarget checks that target is a file URL of the API, the only ones
// a ticket opens: GET /api/vaults/{vault}/content or …/preview, with its
// query.
func ticketTarget(target string) (string, bool) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Fragment != "" {
		return "", false
	}
	parts := strings.Split(u.Path, "/")
	if path.Clean(u.Path) != u.Path || len(parts) != 5 || parts[0] != "" || parts[1] != "api" || parts[2] != "vaults" ||
		parts[3] == "" || parts[3] == "." || parts[3] == ".." || (parts[4] != "content" && parts[4] != "preview") {
		return "", false
	}
	return u.RequestURI(), true
}

// newTicket makes a ticket for session to open target once.
func (ws *webSecurity) newTicket(session [32]byte, target string) string {
	tok := randomToken()
	now := ws.now()
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for d, t := range ws.tickets { // forget the expired: the map stays small
		if !now.Before(t.expires) {
			delete(ws.tickets, d)
		}
	}
	ws.tickets[digest(tok)] = ticket{session: session, target: target, expires: now.Add(TicketLifetime)}
	return tok
}

// useTicket spends a ticket presented with session's cookie and returns
// what it opens. A ticket is spent by any try, even with another cookie.
func (ws *webSecurity) useTicket(session [32]byte, tok string) (string, bool) {
	now := ws.now()
	ws.mu.Lock()
	defer ws.mu.Unlock()
	d := digest(tok)
	t, ok := ws.tickets[d]
	if !ok {
		return "", false
	}
	delete(ws.tickets, d)
	if t.session != session || !now.Before(t.expires) {
		return "", false
	}
	return t.target, true
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// loopback reports whether a request's peer is this machine.
func loopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (ws *webSecurity) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	if !loopback(r.RemoteAddr) {
		http.Error(w, "coffre app answers only this machine", http.StatusForbidden)
		return
	}
	// DNS rebinding: a page of evil.example whose name now points to
	// 127.0.0.1 sends Host: evil.example.
	if !ws.hosts[strings.ToLower(r.Host)] {
		http.Error(w, "wrong Host: open the address coffre app printed", http.StatusMisdirectedRequest)
		return
	}
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
		return
	}
	csrf, session, ok := ws.session(r)
	isAPI := r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/")
	// Every API call, and anything but a read elsewhere, needs the token
	// besides the cookie: a stolen cookie reads nothing (A71).
	if isAPI || !safeMethod(r.Method) {
		if !ok {
			writeAPIError(w, http.StatusUnauthorized, "login", "not logged in: open the link coffre app printed")
			return
		}
		if subtle.ConstantTimeCompare([]byte(r.Header.Get(CSRFHeader)), []byte(csrf)) != 1 {
			writeAPIError(w, http.StatusForbidden, "csrf", "missing or wrong "+CSRFHeader+" header: open a new link from coffre app")
			return
		}
	}
	if isAPI {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/api/session":
			writeJSON(w, struct{}{}) // the cookie and the token are right
		case r.Method == http.MethodPost && r.URL.Path == "/api/tickets":
			ws.issueTicket(w, r, session)
		default:
			ws.api.ServeHTTP(w, r)
		}
		return
	}
	if tok, isTicket := strings.CutPrefix(r.URL.Path, ticketPrefix); isTicket {
		ws.serveTicket(w, r, ok, session, tok)
		return
	}
	if tok := r.URL.Query().Get("token"); tok != "" {
		cookie, csrf, used := ws.useLogin(tok)
		if !used {
			loginPage(w, http.StatusForbidden, "This link was used already, or is not this app's.")
			return
		}
		http.SetCookie(w, &http.Cookie{Name: ws.cookie, Value: cookie, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		// The login token leaves the address bar and the history; the CSRF
		// token goes to the page in the fragment, which the browser sends to
		// no server (and in no Referer): the page keeps it and takes it out
		// of the address.
		w.Header().Set("Location", r.URL.Path+"#k="+csrf)
		w.WriteHeader(http.StatusSeeOther)
		return
	}
	if !ok {
		loginPage(w, http.StatusUnauthorized, "")
		return
	}
	ws.assets.ServeHTTP(w, r)
}

// ticketPrefix is the path of ticket URLs: /dl/TICKET.
const ticketPrefix = "/dl/"

// issueTicket answers POST /api/tickets {"url"}: a ticket URL that opens
// that file URL of the API once.
func (ws *webSecurity) issueTicket(w http.ResponseWriter, r *http.Request, session [32]byte) {
	var in struct {
		URL string `json:"url"`
	}
	if err := readJSON(r, &in); err != nil {
		writeError(w, err)
		return
	}
	target, ok := ticketTarget(in.URL)
	if !ok {
		writeError(w, badRequest("a ticket opens a file's /api/vaults/VAULT/content or /preview URL, not %q", in.URL))
		return
	}
	writeJSON(w, struct {
		URL string `json:"url"`
	}{ticketPrefix + ws.newTicket(session, target)})
}

// serveTicket answers GET /dl/TICKET with the API's answer to the URL the
// ticket opens, once, for the session that asked for it.
func (ws *webSecurity) serveTicket(w http.ResponseWriter, r *http.Request, loggedIn bool, session [32]byte, tok string) {
	if r.Method != http.MethodGet {
		writeAPIError(w, http.StatusMethodNotAllowed, "bad_request", "a ticket is opened with GET")
		return
	}
	if !loggedIn {
		writeAPIError(w, http.StatusUnauthorized, "login", "not logged in: open the link coffre app printed")
		return
	}
	target, ok := ws.useTicket(session, tok)
	if !ok {
		writeAPIError(w, http.StatusForbidden, "ticket", "this download link was used already or has expired: download the file again from the interface")
		return
	}
	u, err := url.ParseRequestURI(target)
	if err != nil { // ticketTarget parsed it
		writeAPIError(w, http.StatusInternalServerError, "failed", err.Error())
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL = u
	r2.RequestURI = target
	ws.api.ServeHTTP(w, r2)
}

// loginPage is all a browser without a session sees: no script, no API.
func loginPage(w http.ResponseWriter, status int, why string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	var b strings.Builder
	b.WriteString(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>coffre</title></head>
<body><main>
<h1>coffre</h1>
`)
	if why != "" {
		b.WriteString("<p>" + why + "</p>\n") // constant text, never user input
	}
	b.WriteString(`<p>Open the link printed by <code>coffre app</code> (it ends with <code>?token=…</code>).
Each link opens one browser once: to get another, run <code>coffre app open</code>.</p>
<p lang="fr">Ouvrez le lien affiché par <code>coffre app</code> (il se termine par <code>?token=…</code>).
Chaque lien ne sert qu'une fois : pour en avoir un autre, lancez <code>coffre app open</code>.</p>
</main></body></html>
`)
	w.Write([]byte(b.String()))
}
