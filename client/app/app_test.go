package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/client/app"
	"github.com/coffre/coffre/client/app/web"
	"github.com/coffre/coffre/client/syncservice"
	"github.com/coffre/coffre/tests/hostile"
)

// TestMain is apitest_test.go's (package app): one per test binary.

// running is an app serving on loopback for one test.
type running struct {
	app  *app.App
	base string // http://127.0.0.1:PORT
}

// start runs the app of home until the test ends.
func start(t *testing.T, home string, lockAfter time.Duration) *running {
	t.Helper()
	a := app.New(home, lockAfter)
	if err := a.Listen(""); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &running{app: a, base: "http://" + a.Addr()}
}

// device bootstraps a device in a new data directory.
func device(t *testing.T) string {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	hostile.Bootstrap(t, hostile.Start(t), home).Close()
	return home
}

// noRedirect is a client that shows redirects instead of following them.
func noRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// browser is a logged-in browser: its cookie and the page's CSRF token.
type browser struct {
	hc   *http.Client
	csrf string
}

func login(t *testing.T, r *running) *browser {
	t.Helper()
	return loginAt(t, r.app.LoginURL(), r.base)
}

// loginAt opens login link link, as a browser does: the cookie, and the
// token from the redirect's fragment (base is the address the link names).
func loginAt(t *testing.T, link, base string) *browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	csrf, ok := strings.CutPrefix(resp.Header.Get("Location"), "/#k=")
	if resp.StatusCode != http.StatusSeeOther || !ok || csrf == "" {
		t.Fatalf("login: %s to %q, want 303 to /#k=TOKEN", resp.Status, resp.Header.Get("Location"))
	}
	b := &browser{hc: &http.Client{Jar: jar}, csrf: csrf}
	b.do(t, "GET", base+"/api/session", nil, nil, http.StatusOK)
	return b
}

// do sends a request with the CSRF header and wants status.
func (b *browser) do(t *testing.T, method, u string, body any, out any, status int) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, u, rd)
	if b.csrf != "" {
		req.Header.Set(app.CSRFHeader, b.csrf)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: %s %s, want %d", method, u, resp.Status, data, status)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, u, err, data)
		}
	}
	return resp
}

func get(t *testing.T, hc *http.Client, u string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	if h := header.Get("Host"); h != "" {
		req.Host = h
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

// A52: the interface listens on loopback only.
func TestA52ListenerIsLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", ":0", "192.0.2.1:0", "example.org:0"} {
		a := app.New(t.TempDir(), 0)
		err := a.Listen(addr)
		if err == nil {
			t.Fatalf("Listen(%q) accepted a non-loopback address", addr)
		}
	}
	r := start(t, t.TempDir(), 0)
	if !strings.HasPrefix(r.app.Addr(), "127.0.0.1:") {
		t.Fatalf("default address %s is not on 127.0.0.1", r.app.Addr())
	}
}

// A52: the login token is single-use and becomes an HttpOnly,
// SameSite=Strict cookie; without it, nothing of the API answers.
func TestA52LoginTokenSingleUse(t *testing.T) {
	r := start(t, t.TempDir(), 0)
	link := r.app.LoginURL()
	resp, _ := get(t, noRedirect(), link, nil)
	csrf, fragment := strings.CutPrefix(resp.Header.Get("Location"), "/#k=")
	if resp.StatusCode != http.StatusSeeOther || !fragment || csrf == "" || strings.Contains(csrf, "token") {
		t.Fatalf("login link: %s to %q, want 303 to /#k=CSRF (the login token leaves the address bar)", resp.Status, resp.Header.Get("Location"))
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode || cookies[0].Path != "/" {
		t.Fatalf("session cookie %+v: want one HttpOnly SameSite=Strict Path=/ cookie", cookies)
	}
	// The same link again (another browser, another account of the machine
	// that read it): refused, no cookie.
	resp, body := get(t, noRedirect(), link, nil)
	if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
		t.Fatalf("token reused: %s, cookies %v", resp.Status, resp.Cookies())
	}
	if !strings.Contains(body, "used already") {
		t.Fatalf("token reused: page %q does not say so", body)
	}
	// A made-up token, and no token: the small login page, no API.
	resp, _ = get(t, noRedirect(), r.base+"/?token=forged", nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("forged token: %s", resp.Status)
	}
	resp, body = get(t, http.DefaultClient, r.base+"/", nil)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Open the link printed by") || strings.Contains(body, "<script") {
		t.Fatalf("no cookie: %s %q", resp.Status, body)
	}
	for _, p := range []string{"/api/state", "/api/session", "/api/identity", "/index.html"} {
		if resp, _ := get(t, http.DefaultClient, r.base+p, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("GET %s without the cookie: %s, want 401", p, resp.Status)
		}
	}
	// The cookie with the token the redirect's fragment gave works.
	req, _ := http.NewRequest("GET", r.base+"/api/state", nil)
	req.AddCookie(cookies[0])
	req.Header.Set(app.CSRFHeader, csrf)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("with the cookie: %s", resp.Status)
	}
}

