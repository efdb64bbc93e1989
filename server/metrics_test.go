package server

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

func TestHealthAndMetrics(t *testing.T) {
	ts, admin := startBootstrapped(t)
	resp, err := healthpb.NewHealthClient(ts.cc).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health check without a signature: %v, %v", resp, err)
	}
	ts.hello(t, context.Background()) // refused: unsigned
	if err := ts.hello(t, ts.signed(t, admin, helloMethod, ts.clock.now(), &coffrev1.HelloRequest{})); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ts.srv.ServeMetrics(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-done })
	get := func(path string) string {
		r, err := http.Get("http://" + lis.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		if r.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, r.StatusCode, b)
		}
		return string(b)
	}
	m := get("/metrics")
	for _, want := range []string{
		`coffre_requests_total{code="OK",method="Hello"} 1`,
		`coffre_requests_total{code="Unauthenticated",method="Hello"} 1`,
		`coffre_connections 1`,
		`coffre_request_seconds_bucket`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(m, ts.orgID) || strings.Contains(m, admin.id) {
		t.Error("metrics name an organisation or a device")
	}
	if h := get("/healthz"); h != "ok\n" {
		t.Errorf("healthz: %q", h)
	}
}
