package chaos

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/conveyorhq/conveyor/internal/events"
)

// settle waits (up to o.Settle) for the accepted jobs to reach a final
// state and for every stream to have caught up with its team's log, then
// stops the subscribers.
func (r *run) settle(ctx context.Context) {
	defer func() {
		r.rep.stopSubs()
		r.rep.subsDone()
	}()
	deadline := time.Now().Add(r.o.Settle)
	conn, err := connectUntil(ctx, r.t.PrimaryURL(), deadline)
	if err != nil {
		r.rep.checkErrors = append(r.rep.checkErrors, "settle: "+err.Error())
		return
	}
	defer conn.Close(ctx)
	ids := make([]uuid.UUID, 0, len(r.jobs))
	for _, j := range r.jobs {
		ids = append(ids, j.job)
	}
	for time.Now().Before(deadline) {
		var open int
		err := conn.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE id = ANY($1) AND status NOT IN ('succeeded', 'failed', 'cancelled')`, ids).Scan(&open)
		if err == nil && open == 0 {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	r.rep.SettleJobs = time.Since(deadline.Add(-r.o.Settle))
	// Streams: each must have seen its team's newest event (the relay
	// and the fan-out lag a little); at most 20 s more.
	caught := time.Now().Add(20 * time.Second)
	for time.Now().Before(caught) {
		hist, err := history(ctx, conn, r.teams)
		if err == nil && r.caughtUp(hist) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (r *run) caughtUp(hist map[uuid.UUID][]events.ID) bool {
	for _, s := range r.subs {
		h := hist[s.team]
		if len(h) == 0 {
			continue
		}
		s.mu.Lock()
		behind := s.last.Less(h[len(h)-1])
		s.mu.Unlock()
		if behind {
			return false
		}
	}
	return true
}

func connectUntil(ctx context.Context, url string, deadline time.Time) (*pgx.Conn, error) {
	for {
		conn, err := pgx.Connect(ctx, url)
		if err == nil || time.Now().After(deadline) {
			return conn, err
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// verify checks what the clients were promised and fills the report.
func (r *run) verify(ctx context.Context) error {
	rep := r.rep
	rep.calls = r.rec.snapshot()
	rep.faults = r.faults
	conn, err := pgx.Connect(ctx, r.t.PrimaryURL())
	if err != nil {
		return err
	}
	defer conn.Close(ctx)

	// Uploads: each accepted one downloads with the SHA-256 of what was sent.
	rep.UploadsAccepted = len(r.uploads)
	var mu sync.Mutex
	var wg sync.WaitGroup
	work := make(chan upload)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				problem := r.download(ctx, u)
				mu.Lock()
				if problem == "" {
					rep.UploadsIntact++
				} else {
					rep.lost = append(rep.lost, fmt.Sprintf("upload %s (%s, %d bytes): %s", u.file, u.op, u.size, problem))
				}
				mu.Unlock()
			}
		}()
	}
	for _, u := range r.uploads {
		work <- u
	}
	close(work)
	wg.Wait()

	// Jobs: each accepted one succeeded.
	rep.JobsAccepted = len(r.jobs)
	ids := make([]uuid.UUID, 0, len(r.jobs))
	for _, j := range r.jobs {
		ids = append(ids, j.job)
	}
	rows, err := conn.Query(ctx, `SELECT id, status FROM jobs WHERE id = ANY($1)`, ids)
	if err != nil {
		return err
	}
	status := map[uuid.UUID]string{}
	for rows.Next() {
		var id uuid.UUID
		var st string
		if err := rows.Scan(&id, &st); err != nil {
			return err
		}
		status[id] = st
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, j := range r.jobs {
		switch st := status[j.job]; st {
		case "succeeded":
			rep.JobsSucceeded++
		case "":
			rep.lost = append(rep.lost, fmt.Sprintf("job %s: accepted but not in the database", j.job))
		default:
			rep.lost = append(rep.lost, fmt.Sprintf("job %s: %s", j.job, st))
		}
	}
	if err := r.duplicates(ctx, conn); err != nil {
		return err
	}

	// Events: each stream holds every event its team logged from its
	// first event on.
	hist, err := history(ctx, conn, r.teams)
	if err != nil {
		return err
	}
	for _, s := range r.subs {
		s.mu.Lock()
		rep.Subscribers++
		rep.EventsReceived += s.received
		rep.Resumes += s.resumes
		rep.Reconnects += s.reconnects
		rep.Resets += s.resets
		rep.Repeats += s.repeats
		rep.streamErrors = append(rep.streamErrors, s.errs...)
		if s.received == 0 {
			rep.SilentStreams++
		}
		for _, id := range hist[s.team] {
			if s.received > 0 && !id.Less(s.first) && !s.got[id.String()] {
				rep.EventsMissed++
				if len(rep.missed) < 20 {
					rep.missed = append(rep.missed, fmt.Sprintf("team %s event %s (stream from %s to %s)", s.team, id, s.first, s.last))
				}
			}
		}
		s.mu.Unlock()
	}
	for _, h := range hist {
		rep.EventsLogged += len(h)
	}
	return nil
}

// download fetches u through the API (as a client would: the redirect to
// storage) and says what is wrong with it, or "".
func (r *run) download(ctx context.Context, u upload) string {
	var problem string
	err := r.rec.do(ctx, "verify.download", func(ctx context.Context) error {
		body, err := r.admin.OpenFile(ctx, u.team, u.file)
		if err != nil {
			return err
		}
		defer body.Close()
		h := sha256.New()
		n, err := io.Copy(h, body)
		if err != nil {
			return err
		}
		switch got := hex.EncodeToString(h.Sum(nil)); {
		case n != u.size:
			problem = fmt.Sprintf("downloads %d bytes", n)
		case got != u.sha256:
			problem = "content differs from what was sent (SHA-256 " + got + ")"
		case !strings.EqualFold(u.server, u.sha256):
			problem = "the API answered SHA-256 " + u.server + " for what was sent"
		}
		return nil
	})
	if err != nil {
		return "download failed: " + err.Error()
	}
	return problem
}

// duplicates counts effects that happened twice: jobs or files beyond
// those the clients were answered (a retried creation that created
// again), and jobs with outputs from more than one attempt.
func (r *run) duplicates(ctx context.Context, conn *pgx.Conn) error {
	rep := r.rep
	var jobsInDB, filesInDB int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE team_id = ANY($1)`, r.teams).Scan(&jobsInDB); err != nil {
		return err
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM files WHERE team_id = ANY($1)`, r.teams).Scan(&filesInDB); err != nil {
		return err
	}
	failedJobs, failedUploads := 0, 0
	for _, c := range rep.calls {
		switch {
		case c.ok:
		case c.op == "createJob":
			failedJobs++
		case strings.HasPrefix(c.op, "upload."):
			failedUploads++
		}
	}
	rep.JobsInDB, rep.FilesInDB = jobsInDB, filesInDB
	if extra := jobsInDB - len(r.jobs) - failedJobs; extra > 0 {
		rep.DuplicatedEffects += extra
		rep.duplicated = append(rep.duplicated, fmt.Sprintf("%d jobs in the database beyond the %d accepted and %d refused submissions", extra, len(r.jobs), failedJobs))
	}
	if extra := filesInDB - len(r.uploads) - failedUploads; extra > 0 {
		rep.DuplicatedEffects += extra
		rep.duplicated = append(rep.duplicated, fmt.Sprintf("%d files in the database beyond the %d accepted and %d failed uploads", extra, len(r.uploads), failedUploads))
	}
	rows, err := conn.Query(ctx, `
SELECT o.job_id, count(DISTINCT split_part(o.object_key, '/', 5))
FROM job_outputs o JOIN jobs j ON j.id = o.job_id
WHERE j.team_id = ANY($1) GROUP BY o.job_id HAVING count(DISTINCT split_part(o.object_key, '/', 5)) > 1`, r.teams)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return err
		}
		rep.DuplicatedEffects++
		rep.duplicated = append(rep.duplicated, fmt.Sprintf("job %s has outputs of %d attempts", id, n))
	}
	return rows.Err()
}
