package app

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/coffre/coffre/client/app/web"
	"github.com/coffre/coffre/crypto"
)

// The web interface's security (SPEC.md §14, SECURITY.md A50–A57). A local
// web server is reachable by every web page the person opens (through the
// browser) and by every account of the machine (through the loopback
// port): none of them must reach the API.
const (
	// CSRFHeader carries the session's CSRF token on every state-changing
	// request (POST, PUT, PATCH, DELETE). The page reads the token from
	// GET /api/session ({"csrf": "…"}).
	CSRFHeader = "X-Coffre-CSRF"
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

	mu       sync.Mutex
	logins   map[[32]byte]bool   // login tokens not used yet, by digest
	sessions map[[32]byte]string // browser sessions' CSRF tokens, by cookie digest
}

// newWebSecurity serves api and the embedded assets to browsers that came
// through a login link, on the loopback address addr (host:port).
func newWebSecurity(addr string, api http.Handler) *webSecurity {
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
		logins:   map[[32]byte]bool{},
		sessions: map[[32]byte]string{},
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
func (ws *webSecurity) useLogin(tok string) (cookie string, ok bool) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	d := digest(tok)
	if !ws.logins[d] {
		return "", false
	}
	delete(ws.logins, d)
	cookie = randomToken()
	ws.sessions[digest(cookie)] = randomToken()
	return cookie, true
}

// session returns the CSRF token of the request's browser session.
func (ws *webSecurity) session(r *http.Request) (csrf string, ok bool) {
	c, err := r.Cookie(ws.cookie)
	if err != nil {
		return "", false
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	csrf, ok = ws.sessions[digest(c.Value)]
	return csrf, ok
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
	csrf, ok := ws.session(r)
	if !safeMethod(r.Method) {
		if !ok {
			writeAPIError(w, http.StatusUnauthorized, "login", "not logged in: open the link coffre app printed")
			return
		}
		if subtle.ConstantTimeCompare([]byte(r.Header.Get(CSRFHeader)), []byte(csrf)) != 1 {
			writeAPIError(w, http.StatusForbidden, "csrf", "missing or wrong "+CSRFHeader+" header: reload the page")
			return
		}
	}
	if r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/") {
		if !ok {
			writeAPIError(w, http.StatusUnauthorized, "login", "not logged in: open the link coffre app printed")
			return
		}
		if r.Method == http.MethodGet && r.URL.Path == "/api/session" {
			writeJSON(w, struct {
				CSRF string `json:"csrf"`
			}{csrf})
			return
		}
		ws.api.ServeHTTP(w, r)
		return
	}
	if tok := r.URL.Query().Get("token"); tok != "" {
		cookie, used := ws.useLogin(tok)
		if !used {
			loginPage(w, http.StatusForbidden, "This link was used already, or is not this app's.")
			return
		}
		http.SetCookie(w, &http.Cookie{Name: ws.cookie, Value: cookie, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		// The token leaves the address bar and the history.
		http.Redirect(w, r, r.URL.Path, http.StatusSeeOther)
		return
	}
	if !ok {
		loginPage(w, http.StatusUnauthorized, "")
		return
	}
	ws.assets.ServeHTTP(w, r)
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
