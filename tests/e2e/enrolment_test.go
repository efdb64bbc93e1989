package e2e

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestEndToEnd is an organisation's first day: the operator creates it, the
// first administrator bootstraps it, colleagues and a second device join by
// invitation and codes, an administrator changes a profile and revokes a
// leaver, and every member sees the same directory.
func TestEndToEnd(t *testing.T) {
	longScenario(t)
	t.Parallel()
	srv := StartServer(t)
	orgID, bootstrapLink := srv.CreateOrg("Clinique du Lac")
	if !strings.Contains(bootstrapLink, "kind=bootstrap") || !strings.HasPrefix(bootstrapLink, "coffre://"+srv.Addr+"/"+orgID) {
		t.Fatalf("bootstrap link %q: want coffre://%s/%s?…kind=bootstrap…", bootstrapLink, srv.Addr, orgID)
	}

	alice := NewDevice(t, "alice")
	alice.Bootstrap(bootstrapLink, "Alice", "alice@lac.example")

	// The first status: who and where, the log of two certificates (Alice
	// and her device), no earlier connection.
	st := alice.MustRun("status")
	for _, want := range []string{
		"organisation  Clinique du Lac (" + orgID + ")",
		"server        " + srv.Addr + " (reachable)",
		"user          Alice <alice@lac.example>, admin",
		"log head      position 2, ",
		"last connection  none before this one",
	} {
		if !strings.Contains(st, want) {
			t.Errorf("first status lacks %q:\n%s", want, st)
		}
	}
	// The second one shows the first connection: its date and address.
	st = alice.MustRun("status")
	last := regexp.MustCompile(`last connection  (\d{4}-\d\d-\d\d) \d\d:\d\d:\d\d \S+ from 127\.0\.0\.1:\d+`).FindStringSubmatch(st)
	if last == nil {
		t.Errorf("second status does not show the previous connection (date, 127.0.0.1):\n%s", st)
	} else if today, before := time.Now().Format("2006-01-02"), time.Now().Add(-time.Hour).Format("2006-01-02"); last[1] != today && last[1] != before {
		t.Errorf("previous connection dated %s, want today (%s)", last[1], today)
	}

	// Alice enrols Bob (standard) and Carol (admin). Carol keeps her
	// passphrase in a file rather than in the environment.
	bob := NewDevice(t, "bob")
	bobID, _ := EnrolUser(t, alice, "bob@lac.example", "standard", bob, "Bob")
	carol := NewDevice(t, "carol")
	carol.UsePassphraseFile()
	carolID, _ := EnrolUser(t, alice, "carol@lac.example", "admin", carol, "Carol")

	// Bob adds his laptop himself.
	bobLaptop := NewDevice(t, "bob-laptop")
	if got := EnrolDevice(t, bob, bobLaptop, "bob-laptop"); got != bobID {
		t.Fatalf("Bob's new device joined user %s, want Bob (%s)", got, bobID)
	}

	// Everyone sees the same directory: three users, Bob with two devices.
	fromAlice := alice.Users(false)
	if len(fromAlice) != 3 {
		t.Fatalf("Alice sees %d users, want 3: %+v", len(fromAlice), fromAlice)
	}
	for email, want := range map[string]struct {
		name, profile string
		devices       int
		yourself      bool
	}{
		"alice@lac.example": {"Alice", "admin", 1, true},
		"bob@lac.example":   {"Bob", "standard", 2, false},
		"carol@lac.example": {"Carol", "admin", 1, false},
	} {
		u := findUser(t, fromAlice, email)
		if u.Name != want.name || u.Profile != want.profile || len(u.Devices) != want.devices || u.Yourself != want.yourself || u.Revoked != nil {
			t.Errorf("Alice sees %s as %+v, want %+v, not revoked", email, u, want)
		}
	}
	if u := findUser(t, fromAlice, "carol@lac.example"); u.ID != carolID {
		t.Errorf("Carol listed as %s, she was told %s", u.ID, carolID)
	}
	if !slices.ContainsFunc(findUser(t, fromAlice, "bob@lac.example").Devices, func(d UserDevice) bool {
		return d.Label == "bob-laptop"
	}) {
		t.Errorf("Bob's devices lack bob-laptop: %+v", findUser(t, fromAlice, "bob@lac.example").Devices)
	}
	fromLaptop := bobLaptop.Users(false)
	if findUser(t, fromLaptop, "bob@lac.example").Yourself != true || findUser(t, fromLaptop, "alice@lac.example").Yourself {
		t.Errorf("Bob's laptop does not see itself as Bob: %+v", fromLaptop)
	}
	if a, b := withoutYourself(fromAlice), withoutYourself(fromLaptop); !slices.EqualFunc(a, b, sameUser) {
		t.Errorf("Alice and Bob's laptop see different directories:\n%+v\n%+v", a, b)
	}

	// Alice makes Bob an administrator.
	if out := alice.MustRun("user", "profile", "bob@lac.example", "admin"); !strings.Contains(out, "Bob <bob@lac.example> is now admin") {
		t.Errorf("profile change not confirmed:\n%s", out)
	}
	if u := findUser(t, alice.Users(false), "bob@lac.example"); u.Profile != "admin" {
		t.Errorf("after 'user profile … admin', Bob is %s", u.Profile)
	}

	// Bob leaves: Alice revokes him, and both his devices are refused.
	if out := alice.MustRun("user", "revoke", "bob@lac.example"); !strings.Contains(out, "revoked Bob <bob@lac.example> (user "+bobID+")") {
		t.Errorf("revocation not confirmed:\n%s", out)
	}
	bob.MustFail("revoked", "status")
	bobLaptop.MustFail("revoked", "user", "list")
	if slices.ContainsFunc(alice.Users(false), func(u User) bool { return u.Email == "bob@lac.example" }) {
		t.Errorf("'user list' still shows Bob among active users")
	}
	// Carol, on her own device, learns of the revocation at her next sync.
	for _, who := range []*Device{alice, carol} {
		all := who.Users(true)
		if u := findUser(t, all, "bob@lac.example"); u.Revoked == nil || time.Since(*u.Revoked) > time.Hour {
			t.Errorf("%s: 'user list --all' shows Bob as %+v, want revoked just now", who.Name, u)
		}
		if len(all) != 3 {
			t.Errorf("%s: 'user list --all' shows %d users, want 3", who.Name, len(all))
		}
	}
}

func withoutYourself(us []User) []User {
	out := slices.Clone(us)
	for i := range out {
		out[i].Yourself = false
	}
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func sameUser(a, b User) bool {
	if a.ID != b.ID || a.Name != b.Name || a.Email != b.Email || a.Profile != b.Profile || !a.Created.Equal(b.Created) ||
		(a.Revoked == nil) != (b.Revoked == nil) || a.Positions != b.Positions || len(a.Devices) != len(b.Devices) {
		return false
	}
	for i := range a.Devices {
		if a.Devices[i].ID != b.Devices[i].ID || a.Devices[i].Label != b.Devices[i].Label {
			return false
		}
	}
	return true
}
