package cli

import (
	"path/filepath"
)

func storePath(dir string) string    { return filepath.Join(dir, "coffre.db") }
func operatorPath(dir string) string { return filepath.Join(dir, "operator.sock") }
func addressPath(dir string) string  { return filepath.Join(dir, "public-address") }
