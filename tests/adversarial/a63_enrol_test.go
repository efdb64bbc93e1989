package adversarial

import (
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/tests/hostile"
)

// TestDeviceEnrolledAfterRotationOpensOlderSealings: Bob's keys are
// rotated while a vault shared with him still has its key sealed to his
// older key (its owner has not rotated it yet). A tablet Bob enrols after
// the rotation receives his older keys with the newest (SPEC.md §5 step
// 5) and reads that vault at once, as his other devices do.
func TestDeviceEnrolledAfterRotationOpensOlderSealings(t *testing.T) {
	t.Parallel()
	w := newDeviceWorld(t)
	info, err := w.admin.CreateVault(bg(), "ward")
	if err != nil {
		t.Fatal(err)
	}
	putIn(t, w.admin, info.ID, "/chart.txt", "sealed to the older key")
	if _, err := w.admin.ShareVault(bg(), info.ID, "bob@example.org", certificate.RoleReader, time.Time{}); err != nil {
		t.Fatal(err)
	}
	mustSync(t, w.bob)
	if _, err := w.bob.RotateUserKeys(bg()); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"/chart.txt": "sealed to the older key"}
	reads(t, "the laptop", w.laptop, info.ID, files)
	tablet := hostile.Enrol(t, w.bob, dirs(t, "tablet")["tablet"], "device", "", 0)
	v, ok := tablet.Organisation().Vault(info.ID)
	u, _ := tablet.Me()
	if !ok || v.Keys[len(v.Keys)-1].Position > u.KeysRotatedAt() {
		t.Fatal("the vault's key is newer than Bob's rotation: the test reads nothing sealed to the older key")
	}
	reads(t, "the tablet enrolled after the rotation", tablet, info.ID, files)
}
