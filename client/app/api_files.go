package app

import (
	"cmp"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/workspace"
)

// Files: listing a folder (paged and sorted here, so that a folder of
// 10,000 entries answers a page at a time), folders, moves, removal to
// the trash and back, and the content: uploaded from the request body
// and downloaded or previewed to the response, block by block, each
// block checked against its signed manifest before it is sent, nothing
// written to disk in clear.

// fileJSON is one entry of a folder.
type fileJSON struct {
	Name     string    `json:"name"`
	Path     string    `json:"path"`
	Kind     string    `json:"kind"` // "folder" or "file"
	Size     uint64    `json:"size"`
	Modified time.Time `json:"modified"`
	Version  uint64    `json:"version"`
	Author   userRef   `json:"author"`
}

// userRef names a user as the verified log does.
type userRef struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email,omitempty"`
	// Unknown: this device was not sent the user's name and email
	// (SPEC.md §17).
	Unknown bool `json:"unknown,omitempty"`
}

func userOf(org *certificate.Organisation, id string) userRef {
	if u, ok := org.User(id); ok {
		return userRef{ID: id, Name: u.Name, Email: u.Email, Unknown: u.Unknown()}
	}
	return userRef{ID: id, Name: id}
}

func kindOf(folder bool) string {
	if folder {
		return "folder"
	}
	return "file"
}

// listingJSON is a page of a folder.
type listingJSON struct {
	Path  string     `json:"path"`
	Kind  string     `json:"kind"` // of path: a file lists itself
	At    *time.Time `json:"at,omitempty"`
	Total int        `json:"total"`
	// Offset and Limit are the page given (after the defaults).
	Offset int        `json:"offset"`
	Limit  int        `json:"limit"`
	Items  []fileJSON `json:"items"`
}

// Paging limits: the default page, and the largest one asked for.
const (
	defaultPage = 200
	maxPage     = 1000
)

// vaultPath reads a path inside a vault from the query parameter name,
// cleaned ("/a/b"); an empty one is the root.
func vaultPath(r *http.Request, name string) (string, error) {
	p := r.URL.Query().Get(name)
	names, err := workspace.SplitPath(p)
	if err != nil {
		return "", badRequest("%s: %v", name, err)
	}
	return "/" + strings.Join(names, "/"), nil
}

// pathBody reads a JSON body into req and returns the vault path in its
// field name (*field, once decoded), cleaned.
func pathBody(r *http.Request, req any, name string, field *string) (string, error) {
	if err := readJSON(r, req); err != nil {
		return "", err
	}
	return bodyPath(name, *field)
}

// bodyPath is vaultPath for a path given in a JSON body.
func bodyPath(name, p string) (string, error) {
	names, err := workspace.SplitPath(p)
	if err != nil {
		return "", badRequest("%s: %v", name, err)
	}
	if p == "" {
		return "", badRequest("%s is missing", name)
	}
	return "/" + strings.Join(names, "/"), nil
}

// atTime reads the optional query parameter at (RFC 3339): a view of the
// vault as of then. Zero: now.
func atTime(r *http.Request) (time.Time, error) {
	s := r.URL.Query().Get("at")
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, badRequest("at: want a date and time as 2006-01-02T15:04:05Z07:00 (%v)", err)
	}
	return t, nil
}

// intParam reads an optional non-negative integer query parameter.
func intParam(r *http.Request, name string, def int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, badRequest("%s: want a number ≥ 0, not %q", name, s)
	}
	return n, nil
}

// boolParam reads an optional query parameter: 1 or true.
func boolParam(r *http.Request, name string) bool {
	v := r.URL.Query().Get(name)
	return v == "1" || v == "true"
}

