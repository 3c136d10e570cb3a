package store

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics counts queries by target and outcome and exposes pool and replica
// state; the Store is its own prometheus.Collector for the gauges.
type metrics struct {
	queries  *prometheus.CounterVec
	poolDesc map[string]*prometheus.Desc
	lagBytes *prometheus.Desc
	lagSecs  *prometheus.Desc
	healthy  *prometheus.Desc
	s        *Store
}

func newMetrics() *metrics {
	return &metrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "conveyor_db_queries_total",
			Help: "Database calls by target (primary, replicaN), kind (read, write) and outcome (ok, not_found, conn_error, error).",
		}, []string{"target", "kind", "outcome"}),
		poolDesc: map[string]*prometheus.Desc{
			"total":    prometheus.NewDesc("conveyor_db_pool_conns", "Connections in the pool.", []string{"target"}, nil),
			"acquired": prometheus.NewDesc("conveyor_db_pool_acquired_conns", "Connections in use.", []string{"target"}, nil),
			"idle":     prometheus.NewDesc("conveyor_db_pool_idle_conns", "Idle connections.", []string{"target"}, nil),
			"max":      prometheus.NewDesc("conveyor_db_pool_max_conns", "The pool's size.", []string{"target"}, nil),
			"waits":    prometheus.NewDesc("conveyor_db_pool_empty_acquire_total", "Acquires that had to wait for a connection.", []string{"target"}, nil),
		},
		lagBytes: prometheus.NewDesc("conveyor_db_replica_lag_bytes", "How far a replica's replay is behind the primary's WAL.", []string{"target"}, nil),
		lagSecs:  prometheus.NewDesc("conveyor_db_replica_lag_seconds", "Age of a replica's last replayed transaction while it is behind.", []string{"target"}, nil),
		healthy:  prometheus.NewDesc("conveyor_db_replica_healthy", "1 when a replica takes reads.", []string{"target"}, nil),
	}
}

func (m *metrics) register(s *Store) { m.s = s }

func (m *metrics) query(target, kind string, err error) {
	outcome := "ok"
	switch {
	case err == nil:
	case errors.Is(mapErr(err), errNotFound):
		outcome = "not_found"
	case isConnErr(err):
		outcome = "conn_error"
	default:
		outcome = "error"
	}
	m.queries.WithLabelValues(target, kind, outcome).Inc()
}

// Describe implements prometheus.Collector.
func (s *Store) Describe(ch chan<- *prometheus.Desc) {
	s.metrics.queries.Describe(ch)
	for _, d := range s.metrics.poolDesc {
		ch <- d
	}
	ch <- s.metrics.lagBytes
	ch <- s.metrics.lagSecs
	ch <- s.metrics.healthy
}

// Collect implements prometheus.Collector.
func (s *Store) Collect(ch chan<- prometheus.Metric) {
	m := s.metrics
	m.queries.Collect(ch)
	all := append([]*target{s.primary}, s.replicas...)
	for _, t := range all {
		st := t.pool.Stat()
		ch <- prometheus.MustNewConstMetric(m.poolDesc["total"], prometheus.GaugeValue, float64(st.TotalConns()), t.name)
		ch <- prometheus.MustNewConstMetric(m.poolDesc["acquired"], prometheus.GaugeValue, float64(st.AcquiredConns()), t.name)
		ch <- prometheus.MustNewConstMetric(m.poolDesc["idle"], prometheus.GaugeValue, float64(st.IdleConns()), t.name)
		ch <- prometheus.MustNewConstMetric(m.poolDesc["max"], prometheus.GaugeValue, float64(st.MaxConns()), t.name)
		ch <- prometheus.MustNewConstMetric(m.poolDesc["waits"], prometheus.CounterValue, float64(st.EmptyAcquireCount()), t.name)
	}
	for _, r := range s.replicas {
		h := 0.0
		if r.healthy.Load() {
			h = 1
		}
		ch <- prometheus.MustNewConstMetric(m.lagBytes, prometheus.GaugeValue, float64(r.lagB.Load()), r.name)
		ch <- prometheus.MustNewConstMetric(m.lagSecs, prometheus.GaugeValue, float64(r.lagT.Load())/1e9, r.name)
		ch <- prometheus.MustNewConstMetric(m.healthy, prometheus.GaugeValue, h, r.name)
	}
}
