// Package workspace is the vault file-system model on the client (SPEC.md
// §11): vault keys, manifests, blocks and chunking, the verified vault log
// folded into versions (Log), and a Vault's operations on its tree.
//
// The entry format and the rules that need no plaintext are package
// vaultlog's, shared with the server. A Vault's files, by concept:
// remote.go what it needs (Deps: the server's log and blocks, optional
// cache and upload journal), vault.go sync and commit, paths.go path
// resolution and listing, tree.go folder operations, upload.go and
// download.go the block pipelines, walk.go Walk.
package workspace
