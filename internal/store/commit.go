package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/conveyorhq/conveyor/gen/db"
	"github.com/conveyorhq/conveyor/internal/domain"
)

// A write's transaction ends in one round trip to the primary: its events
// (logEvents), the COMMIT and, when a read-your-writes mark is to be set,
// the primary's WAL position after the commit are sent together, as one
// pipeline. A team's event clock is thus held, from the events' statement
// to the end of the commit, for no network round trip at all: before, the
// clock tick, the events' insert, the commit and the position read were
// four trips, the first three under the lock, so every writer of a busy
// team (the API's job creations, the workers' transitions) queued behind
// the others' round trips.

// writeEvents is writeFor for a change that reports events: fn logs them
// (log.add), and they are written last in its transaction, in the round
// trip that commits it (see commit), so they are committed with the change
// or not at all.
func (s *Store) writeEvents(ctx context.Context, fn func(q *db.Queries, log *eventLog) ([]string, error)) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.WriteTimeout)
	defer cancel()
	c, err := s.primary.pool.Acquire(ctx)
	if err != nil {
		s.metrics.query(s.primary.name, "write", err)
		return mapErr(err)
	}
	// A connection left inside a transaction (a failed rollback, a
	// cancelled round trip) is closed by the pool on release, never reused.
	defer c.Release()
	if _, err := c.Exec(ctx, "BEGIN"); err != nil {
		s.metrics.query(s.primary.name, "write", err)
		return mapErr(err)
	}
	var log eventLog
	touched, err := fn(db.New(c), &log)
	if p := domain.PrincipalFrom(ctx); p != nil {
		touched = append(touched, p.Key())
	}
	var lsn uint64
	if err == nil {
		lsn, err = s.commit(ctx, c, log.events, s.marking(touched))
	}
	if err != nil {
		rollback(ctx, c)
		s.metrics.query(s.primary.name, "write", err)
		return mapErr(err)
	}
	s.metrics.query(s.primary.name, "write", nil)
	if len(log.events) > 0 && s.opts.EventsLogged != nil {
		s.opts.EventsLogged(ctx)
	}
	s.setMarks(ctx, touched, lsn)
	return nil
}

// marking reports whether a write by keys sets read-your-writes marks.
func (s *Store) marking(keys []string) bool {
	return len(keys) > 0 && s.opts.Marks != nil && len(s.replicas) > 0
}

// errCommitRolledBack is a COMMIT the server answered with ROLLBACK (the
// transaction had failed).
var errCommitRolledBack = errors.New("store: commit rolled back")

// commit logs evs, commits, and with mark reads the primary's WAL insert
// position after the commit record (0 when it could not be read), in one
// round trip.
func (s *Store) commit(ctx context.Context, c *pgxpool.Conn, evs []domain.Event, mark bool) (uint64, error) {
	b := &pgx.Batch{}
	q := db.New(batcher{b})
	if err := logEvents(ctx, q, evs); err != nil {
		return 0, err
	}
	logged := b.Len()
	b.Queue("COMMIT")
	if mark {
		b.Queue("SELECT pg_current_wal_insert_lsn()::text")
	}
	br := c.SendBatch(ctx, b)
	for range logged {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return 0, err
		}
	}
	tag, err := br.Exec()
	if err == nil && tag.String() == "ROLLBACK" {
		err = errCommitRolledBack
	}
	if err != nil {
		_ = br.Close()
		return 0, err
	}
	var lsn uint64
	if mark {
		var text string
		if err := br.QueryRow().Scan(&text); err != nil {
			s.opts.Logger.WarnContext(ctx, "store: read write position", "err", err)
		} else if lsn, err = ParseLSN(text); err != nil {
			s.opts.Logger.WarnContext(ctx, "store: parse write position", "lsn", text, "err", err)
		}
	}
	// The commit succeeded: what Close reports (a failed position read)
	// was logged above.
	_ = br.Close()
	return lsn, nil
}

// rollback ends c's failed transaction, if it is still in one.
func rollback(ctx context.Context, c *pgxpool.Conn) {
	if c.Conn().IsClosed() || c.Conn().PgConn().TxStatus() == 'I' {
		return
	}
	_, _ = c.Exec(context.WithoutCancel(ctx), "ROLLBACK")
}

// setMarks remembers, for each principal key, lsn: a WAL position at or
// past the commit record of the transaction that just committed. A
// replica that has replayed that far has the write.
func (s *Store) setMarks(ctx context.Context, keys []string, lsn uint64) {
	if lsn == 0 || !s.marking(keys) {
		return
	}
	ctx = context.WithoutCancel(ctx)
	for _, k := range keys {
		if err := s.opts.Marks.Set(ctx, k, lsn, s.opts.ReadYourWritesTTL); err != nil {
			s.opts.Logger.WarnContext(ctx, "store: remember write position", "err", err)
		}
	}
}

// batcher is a db.DBTX that queues sqlc's statements into a batch instead
// of running them, so generated queries can join a pipeline; only Exec
// statements can.
type batcher struct{ b *pgx.Batch }

func (q batcher) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	q.b.Queue(sql, args...)
	return pgconn.CommandTag{}, nil
}

func (batcher) Query(context.Context, string, ...any) (pgx.Rows, error) {
	return nil, fmt.Errorf("store: a batched statement cannot return rows")
}

func (batcher) QueryRow(context.Context, string, ...any) pgx.Row {
	return errRow{fmt.Errorf("store: a batched statement cannot return rows")}
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
