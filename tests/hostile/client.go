package hostile

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/link"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/wire"
)

// Passphrase unlocks every device the helpers create.
var Passphrase = []byte("correct horse battery staple")

// FastKeys makes device key files cheap to write and read (scrypt work
// factor 10 instead of 18). Call it from TestMain, before any test runs.
func FastKeys() { crypto.ScryptWorkFactor = 10 }

// timeout bounds every helper's exchange with the server.
const timeout = 60 * time.Second

// giveUpAfter is how long one side of an enrolment waits on after the
// other side failed.
const giveUpAfter = 3 * time.Second

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return c
}

// closeAtEnd closes a session when the test ends (closing twice is harmless).
func closeAtEnd(t testing.TB, s *client.Session) *client.Session {
	t.Cleanup(func() { s.Close() })
	return s
}

// Bootstrap creates an organisation on s and bootstraps it from dir, whose
// device becomes the first admin ("Admin", admin@example.org).
func Bootstrap(t testing.TB, s *Server, dir string) *client.Session {
	t.Helper()
	l := s.NewOrganisation(t, "Hostile test organisation")
	sess, err := client.Bootstrap(ctx(t), dir, l, client.BootstrapOptions{
		Name: "Admin", Email: "admin@example.org", DeviceLabel: "admin-laptop", Passphrase: Passphrase,
	})
	if err != nil {
		t.Fatalf("hostile: bootstrap: %v", err)
	}
	return closeAtEnd(t, sess)
}

// Open unlocks the device in dir with Passphrase.
func Open(t testing.TB, dir string) *client.Session {
	t.Helper()
	sess, err := client.Open(ctx(t), dir, Passphrase)
	if err != nil {
		t.Fatalf("hostile: opening %s: %v", dir, err)
	}
	return closeAtEnd(t, sess)
}

// Reopen closes sess and opens its device from disk again (dir is where it
// lives): what the client trusts after a restart.
func Reopen(t testing.TB, sess *client.Session, dir string) *client.Session {
	t.Helper()
	sess.Close()
	return Open(t, dir)
}

// Invite creates an invitation from greeter: kind "user" (email, profile)
// or "device" (for greeter's own user; email and profile unused).
func Invite(t testing.TB, greeter *client.Session, kind, email string, profile certificate.Profile) (link.Link, client.Invitation) {
	t.Helper()
	var (
		l   link.Link
		inv client.Invitation
		err error
	)
	switch kind {
	case "user":
		l, inv, err = greeter.InviteUser(ctx(t), email, profile, client.DefaultInvitationLife)
	case "device":
		l, inv, err = greeter.InviteDevice(ctx(t), client.DefaultInvitationLife)
	default:
		t.Fatalf("hostile: unknown invitation kind %q", kind)
	}
	if err != nil {
		t.Fatalf("hostile: inviting: %v", err)
	}
	return l, inv
}

// Enrol invites and enrols a new device in dir through the real enrolment
// (Greet and Claim run concurrently; two in-memory people read each other
// the codes their screens show). kind is "user" (a new user with email and
// profile, greeted by an admin) or "device" (a new device of greeter's
// user). It fails the test unless both sides succeed.
func Enrol(t testing.TB, greeter *client.Session, dir, kind, email string, profile certificate.Profile) *client.Session {
	t.Helper()
	l, inv := Invite(t, greeter, kind, email, profile)
	res := RunEnrolment(t, greeter, l, inv, dir, EnrolOptions{})
	if res.GreetErr != nil || res.ClaimErr != nil {
		t.Fatalf("hostile: enrolment failed: greeter: %v; claimer: %v", res.GreetErr, res.ClaimErr)
	}
	return res.Session
}

// EnrolOptions change how the people behave in RunEnrolment.
type EnrolOptions struct {
	// GreeterTypes and ClaimerTypes turn the code each person hears from
	// the other into what they type; nil types exactly what they hear.
	GreeterTypes, ClaimerTypes func(heard string) string
	// Refuse makes the greeter's person refuse whoever asks to join.
	Refuse bool
	// Name and Label are what the claimer says about itself (defaults:
	// "Claimer", "claimer-device").
	Name, Label string
}

// EnrolResult is how an enrolment ended on each side.
type EnrolResult struct {
	Session  *client.Session // the claimer's new device; nil if Claim failed
	Greet    client.GreetResult
	GreetErr error
	ClaimErr error
	// Codes each side's screen showed ("" if it never got that far).
	GreeterCode, ClaimerCode string
	// Claimers is who the greeter's person was asked to let in.
	Claimers []client.Claimer
}

