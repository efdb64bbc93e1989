// Package web holds the web interface's assets, embedded in the binary so
// that nothing is fetched from the network (no CDN): HTML, CSS, the
// JavaScript and the French and English texts.
package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// Assets returns the interface's files, rooted at its index.html.
func Assets() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}