// A50: every state-changing request needs the session's CSRF token.
func TestA50StateChangesNeedCSRFToken(t *testing.T) {
	r := start(t, t.TempDir(), 0)
	b := login(t, r)
	for _, token := range []string{"", "wrong"} {
		req, _ := http.NewRequest("POST", r.base+"/api/lock", strings.NewReader("{}"))
		if token != "" {
			req.Header.Set(app.CSRFHeader, token)
		}
		resp, err := b.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("POST /api/lock with CSRF token %q: %s, want 403", token, resp.Status)
		}
	}
	for _, m := range []string{"PUT", "PATCH", "DELETE"} {
		req, _ := http.NewRequest(m, r.base+"/api/vaults", nil)
		resp, err := b.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s without CSRF token: %s, want 403", m, resp.Status)
		}
	}
	b.do(t, "POST", r.base+"/api/lock", struct{}{}, nil, http.StatusOK)
}

// A51: DNS rebinding (a Host that is not ours) and cross-origin requests
// are refused.
func TestA51HostAndOriginChecked(t *testing.T) {
	r := start(t, t.TempDir(), 0)
	b := login(t, r)
	_, port, _ := strings.Cut(r.app.Addr(), ":")
	token := http.Header{app.CSRFHeader: {b.csrf}}
	for _, host := range []string{"evil.example:" + port, "evil.example", "127.0.0.1:1", "localhost.evil.example:" + port} {
		resp, _ := get(t, b.hc, r.base+"/api/state", http.Header{"Host": {host}, app.CSRFHeader: {b.csrf}})
		if resp.StatusCode != http.StatusMisdirectedRequest {
			t.Fatalf("Host %s: %s, want 421", host, resp.Status)
		}
	}
	// localhost:PORT is ours too (a browser keeps its cookies apart).
	local := loginAt(t, strings.Replace(r.app.LoginURL(), "127.0.0.1", "localhost", 1), "http://localhost:"+port)
	local.do(t, "GET", "http://localhost:"+port+"/api/state", nil, nil, http.StatusOK)
	for _, origin := range []string{"http://evil.example", "null", "http://localhost:" + port, "https://" + r.app.Addr()} {
		resp, _ := get(t, b.hc, r.base+"/api/state", http.Header{"Origin": {origin}, app.CSRFHeader: {b.csrf}})
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("Origin %s: %s, want 403", origin, resp.Status)
		}
	}
	resp, _ := get(t, b.hc, r.base+"/api/state", http.Header{"Origin": {r.base}, app.CSRFHeader: {b.csrf}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("same origin: %s", resp.Status)
	}
	if resp, _ := get(t, b.hc, r.base+"/api/state", token); resp.StatusCode != http.StatusOK {
		t.Fatalf("no Origin: %s", resp.Status)
	}
}

// A54, A57: the strict CSP and the other headers on every answer; the
// assets are the embedded ones; API answers are not cached.
func TestA54SecurityHeaders(t *testing.T) {
	r := start(t, t.TempDir(), 0)
	b := login(t, r)
	want := map[string]string{
		"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
	}
	index, err := fs.ReadFile(web.Assets(), "index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		hc   *http.Client
		path string
	}{{b.hc, "/"}, {b.hc, "/api/state"}, {http.DefaultClient, "/"}, {http.DefaultClient, "/api/state"}} {
		resp, body := get(t, c.hc, r.base+c.path, nil)
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("GET %s: %s = %q, want %q", c.path, k, got, v)
			}
		}
		if strings.HasPrefix(c.path, "/api/") && resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: Cache-Control %q, want no-store", c.path, resp.Header.Get("Cache-Control"))
		}
		if c.hc == b.hc && c.path == "/" && body != string(index) {
			t.Errorf("GET / is not the embedded index.html")
		}
	}
}

