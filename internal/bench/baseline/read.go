// Package baseline holds the benchmark's baselines: the leanest programs
// that do the same work as a Conveyor path, so `make bench` can print
// Conveyor's figure next to theirs, measured in the same run.
//
// Read is a hand-written net/http + pgx service that verifies the same
// access token with go-oidc (against the dev issuer Conveyor serves) and
// reads the same rows from the same replica through the same PgBouncer as
// GET /teams/{team_id} and GET /teams/{team_id}/files do. It has no rate
// limit, no read-your-writes routing, no request validation, no logs and
// no metrics: what those cost is the gap the benchmark shows.
package baseline

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ReadOptions configures ServeRead.
type ReadOptions struct {
	Addr        string // host:port to listen on
	Issuer      string // the OIDC issuer whose tokens are accepted
	Audience    string
	DatabaseURL string // the replica, through PgBouncer
}

// ServeRead serves GET /teams/{team_id}, GET /teams/{team_id}/files and
// /healthz on o.Addr until ctx ends.
func ServeRead(ctx context.Context, o ReadOptions) error {
	cfg, err := pgxpool.ParseConfig(o.DatabaseURL)
	if err != nil {
		return err
	}
	// As Conveyor's pools do behind PgBouncer in transaction mode.
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	provider, err := oidc.NewProvider(ctx, o.Issuer)
	if err != nil {
		return err
	}
	s := &readService{db: db, verifier: provider.Verifier(&oidc.Config{ClientID: o.Audience})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /teams/{team_id}", s.getTeam)
	mux.HandleFunc("GET /teams/{team_id}/files", s.listFiles)
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type readService struct {
	db       *pgxpool.Pool
	verifier *oidc.IDTokenVerifier
}

// auth verifies the bearer token; it answers 401 and reports false when
// it does not verify.
func (s *readService) auth(w http.ResponseWriter, r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if ok {
		if _, err := s.verifier.Verify(r.Context(), tok); err == nil {
			return true
		}
	}
	http.Error(w, "unauthorized", http.StatusUnauthorized)
	return false
}

type team struct {
	ID        uuid.UUID `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Usage     struct {
		FileCount     int64 `json:"file_count"`
		FileBytes     int64 `json:"file_bytes"`
		OutputBytes   int64 `json:"output_bytes"`
		JobsQueued    int64 `json:"jobs_queued"`
		JobsRunning   int64 `json:"jobs_running"`
		JobsSucceeded int64 `json:"jobs_succeeded"`
		JobsFailed    int64 `json:"jobs_failed"`
		JobsCancelled int64 `json:"jobs_cancelled"`
	} `json:"usage"`
}

func (s *readService) getTeam(w http.ResponseWriter, r *http.Request) {
	if !s.auth(w, r) {
		return
	}
	id, err := uuid.Parse(r.PathValue("team_id"))
	if err != nil {
		http.Error(w, "bad team id", http.StatusBadRequest)
		return
	}
	var t team
	u := &t.Usage
	err = s.db.QueryRow(r.Context(), `SELECT t.id, t.name, t.created_at, t.updated_at, u.file_count, u.file_bytes, u.output_bytes,
       u.jobs_queued, u.jobs_running, u.jobs_succeeded, u.jobs_failed, u.jobs_cancelled
FROM teams t JOIN team_usage u ON u.team_id = t.id
WHERE t.id = $1 AND t.deleted_at IS NULL`, id).Scan(&t.ID, &t.Name, &t.CreatedAt, &t.UpdatedAt,
		&u.FileCount, &u.FileBytes, &u.OutputBytes, &u.JobsQueued, &u.JobsRunning, &u.JobsSucceeded, &u.JobsFailed, &u.JobsCancelled)
	if errors.Is(err, pgx.ErrNoRows) {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, t)
}

type file struct {
	ID          uuid.UUID  `json:"id"`
	TeamID      uuid.UUID  `json:"team_id"`
	Name        string     `json:"name"`
	Size        int64      `json:"size"`
	SHA256      string     `json:"sha256"`
	ContentType string     `json:"content_type"`
	CreatedBy   *uuid.UUID `json:"created_by,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
}

func (s *readService) listFiles(w http.ResponseWriter, r *http.Request) {
	if !s.auth(w, r) {
		return
	}
	id, err := uuid.Parse(r.PathValue("team_id"))
	if err != nil {
		http.Error(w, "bad team id", http.StatusBadRequest)
		return
	}
	limit := 20
	if v := r.URL.Query().Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 100 {
			http.Error(w, "bad limit", http.StatusBadRequest)
			return
		}
	}
	rows, err := s.db.Query(r.Context(), `SELECT id, team_id, name, size, sha256, content_type, created_by, created_at
FROM files WHERE team_id = $1 AND deleted_at IS NULL ORDER BY id DESC LIMIT $2`, id, limit)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (file, error) {
		var f file
		err := row.Scan(&f.ID, &f.TeamID, &f.Name, &f.Size, &f.SHA256, &f.ContentType, &f.CreatedBy, &f.CreatedAt)
		return f, err
	})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, struct {
		Items      []file  `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}{items, nil})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
