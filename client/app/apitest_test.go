package app

// What the API tests share: a real server (tests/hostile's, gRPC and TLS on
// loopback, bbolt), a real device bootstrapped in a temporary data
// directory, and the API served over real HTTP (httptest), without the web
// security that i13-core's listener wraps around it.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/tests/hostile"
)

func TestMain(m *testing.M) {
	hostile.FastKeys()
	os.Exit(hostile.Main(m))
}

// testApp is one device's app and its API over HTTP.
type testApp struct {
	t    testing.TB
	home string
	app  *App
	api  *api
	url  string // the API's base URL
}

// newTestApp bootstraps an organisation on srv from a new data directory
// and serves its app's API.
func newTestApp(t *testing.T, srv *hostile.Server) *testApp {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	hostile.Bootstrap(t, srv, home).Close()
	return serveApp(t, home)
}

// serveApp unlocks the device in home (nothing there: an app with no
// device) and serves its API.
func serveApp(t testing.TB, home string) *testApp {
	t.Helper()
	a := New(home, 0)
	if client.HasDevice(home) {
		keys, err := client.Unlock(home, hostile.Passphrase)
		if err != nil {
			t.Fatal(err)
		}
		a.Keys = keys
	}
	// apiHandler's routes, with the api kept to look inside.
	h := &api{app: a}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/identity", a.identity)
	h.register(mux)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		hs.Close()
		a.closeSession()
		h.transfers.closeAll()
	})
	return &testApp{t: t, home: home, app: a, api: h, url: hs.URL}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// call sends a request (body: nil, an io.Reader sent as it is, or a value
// sent as JSON) and returns the status and the body.
func (ta *testApp) call(method, path string, body any) (int, []byte, http.Header) {
	ta.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case io.Reader:
		rd = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			ta.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(testCtx(ta.t), method, ta.url+path, rd)
	if err != nil {
		ta.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ta.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		ta.t.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	return resp.StatusCode, out, resp.Header
}

// ok sends a request that must succeed and decodes its JSON answer into
// out (unless nil).
func (ta *testApp) ok(method, path string, body, out any) {
	ta.t.Helper()
	status, b, _ := ta.call(method, path, body)
	if status != http.StatusOK {
		ta.t.Fatalf("%s %s: status %d: %s", method, path, status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			ta.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// fails sends a request that must fail with status and code, and returns
// the error's message.
func (ta *testApp) fails(method, path string, body any, status int, code string) string {
	ta.t.Helper()
	got, b, hd := ta.call(method, path, body)
	var e apiError
	if err := json.Unmarshal(b, &e); err != nil || got != status || e.Code != code {
		ta.t.Fatalf("%s %s: got status %d %s, want %d with code %q", method, path, got, b, status, code)
	}
	if ct := hd.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		ta.t.Fatalf("%s %s: error answered as %q", method, path, ct)
	}
	if e.Message == "" {
		ta.t.Fatalf("%s %s: error %q without a message", method, path, code)
	}
	return e.Message
}

// q builds a query string.
func q(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return "?" + v.Encode()
}

// createVault creates a vault through the API and returns its id.
func (ta *testApp) createVault(name string) string {
	ta.t.Helper()
	var v vaultJSON
	ta.ok("POST", "/api/vaults", map[string]string{"name": name}, &v)
	if v.ID == "" || v.Name != name || v.Role != "owner" {
		ta.t.Fatalf("created vault %+v", v)
	}
	return v.ID
}

// put uploads content to path in vault, with query options (kv).
func (ta *testApp) put(vault, p string, content []byte, kv ...string) fileJSON {
	ta.t.Helper()
	var f fileJSON
	ta.ok("PUT", "/api/vaults/"+vault+"/content"+q(append([]string{"path", p}, kv...)...), bytes.NewReader(content), &f)
	return f
}

// get downloads path from vault (with query options) and returns the
// status, body and headers.
func (ta *testApp) get(what, vault, p string, kv ...string) (int, []byte, http.Header) {
	ta.t.Helper()
	return ta.call("GET", "/api/vaults/"+vault+"/"+what+q(append([]string{"path", p}, kv...)...), nil)
}