// A53: the socket is 0600 in a 0700 folder; a second app is refused.
func TestA53SocketOnlyForThisAccount(t *testing.T) {
	home := t.TempDir()
	start(t, home, 0)
	st, err := os.Stat(app.SocketPath(home))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want 0600", st.Mode())
	}
	dir, _ := os.Stat(filepath.Dir(app.SocketPath(home)))
	if dir.Mode().Perm() != 0o700 {
		t.Fatalf("socket folder mode %v, want 0700", dir.Mode())
	}
	if err := app.New(home, 0).Listen(""); !errors.Is(err, app.ErrRunning) {
		t.Fatalf("second app: %v, want ErrRunning", err)
	}
	// The socket answers without cookie or CSRF token: the file mode is
	// its authentication.
	c, _ := app.Dial(context.Background(), home)
	if c == nil {
		t.Fatal("no app answers on the socket")
	}
	if err := c.Lock(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A folder made open to others before the app starts is closed again.
func TestSocketFolderModeRepaired(t *testing.T) {
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, "app"), 0o777)
	os.Chmod(filepath.Join(home, "app"), 0o777)
	start(t, home, 0)
	dir, _ := os.Stat(filepath.Dir(app.SocketPath(home)))
	if dir.Mode().Perm() != 0o700 {
		t.Fatalf("socket folder mode %v, want 0700", dir.Mode())
	}
}

// Without a device the app runs, locked, and says so.
func TestNoDeviceState(t *testing.T) {
	r := start(t, t.TempDir(), 0)
	b := login(t, r)
	var st app.State
	b.do(t, "GET", r.base+"/api/state", nil, &st, http.StatusOK)
	if st.Device || !st.Locked {
		t.Fatalf("state %+v, want no device, locked", st)
	}
	var e struct{ Code string }
	b.do(t, "POST", r.base+"/api/unlock", map[string]string{"passphrase": "x"}, &e, http.StatusConflict)
	if e.Code != "no_device" {
		t.Fatalf("unlock without a device: %+v", e)
	}
}

// fakeClock is the limiter's clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// A55: wrong passphrases slow down, then lock unlocking out for a stated
// time; a try too soon is refused without being heard.
func TestA55UnlockRateLimited(t *testing.T) {
	home := device(t)
	r := start(t, home, 0)
	clock := &fakeClock{t: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)}
	r.app.Now = clock.now
	b := login(t, r)
	wrong := map[string]string{"passphrase": "wrong passphrase"}
	var e struct{ Code, Message string }
	for i := 1; i <= 10; i++ {
		b.do(t, "POST", r.base+"/api/unlock", wrong, &e, http.StatusUnauthorized)
		if e.Code != "wrong_passphrase" {
			t.Fatalf("try %d: %+v", i, e)
		}
		// At once again, even with the right passphrase: too soon.
		resp := b.do(t, "POST", r.base+"/api/unlock", map[string]string{"passphrase": string(hostile.Passphrase)}, &e, http.StatusTooManyRequests)
		if i < 10 {
			want := time.Second << (i - 1)
			if want > time.Minute {
				want = time.Minute
			}
			if e.Code != "too_soon" || resp.Header.Get("Retry-After") != strconv.Itoa(int(want/time.Second)) {
				t.Fatalf("after %d failures: %+v, Retry-After %s, want %s", i, e, resp.Header.Get("Retry-After"), want)
			}
			clock.add(want)
			continue
		}
		if e.Code != "locked_out" || !strings.Contains(e.Message, "15m0s") {
			t.Fatalf("after 10 failures: %+v, want a lock-out that says 15m0s", e)
		}
	}
	var st app.State
	b.do(t, "GET", r.base+"/api/state", nil, &st, http.StatusOK)
	if !st.LockedOut || st.UnlockWaitSeconds != 15*60 {
		t.Fatalf("state %+v, want locked out for 900 s", st)
	}
	clock.add(14 * time.Minute)
	b.do(t, "POST", r.base+"/api/unlock", map[string]string{"passphrase": string(hostile.Passphrase)}, &e, http.StatusTooManyRequests)
	clock.add(time.Minute)
	b.do(t, "POST", r.base+"/api/unlock", map[string]string{"passphrase": string(hostile.Passphrase)}, &st, http.StatusOK)
	if st.Locked || st.Identity == nil {
		t.Fatalf("after the lock-out, the right passphrase: %+v", st)
	}
	// A success forgets the failures.
	b.do(t, "POST", r.base+"/api/unlock", wrong, &e, http.StatusUnauthorized)
	clock.add(time.Second)
	b.do(t, "POST", r.base+"/api/unlock", map[string]string{"passphrase": string(hostile.Passphrase)}, &st, http.StatusOK)
}

