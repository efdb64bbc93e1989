package adversarial

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/client/app"
	"github.com/coffre/coffre/tests/hostile"
)

// TestA71StolenCookieReadsNothing: browsers don't isolate cookies by port,
// so another account of the machine that runs a web server on another
// loopback port, and gets the person's browser to visit it, receives the
// app's session cookie. From its own process (any headers, no Origin) it
// replays the cookie: it must read nothing, neither the CSRF token nor any
// listing, file, preview or the audit. Downloads and previews go through
// tickets bound to the session, used once, within a minute (SPEC.md
// §14.3, SECURITY.md A71).
func TestA71StolenCookieReadsNothing(t *testing.T) {
	t.Parallel()
	home := dirs(t, "admin")["admin"]
	hostile.Bootstrap(t, hostile.Start(t), home).Close() // the app opens its own

	clock := &a71Clock{t: time.Now()}
	a := app.New(home, 0)
	a.Now = clock.now
	if err := a.Listen(""); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx) }()
	t.Cleanup(func() { stop(); <-served })
	if err := a.Unlock(bg(), hostile.Passphrase); err != nil {
		t.Fatal(err)
	}
	const secret = "patient note: allergic to penicillin\n"
	sock := hostile.UnixHTTP(t, app.SocketPath(home))
	if status, b := sock("POST", "/api/vaults", `{"name": "cardio"}`); status != http.StatusOK {
		t.Fatalf("creating the vault: %d %s", status, b)
	}
	if status, b := sock("PUT", "/api/vaults/cardio/content?path=/note.txt", secret); status != http.StatusOK {
		t.Fatalf("uploading: %d %s", status, b)
	}
	base := "http://" + a.Addr()

	// The person's browser opens the login link: the cookie, and the token
	// in the redirect's fragment, which only the page sees.
	jar, _ := cookiejar.New(nil)
	page := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := page.Get(a.LoginURL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	csrf, ok := strings.CutPrefix(resp.Header.Get("Location"), "/#k=")
	if !ok || csrf == "" || len(resp.Cookies()) != 1 {
		t.Fatalf("login: %s to %q, cookies %v", resp.Status, resp.Header.Get("Location"), resp.Cookies())
	}
	cookie := resp.Cookies()[0]

	// send makes a request with the stolen cookie, and the token when the
	// caller has it.
	send := func(method, path, token, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.AddCookie(cookie)
		if token != "" {
			req.Header.Set(app.CSRFHeader, token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	// The thief: the cookie alone, from its own process.
	for _, path := range []string{
		"/api/session",
		"/api/state",
		"/api/identity",
		"/api/vaults",
		"/api/vaults/cardio/files?path=/",
		"/api/vaults/cardio/content?path=/note.txt",
		"/api/vaults/cardio/preview?path=/note.txt",
		"/api/vaults/cardio/history?path=/note.txt",
		"/api/users",
		"/api/audit",
	} {
		status, body := send("GET", path, "", "")
		if status != http.StatusForbidden || strings.Contains(body, csrf) || strings.Contains(body, "penicillin") || strings.Contains(body, "cardio") {
			t.Errorf("GET %s with the stolen cookie only: %d %s, want 403 csrf and nothing else", path, status, body)
		}
	}
	for _, wrong := range []string{"x", csrf[:len(csrf)-1]} {
		if status, body := send("GET", "/api/vaults", wrong, ""); status != http.StatusForbidden {
			t.Errorf("GET /api/vaults with a wrong token: %d %s", status, body)
		}
	}
	if status, body := send("POST", "/api/tickets", "", `{"url": "/api/vaults/cardio/content?path=/note.txt"}`); status != http.StatusForbidden || strings.Contains(body, "/dl/") {
		t.Fatalf("a ticket asked for with the cookie only: %d %s", status, body)
	}

	// The page, with the token: it reads, and a ticket opens a download
	// once.
	if status, body := send("GET", "/api/vaults/cardio/files?path=/", csrf, ""); status != http.StatusOK || !strings.Contains(body, "note.txt") {
		t.Fatalf("the page's listing: %d %s", status, body)
	}
	ticket := func(target string) string {
		t.Helper()
		status, body := send("POST", "/api/tickets", csrf, `{"url": "`+target+`"}`)
		var out struct{ URL string }
		if status != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil || !strings.HasPrefix(out.URL, "/dl/") {
			t.Fatalf("POST /api/tickets %s: %d %s", target, status, body)
		}
		return out.URL
	}
	for _, target := range []string{"/api/vaults", "/api/audit", "/api/vaults/cardio/files?path=/", "http://evil.example/api/vaults/cardio/content?path=/note.txt", "/api/vaults/cardio/content/../../audit", "/api/vaults/../content", "/api/vaults/%2e%2e/preview"} {
		if status, body := send("POST", "/api/tickets", csrf, `{"url": "`+target+`"}`); status != http.StatusBadRequest {
			t.Errorf("a ticket for %s: %d %s, want 400", target, status, body)
		}
	}
	dl := ticket("/api/vaults/cardio/content?path=/note.txt")
	if status, body := send("GET", dl, "", ""); status != http.StatusOK || body != secret {
		t.Fatalf("the page's download ticket: %d %q", status, body)
	}
	if status, body := send("GET", dl, "", ""); status != http.StatusForbidden || strings.Contains(body, "penicillin") {
		t.Fatalf("a used ticket again: %d %s, want 403", status, body)
	}
	preview := ticket("/api/vaults/cardio/preview?path=/note.txt")
	if status, body := send("GET", preview, "", ""); status != http.StatusOK || body != secret {
		t.Fatalf("the page's preview ticket: %d %q", status, body)
	}
	if status, _ := send("GET", preview, "", ""); status != http.StatusForbidden {
		t.Fatalf("a used preview ticket again: %d, want 403", status)
	}

	// A ticket past its minute is refused.
	late := ticket("/api/vaults/cardio/content?path=/note.txt")
	clock.add(app.TicketLifetime + time.Second)
	if status, body := send("GET", late, "", ""); status != http.StatusForbidden || strings.Contains(body, "penicillin") {
		t.Fatalf("an expired ticket: %d %s, want 403", status, body)
	}

	// A ticket seen without the session's cookie (another browser, a
	// process that read it from somewhere) opens nothing, and is spent.
	seen := ticket("/api/vaults/cardio/content?path=/note.txt")
	other := loginCookie(t, a)
	req, _ := http.NewRequest("GET", base+seen, nil)
	req.AddCookie(other)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || strings.Contains(string(b), "penicillin") {
		t.Fatalf("a ticket with another session's cookie: %s %s, want 403", resp.Status, b)
	}
	if status, _ := send("GET", seen, "", ""); status != http.StatusForbidden {
		t.Fatalf("a ticket tried by another session, then by its own: %d, want 403", status)
	}
	resp, err = http.Get(base + ticket("/api/vaults/cardio/content?path=/note.txt"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a ticket without any cookie: %s, want 401", resp.Status)
	}
}

// loginCookie opens a new login link of a and returns its session cookie.
func loginCookie(t *testing.T, a *app.App) *http.Cookie {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(a.LoginURL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(resp.Cookies()) != 1 {
		t.Fatalf("login: %s, cookies %v", resp.Status, resp.Cookies())
	}
	return resp.Cookies()[0]
}

// a71Clock is the app's clock, moved by the test.
type a71Clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *a71Clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *a71Clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
