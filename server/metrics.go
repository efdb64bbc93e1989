package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/server/store"
)

// metrics are the server's Prometheus metrics, served on their own
// listener (never on the clients' port). Labels are method names and
// status codes only: nothing about organisations, users or content.
type metrics struct {
	registry    *prometheus.Registry
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	blockBytes  *prometheus.CounterVec
	connections prometheus.Gauge
	storeErrors prometheus.Counter
	panics      prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coffre_requests_total", Help: "Calls by method and status code.",
		}, []string{"method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "coffre_request_seconds", Help: "Call latency by method.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"method"}),
		blockBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coffre_block_bytes_total", Help: "Encrypted block bytes received and sent.",
		}, []string{"direction"}),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "coffre_connections", Help: "Open client connections.",
		}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "coffre_store_errors_total", Help: "Calls that failed on a storage error.",
		}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "coffre_panics_total", Help: "Calls whose handler panicked (a bug: see the log).",
		}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.blockBytes, m.connections, m.storeErrors, m.panics,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func shortMethod(full string) string { return full[strings.LastIndex(full, "/")+1:] }

// unary records each call; it runs outside authentication so that refused
// calls count too.
func (m *metrics) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := handler(ctx, req)
	method := shortMethod(info.FullMethod)
	m.requests.WithLabelValues(method, status.Code(err).String()).Inc()
	m.latency.WithLabelValues(method).Observe(time.Since(start).Seconds())
	if err == nil {
		switch r := req.(type) {
		case *coffrev1.PutBlockRequest:
			m.blockBytes.WithLabelValues("in").Add(float64(len(r.GetData())))
		case *coffrev1.PutBlocksRequest:
			for _, b := range r.GetBlocks() {
				m.blockBytes.WithLabelValues("in").Add(float64(len(b.GetData())))
			}
		case *coffrev1.GetBlockRequest:
			m.blockBytes.WithLabelValues("out").Add(float64(len(resp.(*coffrev1.GetBlockResponse).GetData())))
		case *coffrev1.GetBlocksRequest:
			for _, b := range resp.(*coffrev1.GetBlocksResponse).GetBlocks() {
				m.blockBytes.WithLabelValues("out").Add(float64(len(b.GetData())))
			}
		}
	}
	return resp, err
}

func (m *metrics) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	err := handler(srv, ss)
	m.requests.WithLabelValues(shortMethod(info.FullMethod), status.Code(err).String()).Inc()
	return err
}

// connStats counts open connections.
type connStats struct{ m *metrics }

func (c connStats) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context   { return ctx }
func (c connStats) HandleRPC(context.Context, stats.RPCStats)                         {}
func (c connStats) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (c connStats) HandleConn(_ context.Context, s stats.ConnStats) {
	switch s.(type) {
	case *stats.ConnBegin:
		c.m.connections.Inc()
	case *stats.ConnEnd:
		c.m.connections.Dec()
	}
}

// healthMethods are the standard gRPC health service's calls: answered
// without a device signature (load balancers ask them).
func isHealthMethod(full string) bool { return strings.HasPrefix(full, "/grpc.health.v1.Health/") }

func registerHealth(g *grpc.Server) *health.Server {
	h := health.NewServer()
	h.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	h.SetServingStatus(coffrev1.CoffreService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(g, h)
	return h
}

// ServeMetrics serves /metrics (Prometheus) and /healthz on lis until ctx
// ends.
func (s *Server) ServeMetrics(ctx context.Context, lis net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		// One organisation's damaged record doesn't make the store
		// unavailable: the others are served.
		if _, err := s.cfg.Store.Organisations(ctx); err != nil && !errors.Is(err, store.ErrCorrupt) {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		// A block no vault has: not found means the block store answers.
		if _, err := s.cfg.Blocks.GetBlock(ctx, "healthzz", "healthzz", "healthzz"); !errors.Is(err, store.ErrNotFound) {
			http.Error(w, "block store unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	var once sync.Once
	go func() {
		<-ctx.Done()
		once.Do(func() { hs.Close() })
	}()
	err := hs.Serve(lis)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