// Unlock shows the last connection; lock forgets the keys and the session.
func TestUnlockAndLock(t *testing.T) {
	home := device(t)
	r := start(t, home, 0)
	b := login(t, r)
	var st app.State
	b.do(t, "GET", r.base+"/api/state", nil, &st, http.StatusOK)
	if !st.Device || !st.Locked {
		t.Fatalf("at start: %+v, want a device, locked", st)
	}
	b.do(t, "GET", r.base+"/api/identity", nil, nil, http.StatusLocked)
	b.do(t, "POST", r.base+"/api/unlock", map[string]string{"passphrase": string(hostile.Passphrase)}, &st, http.StatusOK)
	if st.Locked || st.Identity == nil || st.LastConnection == nil || !st.LastConnection.Time.IsZero() {
		t.Fatalf("after the first unlock: %+v, want the identity and no connection before", st)
	}
	var id client.Identity
	b.do(t, "GET", r.base+"/api/identity", nil, &id, http.StatusOK)
	if id.DeviceLabel != "admin-laptop" {
		t.Fatalf("identity %+v", id)
	}
	st = app.State{}
	b.do(t, "POST", r.base+"/api/lock", struct{}{}, &st, http.StatusOK)
	if !st.Locked || st.Identity != nil || st.LastConnection != nil {
		t.Fatalf("after lock: %+v", st)
	}
	if !r.app.Keys.Locked() {
		t.Fatal("the keys are still held after lock")
	}
	b.do(t, "GET", r.base+"/api/identity", nil, nil, http.StatusLocked)
	// The next unlock shows the connection of the one before.
	before := time.Now()
	b.do(t, "POST", r.base+"/api/unlock", map[string]string{"passphrase": string(hostile.Passphrase)}, &st, http.StatusOK)
	if st.LastConnection == nil || st.LastConnection.Time.IsZero() || st.LastConnection.Time.After(before) || st.LastConnection.Address == "" {
		t.Fatalf("after the second unlock: last connection %+v, want the first unlock's", st.LastConnection)
	}
}

// A56: after LockAfter without the person, the app forgets its keys;
// the state polls don't count as activity.
func TestA56IdleLock(t *testing.T) {
	home := device(t)
	r := start(t, home, 300*time.Millisecond)
	if err := r.app.Unlock(context.Background(), hostile.Passphrase); err != nil {
		t.Fatal(err)
	}
	b := login(t, r)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var st app.State
		b.do(t, "GET", r.base+"/api/state", nil, &st, http.StatusOK)
		if st.Locked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("still unlocked 10 s after a 300 ms idle lock")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !r.app.Keys.Locked() {
		t.Fatal("state says locked but the keys are held")
	}
}

// inVault reports whether the vault holds p, as a new session sees it.
func inVault(t *testing.T, home, vault, p string) bool {
	t.Helper()
	s := hostile.Open(t, home)
	defer s.Close()
	v, err := s.OpenVault(context.Background(), vault)
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Stat(p, time.Time{})
	return err == nil
}

