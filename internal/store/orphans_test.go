package store_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/files"
	"github.com/conveyorhq/conveyor/internal/store"
)

// TestReservedUploadObjectIsKnown: a streaming upload writes its object
// before its file row, and the row may wait on the database (the primary
// restarting) for longer than the janitor's grace; while the upload holds
// its reservation the janitor must take the object as known, or it
// removes the object of a file whose row then commits (found by `make
// chaos`: an accepted upload that downloaded as 404).
func TestReservedUploadObjectIsKnown(t *testing.T) {
	env := shared.Env(t)
	ctx := context.Background()
	s, err := store.Open(ctx, store.Options{PrimaryURL: env.Stack.PrimaryURL})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	team := domain.Team{ID: uuid.Must(uuid.NewV7()), Name: "reserved-objects"}
	if _, err := s.CreateTeam(ctx, team, nil); err != nil {
		t.Fatal(err)
	}
	streaming, other := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	if err := s.ReserveStorage(ctx, team.ID, streaming, 1<<20, math.MaxInt64, -1, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	keys := []string{files.ObjectKey(team.ID, streaming), files.ObjectKey(team.ID, other)}
	known, err := s.KnownObjectKeys(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	if !known[keys[0]] || known[keys[1]] {
		t.Fatalf("known %v; want only the reserved upload's object %s", known, keys[0])
	}
}
