package client

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/experimental"
	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/link"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/wire"
)

// conn is a connection to the server, TLS always: pinned to the key in the
// link when it names one, verified against the system roots otherwise.
type conn struct {
	address string
	cc      *grpc.ClientConn
	api     coffrev1.CoffreServiceClient
}

// signer signs every call of a connection as one device (SPEC.md §6.1).
type signer struct {
	orgID, deviceID string
	key             *crypto.SigningKey
}

func dial(l link.Link, s *signer) (*conn, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS13}
	if l.Pin != "" {
		pin := l.Pin
		// The pin replaces the usual chain check: the server's public key
		// must be the one the link names, and nothing else is trusted.
		cfg.InsecureSkipVerify = true
		cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("server sent no certificate")
			}
			leaf, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
			if !crypto.Equal([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(pin)) {
				return errors.New("server's TLS key does not match the pin in the organisation link")
			}
			return nil
		}
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(wire.TLS(cfg)),
		grpc.WithWriteBufferSize(wire.WriteBufferSize),
		experimental.WithBufferPool(wire.Buffers),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(32<<20), grpc.ForceCodecV2(wire.NewBlockCodec())),
	}
	if s != nil {
		opts = append(opts, grpc.WithChainUnaryInterceptor(s.unary), grpc.WithChainStreamInterceptor(s.stream))
	}
	cc, err := grpc.NewClient("dns:///"+l.Address, opts...)
	if err != nil {
		return nil, err
	}
	return &conn{address: l.Address, cc: cc, api: coffrev1.NewCoffreServiceClient(cc)}, nil
}

func (c *conn) close() error { return c.cc.Close() }

func (s *signer) metadata(ctx context.Context, method string, req any) (context.Context, error) {
	msg, ok := req.(proto.Message)
	if !ok {
		return nil, errors.New("coffre: internal error: request is not a protobuf message")
	}
	return wire.SignOutgoing(ctx, s.key, method, s.orgID, s.deviceID, time.Now(), crypto.RandomBytes(wire.NonceSize), msg)
}

// tokenCalls are the calls a claimer makes with its token, unsigned.
var tokenCalls = map[string]bool{
	coffrev1.CoffreService_GetOrganisation_FullMethodName: true,
	coffrev1.CoffreService_Bootstrap_FullMethodName:       true,
	coffrev1.CoffreService_ClaimInvitation_FullMethodName: true,
}

func (s *signer) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if tokenCalls[method] {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	ctx, err := s.metadata(ctx, method, req)
	if err != nil {
		return err
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

// stream signs a server-streaming call. Its single request is known only
// at SendMsg, which grpc-go calls right after the stream opens; the request
// is signed ahead through signedStream, which the Watch caller uses.
func (s *signer) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	req, ok := ctx.Value(streamRequestKey{}).(proto.Message)
	if !ok {
		return nil, errors.New("coffre: internal error: stream opened without its request")
	}
	ctx, err := s.metadata(ctx, method, req)
	if err != nil {
		return nil, err
	}
	return streamer(ctx, desc, cc, method, opts...)
}

type streamRequestKey struct{}

// withStreamRequest tells the stream signer which request the stream will send.
func withStreamRequest(ctx context.Context, req proto.Message) context.Context {
	return context.WithValue(ctx, streamRequestKey{}, req)
}

// Recorded connections: the server keeps each device's, so that a person
// sees the previous one at login (CNIL).

// Connection is one recorded connection of a device.
type Connection struct {
	DeviceID string
	Time     time.Time
	Address  string
}

func connectionFromWire(c *coffrev1.Connection) Connection {
	if c == nil {
		return Connection{}
	}
	return Connection{DeviceID: c.GetDeviceId(), Time: time.UnixMilli(c.GetTimeMs()), Address: c.GetAddress()}
}

// Hello records this connection with the server and returns the previous
// one of this device (zero if none), as CNIL asks medical applications to
// show at login.
// Hello is called once per session; later calls return the same answer.
func (s *Session) Hello(ctx context.Context) (previous, current Connection, err error) {
	if s.current != nil {
		return *s.previous, *s.current, nil
	}
	resp, err := s.conn.api.Hello(ctx, &coffrev1.HelloRequest{})
	if err != nil {
		return Connection{}, Connection{}, fromServer(s.conn.address, err)
	}
	prev, cur := connectionFromWire(resp.GetPrevious()), connectionFromWire(resp.GetCurrent())
	s.previous, s.current = &prev, &cur
	return prev, cur, nil
}

// Connections lists recorded connections: this device's, or with all set
// (admins only), every device's.
func (s *Session) Connections(ctx context.Context, all bool, limit int) ([]Connection, error) {
	dev := s.keys.DeviceID
	if all {
		dev = ""
	}
	return s.connections(ctx, dev, limit)
}

// connections lists a device's recorded connections ("": every device's).
func (s *Session) connections(ctx context.Context, dev string, limit int) ([]Connection, error) {
	resp, err := s.conn.api.ListConnections(ctx, &coffrev1.ListConnectionsRequest{DeviceId: dev, Limit: uint32(limit)})
	if err != nil {
		return nil, fromServer(s.conn.address, err)
	}
	var out []Connection
	for _, c := range resp.GetConnections() {
		out = append(out, connectionFromWire(c))
	}
	return out, nil
}
