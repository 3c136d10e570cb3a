package store_test

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/store"
)

// BenchmarkGetTeamHTTP measures GET /teams/{id} through the whole API
// (16 concurrent clients) with reads routed to the replicas, against the
// same endpoint served by an API process whose store is pinned to the
// primary (no replicas configured): the baseline.
func BenchmarkGetTeamHTTP(b *testing.B) {
	env := shared.Env(b)
	admin := newCaller(b, env.URL, "bench-admin", true)
	team := admin.createTeam("Bench")
	if err := env.Stack.WaitReplicasCaughtUp(context.Background()); err != nil {
		b.Fatal(err)
	}
	pinned := env.StartAPI(b, map[string]string{"CONVEYOR_DATABASE_REPLICA_URLS": ""})
	for _, bc := range []struct{ name, base string }{{"routed", env.URL}, {"primary-only", pinned}} {
		b.Run(bc.name, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			url := bc.base + "/api/v1/teams/" + team
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest("GET", url, nil)
					req.Header.Set("Authorization", "Bearer "+admin.token)
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}

// BenchmarkStoreRead measures one read through the store: routed for a
// principal with a write position (a Redis lookup, then a replica), routed
// for an anonymous caller, and pinned to the primary (the baseline). The
// "route-only" case is the routing decision alone.
func BenchmarkStoreRead(b *testing.B) {
	env := shared.Env(b)
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: env.Stack.RedisAddr})
	defer rdb.Close()
	routed, err := store.Open(ctx, store.Options{PrimaryURL: env.Stack.PrimaryURL, ReplicaURLs: env.Stack.ReplicaURLs, Marks: store.RedisMarks{Client: rdb}})
	if err != nil {
		b.Fatal(err)
	}
	defer routed.Close()
	pinned, err := store.Open(ctx, store.Options{PrimaryURL: env.Stack.PrimaryURL})
	if err != nil {
		b.Fatal(err)
	}
	defer pinned.Close()
	// A store whose "primary" is a replica: the cost of a standby query with
	// no routing at all, to tell the router's cost from the replica's.
	onReplica, err := store.Open(ctx, store.Options{PrimaryURL: env.Stack.ReplicaURLs[0]})
	if err != nil {
		b.Fatal(err)
	}
	defer onReplica.Close()
	oneReplica, err := store.Open(ctx, store.Options{PrimaryURL: env.Stack.PrimaryURL, ReplicaURLs: env.Stack.ReplicaURLs[:1]})
	if err != nil {
		b.Fatal(err)
	}
	defer oneReplica.Close()
	id, _ := uuid.NewV7()
	p := &domain.Principal{UserID: uuid.New()}
	pctx := domain.WithPrincipal(ctx, p)
	if _, err := routed.CreateTeam(pctx, domain.Team{ID: id, Name: "bench"}, nil); err != nil {
		b.Fatal(err)
	}
	if err := env.Stack.WaitReplicasCaughtUp(ctx); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		s    *store.Store
		ctx  context.Context
	}{{"routed-principal", routed, pctx}, {"routed-anonymous", routed, ctx}, {"primary-only", pinned, pctx}, {"replica-only", onReplica, pctx}, {"routed-one-replica", oneReplica, ctx}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := bc.s.Team(bc.ctx, id); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("route-only-principal", func(b *testing.B) {
		for b.Loop() {
			if routed.RouteForTest(pctx) < 2 {
				b.Fatal("no replica candidate")
			}
		}
	})
	b.Run("route-only-anonymous", func(b *testing.B) {
		for b.Loop() {
			routed.RouteForTest(ctx)
		}
	})
}
