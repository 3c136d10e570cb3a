package domain_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// TestAPIKeyETagIgnoresLastUse: a key's use (telemetry) does not change
// its version, so an If-Match revoke of a busy key succeeds; a rename, a
// role change or a revocation does.
func TestAPIKeyETagIgnoresLastUse(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	k := domain.APIKey{ID: uuid.New(), Name: "sync", Role: domain.TeamRole("member"), CreatedAt: at}
	tag := k.ETag()
	used := k
	used.LastUsedAt = &at
	if used.ETag() != tag {
		t.Fatal("the ETag changed when only last_used_at did")
	}
	if err := domain.CheckIfMatch(&tag, used.ETag()); err != nil {
		t.Fatalf("If-Match with the tag read before use: %v", err)
	}
	renamed, revoked := k, k
	renamed.Name = "other"
	revoked.RevokedAt = &at
	for name, v := range map[string]domain.APIKey{"renamed": renamed, "revoked": revoked} {
		if v.ETag() == tag {
			t.Errorf("%s: the ETag did not change", name)
		}
	}
}