// eventually waits up to 20 s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 20 s: %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A56: the app's folders sync while unlocked; locked, their syncs skip
// every cycle (the folder says "locked") until the unlock, and then catch up.
func TestA56SyncsPauseWhileLocked(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	s := hostile.Bootstrap(t, hostile.Start(t), home)
	if _, err := s.CreateVault(context.Background(), "cardiology"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	r := start(t, home, 0)
	ctx := context.Background()
	if err := r.app.Unlock(ctx, hostile.Passphrase); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "Cardiology")
	if _, err := r.app.AddSyncFolder(ctx, "cardiology", dir); err != nil {
		t.Fatal(err)
	}
	if _, err := r.app.AddSyncFolder(ctx, "cardiology", filepath.Join(dir, "inside")); !errors.Is(err, app.ErrFolderSynced) {
		t.Fatalf("a folder inside a synced one: %v, want ErrFolderSynced", err)
	}
	eventually(t, "the folder is made", func() bool { _, err := os.Stat(dir); return err == nil })
	os.WriteFile(filepath.Join(dir, "before.txt"), []byte("before the lock"), 0o600)
	eventually(t, "before.txt is uploaded", func() bool { return inVault(t, home, "cardiology", "/before.txt") })

	r.app.Lock()
	os.WriteFile(filepath.Join(dir, "while.txt"), []byte("while locked"), 0o600)
	keys, err := client.Unlock(home, hostile.Passphrase)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := keys.SyncKey()
	eventually(t, "the folder says locked", func() bool {
		st := syncservice.Statuses(home, key)
		return len(st) == 1 && st[0].State == "locked"
	})
	// Two more of the runner's one-second looks at the keys: still nothing.
	time.Sleep(2500 * time.Millisecond)
	if inVault(t, home, "cardiology", "/while.txt") {
		t.Fatal("a locked app uploaded while.txt")
	}
	if _, err := r.app.SyncFolders(); !errors.Is(err, client.ErrLocked) {
		t.Fatalf("the folder list while locked: %v, want ErrLocked", err)
	}

	if err := r.app.Unlock(ctx, hostile.Passphrase); err != nil {
		t.Fatal(err)
	}
	eventually(t, "while.txt is uploaded after the unlock", func() bool { return inVault(t, home, "cardiology", "/while.txt") })
	list, err := r.app.SyncFolders()
	if err != nil || len(list) != 1 || list[0].Dir != dir || list[0].Name != "cardiology" {
		t.Fatalf("folders %+v, %v", list, err)
	}
	// Nothing of the list is in clear on the disk (A37).
	sealed, _ := os.ReadFile(filepath.Join(home, "app", "folders.sealed"))
	if bytes.Contains(sealed, []byte("Cardiology")) || bytes.Contains(sealed, []byte(list[0].VaultID)) {
		t.Fatal("the folder list holds the folder or the vault in clear")
	}
}

// A57: no answer can be framed by another site or kept in the browser's
// cache (decrypted names and contents), and the login token leaves the
// address bar at once.
func TestA57NotFramedNotCached(t *testing.T) {
	r := start(t, t.TempDir(), 0)
	b := login(t, r)
	_, port, _ := strings.Cut(r.app.Addr(), ":")
	cases := []struct {
		hc     *http.Client
		path   string
		header http.Header
	}{
		{b.hc, "/", nil},
		{b.hc, "/index.html", nil},
		{b.hc, "/api/state", nil},
		{b.hc, "/api/identity", nil},            // an error (locked)
		{http.DefaultClient, "/", nil},          // the login page
		{http.DefaultClient, "/api/state", nil}, // not logged in
		{b.hc, "/api/state", http.Header{"Host": {"evil.example:" + port}}}, // wrong Host
	}
	for _, c := range cases {
		resp, _ := get(t, c.hc, r.base+c.path, c.header)
		if resp.Header.Get("X-Frame-Options") != "DENY" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("GET %s (%s): can be framed: %v", c.path, resp.Status, resp.Header)
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s (%s): Cache-Control %q, want no-store", c.path, resp.Status, resp.Header.Get("Cache-Control"))
		}
	}
	resp, _ := get(t, noRedirect(), r.app.LoginURL(), nil)
	if loc := resp.Header.Get("Location"); strings.Contains(loc, "token") || resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("login: Location %q, Referrer-Policy %q", loc, resp.Header.Get("Referrer-Policy"))
	}
}

