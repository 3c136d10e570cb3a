package users_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/users"
)

// BenchmarkGate measures what the disabled-user check adds to
// authenticating a request, side by side with the same authenticator
// unwrapped (compare the two as a ratio): a map lookup under a mutex, with
// 10,000 users disabled.
func BenchmarkGate(b *testing.B) {
	ids := make([]uuid.UUID, 10_000)
	for i := range ids {
		ids[i] = uuid.New()
	}
	g := &users.Gate{Store: &listing{ids: ids}}
	if err := g.Reload(context.Background()); err != nil {
		b.Fatal(err)
	}
	base := fixedAuth{&domain.Principal{UserID: uuid.New()}}
	for _, c := range []struct {
		name string
		a    users.Authenticator
	}{{"baseline", base}, {"gated", g.Wrap(base)}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.a.Authenticate(ctx, "t"); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