// RunEnrolment runs Greet (on greeter, for inv) and Claim (of l, into dir)
// concurrently and returns how both ended. It does not fail the test on an
// enrolment error: the caller checks.
//
// After an aborted attempt the server's relay answers a greeter waiting for
// "the newest attempt" with the aborted one until the claimer starts a new
// one; the greeter is started again in that case, as a person would. A
// side still waiting 3 s after the other failed is cancelled (its error is
// then context.Canceled).
func RunEnrolment(t testing.TB, greeter *client.Session, l link.Link, inv client.Invitation, dir string, opts EnrolOptions) EnrolResult {
	t.Helper()
	if opts.Name == "" {
		opts.Name = "Claimer"
	}
	if opts.Label == "" {
		opts.Label = "claimer-device"
	}
	c := ctx(t)
	// Each side gives up a while after the other one failed, as the person
	// at that end would (a side that failed before the relay knew its
	// attempt can't abort it, and the other would wait for ever).
	gctx, gcancel := context.WithCancel(c)
	cctx, ccancel := context.WithCancel(c)
	defer gcancel()
	defer ccancel()
	giveUp := func(err error, cancel context.CancelFunc) {
		if err != nil {
			time.AfterFunc(giveUpAfter, cancel)
		}
	}
	g, cl := newPeople(opts)
	var res EnrolResult
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer close(cl.done)
		res.Session, res.ClaimErr = client.Claim(cctx, dir, l, client.ClaimOptions{
			Name: opts.Name, DeviceLabel: opts.Label, Passphrase: Passphrase,
		}, cl)
		giveUp(res.ClaimErr, gcancel)
	}()
	go func() {
		defer wg.Done()
		defer close(g.done)
		defer func() { giveUp(res.GreetErr, ccancel) }()
		for {
			res.Greet, res.GreetErr = greeter.Greet(gctx, inv, g)
			if !errors.Is(res.GreetErr, wire.ErrEnrolmentAborted) || g.code() != "" {
				return
			}
			select { // the old aborted attempt: wait for the claimer's new one
			case <-cl.done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	wg.Wait()
	if res.Session != nil {
		closeAtEnd(t, res.Session)
	}
	res.GreeterCode, res.ClaimerCode = g.code(), cl.code()
	res.Claimers = g.claimers
	return res
}

// person is one side's human: a client.Prompter that shows codes to the
// other person and types what it hears.
type person struct {
	peer     *person
	shown    chan string   // codes this person's screen showed, for the peer to hear
	done     chan struct{} // closed when this side's client returned
	typ      func(string) string
	refuse   bool
	mu       sync.Mutex
	last     string
	claimers []client.Claimer
}

var errPeerGone = errors.New("hostile: the other person left without showing a code")

func newPeople(opts EnrolOptions) (greeter, claimer *person) {
	greeter = &person{shown: make(chan string, 8), done: make(chan struct{}), typ: opts.GreeterTypes, refuse: opts.Refuse}
	claimer = &person{shown: make(chan string, 8), done: make(chan struct{}), typ: opts.ClaimerTypes}
	greeter.peer, claimer.peer = claimer, greeter
	return greeter, claimer
}

func (p *person) code() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

func (p *person) ShowCode(code string) {
	p.mu.Lock()
	p.last = code
	p.mu.Unlock()
	p.shown <- code
}

func (p *person) PeerCode(ctx context.Context) (string, error) {
	heard := func(c string) (string, error) {
		if p.typ != nil {
			return p.typ(c), nil
		}
		return c, nil
	}
	select {
	case c := <-p.peer.shown:
		return heard(c)
	default:
	}
	select {
	case c := <-p.peer.shown:
		return heard(c)
	case <-p.peer.done:
		select {
		case c := <-p.peer.shown:
			return heard(c)
		default:
			return "", errPeerGone
		}
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (p *person) ConfirmClaimer(_ context.Context, c client.Claimer) (bool, error) {
	p.mu.Lock()
	p.claimers = append(p.claimers, c)
	p.mu.Unlock()
	return !p.refuse, nil
}

func (p *person) Progress(string) {}

// --- a device's keys, and raw calls -----------------------------------------

// Device is what a test device's key file holds (SPEC.md §2.6), read with
// Passphrase. Tests use it to play a member who colludes with the server
// (a revoked member signing with its old key), to sign raw calls that the
// client library would refuse to make, and to check which keys a client
// uses.
type Device struct {
	Link             link.Link
	OrganisationID   string
	UserID, DeviceID string
	SigningKey       *crypto.SigningKey
	SealKey          *crypto.SealKey
	StateKey         []byte // encoded secret key (0x03 || key)
	// DeviceSealKey is the device's own seal key (key file version 2,
	// SPEC.md §15.2); nil for a device without one.
	DeviceSealKey *crypto.SealKey
}

// ReadDevice reads the key file in dir.
func ReadDevice(t testing.TB, dir string) Device {
	t.Helper()
	sealed, err := os.ReadFile(filepath.Join(dir, "device.age"))
	if err != nil {
		t.Fatalf("hostile: %v", err)
	}
	plain, err := crypto.DecryptWithPassphrase(Passphrase, sealed)
	if err != nil {
		t.Fatalf("hostile: device key file: %v", err)
	}
	var c struct {
		Link       string `json:"organisation_link"`
		UserID     string `json:"user_id"`
		DeviceID   string `json:"device_id"`
		SigningKey []byte `json:"signing_key"`
		SealKey    []byte `json:"seal_key"`
		StateKey   []byte `json:"state_key"`
		DeviceSeal []byte `json:"device_seal_key"`
	}
	if err := json.Unmarshal(plain, &c); err != nil {
		t.Fatalf("hostile: device key file content: %v", err)
	}
	d := Device{UserID: c.UserID, DeviceID: c.DeviceID, StateKey: c.StateKey}
	if d.Link, err = link.Parse(c.Link); err != nil {
		t.Fatalf("hostile: device key file link: %v", err)
	}
	d.OrganisationID = d.Link.OrganisationID
	if d.SigningKey, err = crypto.ParseSigningKey(c.SigningKey); err != nil {
		t.Fatalf("hostile: device signing key: %v", err)
	}
	if d.SealKey, err = crypto.ParseSealKey(c.SealKey); err != nil {
		t.Fatalf("hostile: user seal key: %v", err)
	}
	if c.DeviceSeal != nil {
		if d.DeviceSealKey, err = crypto.ParseSealKey(c.DeviceSeal); err != nil {
			t.Fatalf("hostile: device seal key: %v", err)
		}
	}
	return d
}

// Signer signs raw calls as a device (SPEC.md §6.1), with knobs to sign
// them wrong.
type Signer struct {
	OrganisationID, DeviceID string
	Key                      *crypto.SigningKey
	// Time is the request time (nil: now); Nonce the 16-byte nonce (nil:
	// random).
	Time  func() time.Time
	Nonce func() []byte
}

// Signer returns a signer for this device.
func (d Device) Signer() *Signer {
	return &Signer{OrganisationID: d.OrganisationID, DeviceID: d.DeviceID, Key: d.SigningKey}
}

func (sg *Signer) outgoing(c context.Context, method string, req proto.Message) (context.Context, error) {
	now := time.Now()
	if sg.Time != nil {
		now = sg.Time()
	}
	nonce := crypto.RandomBytes(16)
	if sg.Nonce != nil {
		nonce = sg.Nonce()
	}
	return wire.SignOutgoing(c, sg.Key, method, sg.OrganisationID, sg.DeviceID, now, nonce, req)
}

// Dial returns a raw gRPC client of the server (TLS, pinned). With a
// signer, every call is signed as that device (Watch included); without,
// calls carry no device metadata (token calls: ClaimInvitation, a
// claimer's relay calls). The connection closes when the test ends.
func (s *Server) Dial(t testing.TB, sg *Signer) coffrev1.CoffreServiceClient {
	t.Helper()
	return DialAddress(t, s.addr, s.pin, sg)
}

// DialAddress is Dial for any coffre server: the one at addr whose TLS key
// has the pin.
func DialAddress(t testing.TB, addr, pin string, sg *Signer) coffrev1.CoffreServiceClient {
	t.Helper()
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // the pin below replaces the chain check
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("no certificate")
			}
			leaf, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
			if base64.RawURLEncoding.EncodeToString(sum[:]) != pin {
				return errors.New("server key does not match the pin")
			}
			return nil
		},
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(cfg))}
	if sg != nil {
		opts = append(opts,
			grpc.WithChainUnaryInterceptor(func(c context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, o ...grpc.CallOption) error {
				c, err := sg.outgoing(c, method, req.(proto.Message))
				if err != nil {
					return err
				}
				return invoker(c, method, req, reply, cc, o...)
			}),
			grpc.WithChainStreamInterceptor(func(c context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, o ...grpc.CallOption) (grpc.ClientStream, error) {
				// Watch is the only stream; its request is empty.
				c, err := sg.outgoing(c, method, &coffrev1.WatchRequest{})
				if err != nil {
					return nil, err
				}
				return streamer(c, desc, cc, method, o...)
			}),
		)
	}
	cc, err := grpc.NewClient("passthrough:///"+addr, opts...)
	if err != nil {
		t.Fatalf("hostile: dial: %v", err)
	}
	t.Cleanup(func() { cc.Close() })
	return coffrev1.NewCoffreServiceClient(cc)
}
