package store

import (
	"context"
	"net"
	"sync/atomic"
)

// RouteForTest runs the routing decision of a read (the read-your-writes
// lookup and the choice of candidates) without the query.
func (s *Store) RouteForTest(ctx context.Context) int { return len(s.route(ctx)) }

// OpenCountingForTest opens a store whose connections to the primary add
// to sends each time they send (a round trip: pgx writes each exchange,
// a pipeline included, in one write).
func OpenCountingForTest(ctx context.Context, opts Options, sends *atomic.Int64) (*Store, error) {
	var d net.Dialer
	opts.dialPrimary = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{Conn: c, sends: sends}, nil
	}
	return Open(ctx, opts)
}

type countingConn struct {
	net.Conn
	sends *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.sends.Add(1)
	return c.Conn.Write(p)
}
