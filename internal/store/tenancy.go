package store

import (
	"context"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/gen/db"
	"github.com/conveyorhq/conveyor/internal/domain"
)

// auditedJobIDs bounds how many cancelled jobs a deletion's audit event names.
const auditedJobIDs = 100

// DeleteTeam deletes a live team in one transaction: the team is locked
// (waiting for any transaction still adding to it), check sees it as it is
// and may refuse, then it is marked deleted, its memberships and
// invitations end, its keys are revoked, its queued and running jobs are
// cancelled, and the deletion is audited. Every member's and key's read
// position moves past the deletion, so none of them is let in by a replica
// that has not replayed it. It returns the jobs it cancelled. The team's
// objects and rows are removed later by the worker (PurgeTeamRows).
func (s *Store) DeleteTeam(ctx context.Context, id uuid.UUID, check func(current domain.Team) error) ([]domain.Job, error) {
	var cancelled []domain.Job
	err := s.writeEvents(ctx, func(q *db.Queries, log *eventLog) ([]string, error) {
		row, err := q.LockLiveTeamForUpdate(ctx, id)
		if err != nil {
			return nil, notFound(mapErr(err), "Team")
		}
		cur := teamFromRow(row)
		if check != nil {
			if err := check(cur); err != nil {
				return nil, err
			}
		}
		if err := q.MarkTeamDeleted(ctx, id); err != nil {
			return nil, err
		}
		users, err := q.DeleteTeamMemberships(ctx, id)
		if err != nil {
			return nil, err
		}
		prefixes, err := q.RevokeTeamAPIKeys(ctx, id)
		if err != nil {
			return nil, err
		}
		jobs, err := q.CancelTeamJobs(ctx, id)
		if err != nil {
			return nil, err
		}
		cancelled = mapSlice(jobs, jobFromRow)
		for _, j := range cancelled {
			log.add(domain.JobEvent(j))
		}
		ids := make([]string, 0, min(len(cancelled), auditedJobIDs))
		for _, j := range cancelled[:min(len(cancelled), auditedJobIDs)] {
			ids = append(ids, j.ID.String())
		}
		touched := make([]string, 0, len(users)+len(prefixes))
		for _, u := range users {
			touched = append(touched, userKey(u))
		}
		for _, p := range prefixes {
			touched = append(touched, domain.APIKeyPrincipalKey(p))
		}
		return touched, s.audit(ctx, q, id, domain.Audit{Action: "team.deleted", TargetType: "team", TargetID: id.String(),
			Details: map[string]any{"name": cur.Name, "memberships_ended": len(users), "api_keys_revoked": len(prefixes),
				"jobs_cancelled": len(cancelled), "cancelled_job_ids": ids}})
	})
	if err != nil {
		return nil, err
	}
	return cancelled, nil
}

// TeamsToPurge returns up to limit deleted teams whose objects and rows
// are not yet all removed, oldest deletion first.
func (s *Store) TeamsToPurge(ctx context.Context, limit int) ([]uuid.UUID, error) {
	var rows []db.Team
	err := s.readPrimary(ctx, func(q *db.Queries) (err error) {
		rows, err = q.ListTeamsToPurge(ctx, int32(limit))
		return err
	})
	return mapSlice(rows, func(r db.Team) uuid.UUID { return r.ID }), err
}

// TeamOpenUploads returns up to limit of a team's direct uploads neither
// completed nor aborted.
func (s *Store) TeamOpenUploads(ctx context.Context, teamID uuid.UUID, limit int) ([]domain.Upload, error) {
	var rows []db.Upload
	err := s.readPrimary(ctx, func(q *db.Queries) (err error) {
		rows, err = q.ListTeamOpenUploads(ctx, db.ListTeamOpenUploadsParams{TeamID: teamID, Limit: int32(limit)})
		return err
	})
	return mapSlice(rows, uploadFromRow), err
}

// PurgeTeamRows removes, in one transaction, the rows a deleted team
// left: jobs (with their outputs and dispatch records), uploads, files,
// keys and memberships. The team's row and audit trail stay. It refuses a
// live team.
func (s *Store) PurgeTeamRows(ctx context.Context, teamID uuid.UUID) error {
	return s.write(ctx, func(q *db.Queries) error {
		if _, err := q.LockLiveTeam(ctx, teamID); err == nil {
			return domain.Errorf(domain.CodeConflict, "The team is not deleted.")
		} else if mapErr(err) != errNotFound {
			return err
		}
		for _, purge := range []func(context.Context, uuid.UUID) error{
			q.PurgeTeamJobs, q.PurgeTeamUploads, q.PurgeTeamFiles, q.PurgeTeamAPIKeys, q.PurgeTeamWebhooks, q.PurgeTeamMemberships, q.PurgeTeamReservations,
		} {
			if err := purge(ctx, teamID); err != nil {
				return err
			}
		}
		return nil
	})
}

// MarkTeamPurged records that nothing of a deleted team is left but its
// row and audit trail.
func (s *Store) MarkTeamPurged(ctx context.Context, teamID uuid.UUID) error {
	return s.write(ctx, func(q *db.Queries) error { return q.MarkTeamPurged(ctx, teamID) })
}
