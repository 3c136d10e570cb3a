package files

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// UsageStore is what the usage reconciler needs from the database.
type UsageStore interface {
	// ReconcileUsage recounts the counters of up to limit live teams after
	// the id after, dropping their stale reservations, and returns the
	// ones that had drifted and the last team id it looked at (nil: none
	// left).
	ReconcileUsage(ctx context.Context, after *uuid.UUID, limit int) ([]domain.UsageDrift, *uuid.UUID, error)
}

// UsageReconciler keeps the teams' storage counters true to their rows:
// every Interval it walks every live team, drops the reservations of
// uploads whose process died (past their expiry), and sets each counter
// to what the rows say, logging any drift it corrected.
type UsageReconciler struct {
	Store    UsageStore
	Interval time.Duration
	Logger   *slog.Logger
}

// usageBatch is how many teams one transaction recounts.
const usageBatch = 50

// Pass recounts every live team once and returns the teams it corrected.
func (u *UsageReconciler) Pass(ctx context.Context) ([]domain.UsageDrift, error) {
	var (
		all   []domain.UsageDrift
		after *uuid.UUID
	)
	for {
		drift, last, err := u.Store.ReconcileUsage(ctx, after, usageBatch)
		all = append(all, drift...)
		if err != nil || last == nil {
			return all, err
		}
		after = last
	}
}

// Run passes every Interval until ctx is done.
func (u *UsageReconciler) Run(ctx context.Context) {
	t := time.NewTicker(u.Interval)
	defer t.Stop()
	for {
		drift, err := u.Pass(ctx)
		if err != nil && ctx.Err() == nil && u.Logger != nil {
			u.Logger.Warn("usage: reconcile", "err", err)
		}
		for _, d := range drift {
			if u.Logger != nil {
				u.Logger.Warn("usage: corrected a team's counters", "team_id", d.TeamID,
					"files", d.Now.FileCount, "files_were", d.Was.FileCount,
					"file_bytes", d.Now.FileBytes, "file_bytes_were", d.Was.FileBytes,
					"output_bytes", d.Now.OutputBytes, "output_bytes_were", d.Was.OutputBytes,
					"reserved_bytes", d.Now.ReservedBytes, "reserved_bytes_were", d.Was.ReservedBytes)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
