package store

import "context"

// RouteForTest runs the routing decision of a read (the read-your-writes
// lookup and the choice of candidates) without the query.
func (s *Store) RouteForTest(ctx context.Context) int { return len(s.route(ctx)) }
