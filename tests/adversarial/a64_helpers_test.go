package adversarial

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/link"
	"github.com/coffre/coffre/tests/hostile"
)

// recoveryWorld: bob shares his recovery among carol, dave and erin;
// frank is a member who holds no share (SPEC.md §15.6).
type recoveryWorld struct {
	s                                    *hostile.Server
	d                                    map[string]string
	admin, bob, carol, dave, erin, frank *client.Session
}

func newRecoveryWorld(t *testing.T) *recoveryWorld {
	t.Helper()
	w := &recoveryWorld{s: hostile.Start(t), d: dirs(t, "admin", "bob", "carol", "dave", "erin", "frank", "new")}
	w.admin = hostile.Bootstrap(t, w.s, w.d["admin"])
	enrol := func(name string) *client.Session {
		return hostile.Enrol(t, w.admin, w.d[name], "user", name+"@example.org", certificate.ProfileStandard)
	}
	w.bob, w.carol, w.dave, w.erin, w.frank = enrol("bob"), enrol("carol"), enrol("dave"), enrol("erin"), enrol("frank")
	for _, s := range w.sessions() {
		mustSync(t, s)
	}
	return w
}

func (w *recoveryWorld) sessions() []*client.Session {
	return []*client.Session{w.admin, w.bob, w.carol, w.dave, w.erin, w.frank}
}

// recoveryPeople: the person recovering and the member of the exchange
// under way read each other the codes their screens show. Exchanges run
// one after the other, so one pair of channels serves every member.
type recoveryPeople struct {
	memberShown, personShown chan string
	// personTypes turns the member's code into what the person types.
	personTypes func(string) string
	// onProgress is called with the person's progress messages.
	onProgress func(string)
	mu         sync.Mutex
	confirmed  []client.Claimer
}

func newRecoveryPeople() *recoveryPeople {
	return &recoveryPeople{memberShown: make(chan string, 8), personShown: make(chan string, 8)}
}

type recoveryMember struct{ p *recoveryPeople }
type recoveringPerson struct{ p *recoveryPeople }

func hear(ctx context.Context, c chan string) (string, error) {
	select {
	case code := <-c:
		return code, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (m recoveryMember) ShowCode(code string) { m.p.memberShown <- code }
func (m recoveryMember) PeerCode(ctx context.Context) (string, error) {
	return hear(ctx, m.p.personShown)
}
func (m recoveryMember) Progress(string) {}
func (m recoveryMember) ConfirmClaimer(_ context.Context, c client.Claimer) (bool, error) {
	m.p.mu.Lock()
	defer m.p.mu.Unlock()
	m.p.confirmed = append(m.p.confirmed, c)
	return true, nil
}

func (r recoveringPerson) ShowCode(code string) { r.p.personShown <- code }
func (r recoveringPerson) PeerCode(ctx context.Context) (string, error) {
	code, err := hear(ctx, r.p.memberShown)
	if err == nil && r.p.personTypes != nil {
		code = r.p.personTypes(code)
	}
	return code, err
}
func (r recoveringPerson) Progress(msg string) {
	if r.p.onProgress != nil {
		r.p.onProgress(msg)
	}
}
func (r recoveringPerson) ConfirmClaimer(context.Context, client.Claimer) (bool, error) {
	return true, nil
}

// recoveryResult is how a recovery ended: the person's new device (nil on
// failure) and error, and each helping member's error.
type recoveryResult struct {
	sess       *client.Session
	err        error
	memberErrs []error
}

// recover has each member create a recovery invitation for email and
// greet it, while the person runs RecoverWithShares with the links in
// that order into dir. Members still waiting a while after the person
// ended are stopped.
func recoverWith(t *testing.T, p *recoveryPeople, email, dir string, members ...*client.Session) recoveryResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(bg(), 2*time.Minute)
	defer cancel()
	mctx, mcancel := context.WithCancel(ctx)
	defer mcancel()
	var links []link.Link
	res := recoveryResult{memberErrs: make([]error, len(members))}
	var wg sync.WaitGroup
	for i, m := range members {
		l, inv, err := m.InviteRecovery(ctx, email, time.Hour)
		if err != nil {
			t.Fatalf("member %d: inviting: %v", i, err)
		}
		links = append(links, l)
		wg.Add(1)
		go func() {
			defer wg.Done()
			res.memberErrs[i] = m.GreetRecovery(mctx, inv, recoveryMember{p})
		}()
	}
	res.sess, res.err = client.RecoverWithShares(ctx, dir, links, client.RecoverOptions{
		DeviceLabel: "new laptop", Passphrase: hostile.Passphrase, Wait: 30 * time.Second,
	}, recoveringPerson{p})
	time.AfterFunc(3*time.Second, mcancel)
	wg.Wait()
	if res.sess != nil {
		t.Cleanup(func() { res.sess.Close() })
	}
	return res
}
