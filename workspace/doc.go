// Package workspace will hold the vault file-system model: manifests,
// blocks, the folder tree and sync (SPEC.md §10). It is empty until the
// vaults issue.
package workspace
