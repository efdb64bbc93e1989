package cli

import (
	"context"
	"fmt"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/wire"
)

// wipeIfRevoked runs when the server refuses this device as revoked: the
// device reads the log up to its revocation, and only if the certificate
// verifies does it erase its copies of the organisation's data (SPEC.md
// §15). It always returns an error: the command can't go on.
func wipeIfRevoked(ctx context.Context, s *client.Session, con *console) error {
	r, err := s.CheckRevoked(ctx)
	if err != nil {
		return err
	}
	if r == nil {
		return client.ErrRevocationNotInLog
	}
	rep, err := s.Wipe(ctx)
	printWipeReport(con, rep)
	if err != nil {
		return fmt.Errorf("erasing this device's data: %w", err)
	}
	if r.User {
		return wire.ErrDeviceRevoked
	}
	return client.ErrRevokedHere
}

// printWipeReport says who revoked the device and when, the folders
// cleaned, the count of files erased and each file kept aside. It goes
// to standard output, never discarded by --quiet: the person must learn
// which files were kept aside; the error stays one line.
func printWipeReport(con *console, rep client.WipeReport) {
	r := rep.Revocation
	who := "this device"
	if r.User {
		who = "your account"
	}
	fmt.Fprintf(con.out, "%s was revoked on %s by %s: this device erased its copies of the organisation's data\n",
		who, shownTime(r.Time), shown(r.By))
	for _, f := range rep.Folders {
		fmt.Fprintf(con.out, "  cleaned synced folder %s\n", shown(f))
	}
	files := "files"
	if rep.Removed == 1 {
		files = "file"
	}
	fmt.Fprintf(con.out, "  %d synced %s erased (unchanged since the last sync), %d kept aside:\n", rep.Removed, files, len(rep.Kept))
	for _, k := range rep.Kept {
		fmt.Fprintf(con.out, "    kept %s\n", shown(k))
	}
}