// The app's session follows the organisation: when the server says its log
// grew (here, a vault created by another session of the device), the app
// forgets its session and the next call verifies the new entries.
func TestSessionFollowsTheOrganisation(t *testing.T) {
	home := device(t)
	r := start(t, home, 0)
	ctx := context.Background()
	if err := r.app.Unlock(ctx, hostile.Passphrase); err != nil {
		t.Fatal(err)
	}
	c := app.DialUnlocked(ctx, home)
	if c == nil {
		t.Fatal("no unlocked app on the socket")
	}
	// The event stream connects within 3 s of the unlock (forgetting the
	// session as it does): from then on only an event refreshes it.
	time.Sleep(4 * time.Second)
	before, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	other := hostile.Open(t, home)
	if _, err := other.CreateVault(ctx, "cardiology"); err != nil {
		t.Fatal(err)
	}
	grown := other.Head().Position
	other.Close()
	if grown <= before.LogPosition {
		t.Fatalf("creating a vault did not grow the organisation log (%d, was %d)", grown, before.LogPosition)
	}
	eventually(t, "the app's verified head moves", func() bool {
		st, err := c.Status(ctx)
		return err == nil && st.LogPosition == grown
	})
}

// TestSyncAPIDrivesTheAppsFolders: the sync calls of the API run on the
// app's own sealed folder list and its sync service (not a stand-in): a
// folder added through the API is synced, listed with its state, paused
// and resumed by its id.
func TestSyncAPIDrivesTheAppsFolders(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	s := hostile.Bootstrap(t, hostile.Start(t), home)
	info, err := s.CreateVault(context.Background(), "cardiology")
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	r := start(t, home, 0)
	ctx := context.Background()
	if err := r.app.Unlock(ctx, hostile.Passphrase); err != nil {
		t.Fatal(err)
	}
	sock := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", app.SocketPath(home))
	}}}
	call := func(method, path, body string, out any) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://app"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		res, err := sock.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
		}
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("%s %s: %v: %s", method, path, err, b)
			}
		}
	}
	dir := filepath.Join(t.TempDir(), "Cardiology")
	var added struct {
		ID string `json:"id"`
	}
	call("POST", "/api/sync", fmt.Sprintf(`{"vault": %q, "dir": %q}`, info.ID, dir), &added)
	if added.ID == "" {
		t.Fatal("no id for the folder added")
	}
	eventually(t, "the folder is made", func() bool { _, err := os.Stat(dir); return err == nil })
	os.WriteFile(filepath.Join(dir, "note.txt"), []byte("through the API"), 0o600)
	eventually(t, "note.txt is uploaded", func() bool { return inVault(t, home, "cardiology", "/note.txt") })
	// A conflict copy a sync left in the folder is listed with it.
	copyName := "note (conflict Someone 2026-12-06 10.00).txt"
	os.WriteFile(filepath.Join(dir, copyName), []byte("theirs"), 0o600)
	type folder struct {
		ID, Dir, State string
		Conflicts      []struct{ Copy string }
	}
	var list []folder
	call("GET", "/api/sync", "", &list)
	if len(list) != 1 || list[0].ID != added.ID || list[0].Dir != dir || list[0].State == "" {
		t.Fatalf("the folders: %+v", list)
	}
	if len(list[0].Conflicts) != 1 || list[0].Conflicts[0].Copy != copyName {
		t.Fatalf("the conflict copies: %+v", list[0].Conflicts)
	}
	call("POST", "/api/sync/"+added.ID+"/pause", "", nil)
	call("GET", "/api/sync", "", &list)
	if list[0].State != "paused" {
		t.Fatalf("after pause: %+v", list)
	}
	if fs, _ := r.app.SyncFolders(); len(fs) != 1 || !fs[0].Paused {
		t.Fatalf("the app's list after pause: %+v", fs)
	}
	call("POST", "/api/sync/"+added.ID+"/resume", "", nil)
	if fs, _ := r.app.SyncFolders(); len(fs) != 1 || fs[0].Paused {
		t.Fatalf("the app's list after resume: %+v", fs)
	}
}