func (h *api) listFiles(r *http.Request) (any, error) {
	p, err := vaultPath(r, "path")
	if err != nil {
		return nil, err
	}
	at, err := atTime(r)
	if err != nil {
		return nil, err
	}
	offset, err := intParam(r, "offset", 0)
	if err != nil {
		return nil, err
	}
	limit, err := intParam(r, "limit", defaultPage)
	if err != nil {
		return nil, err
	}
	limit = min(max(limit, 1), maxPage)
	by, desc := cmp.Or(r.URL.Query().Get("sort"), "name"), r.URL.Query().Get("order") == "desc"
	if by != "name" && by != "size" && by != "modified" {
		return nil, badRequest("sort: want name, size or modified, not %q", by)
	}
	out := listingJSON{Path: p, At: timeOrNil(at), Offset: offset, Limit: limit, Items: []fileJSON{}}
	err = h.withVault(r, func(s *client.Session, v *workspace.Vault) error {
		cur, err := v.Stat(p, at)
		if err != nil {
			return err
		}
		out.Kind = kindOf(cur.Manifest.Folder)
		items, err := v.List(p, at)
		if err != nil {
			return err
		}
		sortItems(items, by, desc)
		out.Total = len(items)
		items = items[min(offset, len(items)):min(len(items), offset+limit)]
		dir := p
		if !cur.Manifest.Folder {
			dir = path.Dir(p)
		}
		for _, it := range items {
			out.Items = append(out.Items, fileJSON{Name: it.Name, Path: path.Join(dir, it.Name), Kind: kindOf(it.Folder),
				Size: it.Size, Modified: it.Updated, Version: it.Version, Author: userOf(s.Organisation(), it.Author)})
		}
		return nil
	})
	return out, err
}

// sortItems orders a folder's entries: folders first, then by the key
// (names without regard to case), the name breaking ties. The names are
// folded to lower case once, not at each comparison: a folder of 10,000
// entries is sorted at every page.
func sortItems(items []workspace.Item, by string, desc bool) {
	type keyed struct {
		workspace.Item
		lower string
	}
	ks := make([]keyed, len(items))
	for i, it := range items {
		ks[i] = keyed{it, strings.ToLower(it.Name)}
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		if a.Folder != b.Folder {
			if a.Folder {
				return -1
			}
			return 1
		}
		var c int
		switch by {
		case "size":
			c = cmp.Compare(a.Size, b.Size)
		case "modified":
			c = a.Updated.Compare(b.Updated)
		}
		c = cmp.Or(c, cmp.Compare(a.lower, b.lower), cmp.Compare(a.Name, b.Name))
		if desc {
			return -c
		}
		return c
	})
	for i := range ks {
		items[i] = ks[i].Item
	}
}

// makeFolder creates a folder; with parents, the folders above it that
// are missing too (a folder dropped on the interface), and an existing
// folder is no error.
func (h *api) makeFolder(r *http.Request) (any, error) {
	var req struct {
		Path    string `json:"path"`
		Parents bool   `json:"parents"`
	}
	p, err := pathBody(r, &req, "path", &req.Path)
	if err != nil {
		return nil, err
	}
	return pathAnswer{p}, h.withVault(r, func(s *client.Session, v *workspace.Vault) error {
		if req.Parents {
			return v.MkdirAll(r.Context(), p)
		}
		return v.Mkdir(r.Context(), p)
	})
}

// pathAnswer is the answer of a call that changes one path.
type pathAnswer struct {
	Path string `json:"path"`
}

// moveFile renames or moves a file or folder.
func (h *api) moveFile(r *http.Request) (any, error) {
	var req struct {
		From string `json:"from"`
		To   string `json:"to"`
	}
	from, err := pathBody(r, &req, "from", &req.From)
	if err != nil {
		return nil, err
	}
	to, err := bodyPath("to", req.To)
	if err != nil {
		return nil, err
	}
	return pathAnswer{to}, h.withVault(r, func(_ *client.Session, v *workspace.Vault) error {
		return v.Move(r.Context(), from, to)
	})
}

// removeFile moves a file, or a folder (recursive=1 when it is not
// empty), to the trash: every version stays, and undelete brings it back.
func (h *api) removeFile(r *http.Request) (any, error) {
	p, err := vaultPath(r, "path")
	if err != nil {
		return nil, err
	}
	if p == "/" {
		return nil, badRequest("the root folder can't be removed")
	}
	return pathAnswer{p}, h.withVault(r, func(_ *client.Session, v *workspace.Vault) error {
		if boolParam(r, "recursive") {
			return v.RemoveAll(r.Context(), p)
		}
		return v.Remove(r.Context(), p)
	})
}

