package store_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/store"
)

// TestWriteRoundTrips counts what a job's creation sends to the primary
// (issue 17): one round trip per statement of the change, then one for
// the events, the commit and the read-your-writes position together —
// so a team's event clock, locked from the events' statement to the end
// of the commit, is held across no network round trip. Before, the
// clock's tick, the events' insert, the commit and the position read were
// a round trip each (7 in all, 3 under the lock).
func TestWriteRoundTrips(t *testing.T) {
	env := shared.Env(t)
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: env.Stack.RedisAddr})
	defer rdb.Close()
	var sends atomic.Int64
	// One connection, so the statements' descriptions are cached on it
	// after the first round.
	s, err := store.OpenCountingForTest(ctx, store.Options{PrimaryURL: env.Stack.PrimaryURL, ReplicaURLs: env.Stack.ReplicaURLs,
		Marks: store.RedisMarks{Client: rdb}, PrimaryMaxConns: 1, CheckInterval: 1 << 40}, &sends)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	team := domain.Team{ID: uuid.Must(uuid.NewV7()), Name: "round trips"}
	if _, err := s.CreateTeam(ctx, team, nil); err != nil {
		t.Fatal(err)
	}
	create := func(t *testing.T, ctx context.Context) int64 {
		t.Helper()
		before := sends.Load()
		if _, err := s.CreateJob(ctx, domain.Job{ID: uuid.Must(uuid.NewV7()), TeamID: team.ID, Processor: "export", Params: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		return sends.Load() - before
	}
	caller := domain.WithPrincipal(ctx, &domain.Principal{UserID: uuid.Must(uuid.NewV7())})
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want int64
	}{
		// BEGIN, CreateJob, EnqueueJobDispatch, then LogTeamEvents + COMMIT.
		{"no principal", ctx, 4},
		// The same: the WAL position is read in the commit's round trip.
		{"principal", caller, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			create(t, tc.ctx) // describes the statements on the connection
			if got := create(t, tc.ctx); got != tc.want {
				t.Errorf("creating a job took %d round trips to the primary, want %d", got, tc.want)
			}
		})
	}
	// The job's event was logged, under the team's next id.
	evs := 0
	if err := s.Primary().QueryRow(ctx, "SELECT count(*) FROM team_events WHERE team_id = $1", team.ID).Scan(&evs); err != nil {
		t.Fatal(err)
	}
	if evs != 4 {
		t.Errorf("%d events logged for 4 jobs", evs)
	}
}