// removedJSON is one entry of the trash.
type removedJSON struct {
	Path      string    `json:"path"`
	Kind      string    `json:"kind"`
	Size      uint64    `json:"size"`
	Version   uint64    `json:"version"`
	RemovedBy userRef   `json:"removedBy"`
	RemovedAt time.Time `json:"removedAt"`
}

func (h *api) listTrash(r *http.Request) (any, error) {
	p, err := vaultPath(r, "path")
	if err != nil {
		return nil, err
	}
	out := []removedJSON{}
	err = h.withVault(r, func(s *client.Session, v *workspace.Vault) error {
		removed, err := v.Trash(p)
		for _, x := range removed {
			out = append(out, removedJSON{Path: x.Path, Kind: kindOf(x.Folder), Size: x.Version.Manifest.Size,
				Version: x.Version.Version, RemovedBy: userOf(s.Organisation(), x.By), RemovedAt: x.At})
		}
		return err
	})
	return out, err
}

// undelete brings back what was removed at path (version 0: as it was
// when removed).
func (h *api) undelete(r *http.Request) (any, error) {
	return h.changeVersion(r, true, func(v *workspace.Vault, p string, n uint64) (workspace.Version, error) {
		return v.Undelete(r.Context(), p, n)
	})
}

// changeVersion runs op on the path and version a JSON body names
// ({"path", "version"}; version required unless optional) and answers the
// file as op left it.
func (h *api) changeVersion(r *http.Request, optional bool, op func(v *workspace.Vault, p string, n uint64) (workspace.Version, error)) (any, error) {
	var req struct {
		Path    string `json:"path"`
		Version uint64 `json:"version"`
	}
	p, err := pathBody(r, &req, "path", &req.Path)
	if err != nil {
		return nil, err
	}
	if req.Version == 0 && !optional {
		return nil, badRequest("version is missing")
	}
	var out fileJSON
	err = h.withVault(r, func(s *client.Session, v *workspace.Vault) error {
		ver, err := op(v, p, req.Version)
		if err != nil {
			return err
		}
		out = versionOut(s, p, ver)
		return nil
	})
	return out, err
}

func versionOut(s *client.Session, p string, ver workspace.Version) fileJSON {
	return fileJSON{Name: path.Base(p), Path: p, Kind: kindOf(ver.Manifest.Folder), Size: ver.Manifest.Size,
		Modified: ver.Time, Version: ver.Version, Author: userOf(s.Organisation(), ver.User)}
}

// upload stores the request body as the file at path, streamed block by
// block (memory stays flat whatever the size). A file already there is
// refused (exists) unless overwrite=1, which adds a new version; with
// parents=1 the missing folders above it are created (a folder dropped
// on the interface is uploaded file by file). Nothing is visible until
// the whole body arrived: a cancelled upload leaves the vault unchanged.
func (h *api) upload(w http.ResponseWriter, r *http.Request) {
	p, err := vaultPath(r, "path")
	if err != nil {
		writeError(w, err)
		return
	}
	if p == "/" {
		writeError(w, badRequest("path: name the file to write"))
		return
	}
	t, err := h.transferVault(r)
	if err != nil {
		writeError(w, err)
		return
	}
	defer h.done(t)
	ctx, s, v := r.Context(), t.sess, t.vault
	if cur, err := v.Stat(p, time.Time{}); err == nil {
		switch {
		case cur.Manifest.Folder:
			writeError(w, workspace.ErrIsFolder)
			return
		case !boolParam(r, "overwrite"):
			writeError(w, fmt.Errorf("%s is in the vault already (replace it, or upload under another name): %w", p, workspace.ErrExists))
			return
		}
	}
	if boolParam(r, "parents") && path.Dir(p) != "/" {
		if err := v.MkdirAll(ctx, path.Dir(p)); err != nil {
			writeError(w, err)
			return
		}
	}
	ver, err := v.Put(ctx, p, r.Body, nil)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, versionOut(s, p, ver))
}

// download sends a file's content as an attachment: newest, as of at, or
// version N.
func (h *api) download(w http.ResponseWriter, r *http.Request) {
	h.sendFile(w, r, false)
}

// preview sends a file for the browser to show: PDF and images (PNG,
// JPEG, GIF, WebP) as themselves, text as text/plain in UTF-8, and
// anything else as an attachment, never as active content (HTML, SVG,
// scripts): a file from a colleague, or from whoever broke into their
// account, must not run in the interface's origin.
func (h *api) preview(w http.ResponseWriter, r *http.Request) {
	h.sendFile(w, r, true)
}

// previewTypes are the kinds of file a preview shows, by extension.
var previewTypes = map[string]string{
	".pdf": "application/pdf",
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
}

// textExtensions are shown as plain text: their source, never rendered.
var textExtensions = map[string]bool{
	".txt": true, ".text": true, ".md": true, ".markdown": true, ".csv": true, ".tsv": true, ".log": true,
	".json": true, ".xml": true, ".yaml": true, ".yml": true, ".ini": true, ".cfg": true, ".conf": true,
	".html": true, ".htm": true, ".xhtml": true, ".svg": true, ".js": true, ".mjs": true, ".css": true,
	".hl7": true, ".rtf": true, ".sh": true, ".py": true, ".go": true, ".c": true, ".h": true, ".sql": true,
}

// fileHeaders sets what every file response carries: the browser must
// not guess the type (nosniff), must run nothing in it (a CSP sandbox),
// and must keep no copy (no-store: the bytes are in clear).
func fileHeaders(w http.ResponseWriter, contentType, disposition, name string) {
	hd := w.Header()
	hd.Set("Content-Type", contentType)
	cd := mime.FormatMediaType(disposition, map[string]string{"filename": name})
	if cd == "" { // a name it can't encode: the disposition alone
		cd = disposition
	}
	hd.Set("Content-Disposition", cd)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	if contentType == "application/pdf" && disposition == "inline" {
		// Chromium refuses to start its PDF viewer in a sandboxed
		// document; a PDF is never parsed as HTML (nosniff), and its
		// viewer runs apart from the page.
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; object-src 'self'; frame-ancestors 'self'")
		return
	}
	hd.Set("Content-Security-Policy", "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'self'")
}

func (h *api) sendFile(w http.ResponseWriter, r *http.Request, inline bool) {
	p, err := vaultPath(r, "path")
	if err != nil {
		writeError(w, err)
		return
	}
	at, err := atTime(r)
	if err != nil {
		writeError(w, err)
		return
	}
	want, err := intParam(r, "version", 0)
	if err != nil {
		writeError(w, err)
		return
	}
	t, err := h.transferVault(r)
	if err != nil {
		writeError(w, err)
		return
	}
	defer h.done(t)
	v := t.vault
	if want > 0 {
		if at, err = versionTime(v, p, uint64(want)); err != nil {
			writeError(w, err)
			return
		}
	}
	ver, err := v.Stat(p, at)
	if err == nil && ver.Manifest.Folder {
		err = workspace.ErrIsFolder
	}
	if err == nil && want > 0 && ver.Version != uint64(want) {
		err = badRequest("version %d can't be told apart from version %d by its time: restore it first", want, ver.Version)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	name := path.Base(p)
	ext := strings.ToLower(path.Ext(name))
	contentType, disposition := "application/octet-stream", "attachment"
	if inline {
		if t, ok := previewTypes[ext]; ok {
			contentType, disposition = t, "inline"
		} else if textExtensions[ext] {
			contentType, disposition = "text/plain; charset=utf-8", "inline"
		}
	}
	fileHeaders(w, contentType, disposition, name)
	w.Header().Set("Content-Length", strconv.FormatUint(ver.Manifest.Size, 10))
	out := &countingWriter{w: w}
	if _, err := v.WriteTo(r.Context(), p, at, out, nil); err != nil {
		if out.n == 0 {
			w.Header().Del("Content-Disposition")
			w.Header().Del("Content-Length")
			writeError(w, err)
			return
		}
		// Part of the file was sent: break the connection, so that the
		// browser sees a failed download, never a short file.
		panic(http.ErrAbortHandler)
	}
}

// versionTime is the time of version n of the file at p, to read it with
// Stat as of then.
func versionTime(v *workspace.Vault, p string, n uint64) (time.Time, error) {
	hist, err := v.History(p)
	if err != nil {
		return time.Time{}, err
	}
	for _, h := range hist {
		if h.Version == n {
			return h.Time, nil
		}
	}
	return time.Time{}, badRequest("%s has no version %d", p, n)
}

// countingWriter counts what was written, to tell whether an error came
// before the first byte.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
