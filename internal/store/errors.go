package store

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// retryAfterUnavailable is what a client is told to wait when the database
// cannot be reached.
const retryAfterUnavailable = 2 * time.Second

// errNotFound is returned for a missing row; callers wrap it with the
// resource's name through notFound.
var errNotFound = errors.New("store: no rows")

// mapErr turns driver errors into domain errors: a missing row into
// errNotFound, an unreachable server into CodeUnavailable, a unique or
// foreign-key violation into CodeConflict. Other errors pass through.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var de *domain.Error
	if errors.As(err, &de) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return errNotFound
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	if isConnErr(err) {
		return &domain.Error{Code: domain.CodeUnavailable, Message: "The database is unavailable; try again shortly.",
			RetryAfter: retryAfterUnavailable, Err: err}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505":
			return domain.Wrap(err, domain.CodeConflict, "It already exists.")
		case "23503":
			return domain.Wrap(err, domain.CodeConflict, "It refers to something that does not exist.")
		case "22021", "22P05": // a NUL or a character the database cannot store
			return domain.Wrap(err, domain.CodeInvalid, "The request holds a character that cannot be stored (NUL, say).")
		case "CV404": // require_live_team(): the team was deleted meanwhile
			return domain.Wrap(err, domain.CodeNotFound, "Team not found.")
		}
	}
	return err
}

// notFound turns errNotFound into a domain not-found error for what.
func notFound(err error, what string) error {
	if errors.Is(err, errNotFound) {
		return domain.Errorf(domain.CodeNotFound, "%s not found.", what)
	}
	return err
}

// isConnErr reports whether err means the server could not be reached or
// dropped the connection (as opposed to an error in the query).
func isConnErr(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P01-57P03: shutting down or not
		// accepting connections; PgBouncer reports a lost server as 08P01.
		if strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03" {
			return true
		}
		return false
	}
	return pgconn.SafeToRetry(err) || strings.Contains(err.Error(), "conn closed") ||
		strings.Contains(err.Error(), "unexpected EOF") || strings.Contains(err.Error(), "connection reset")
}

// isSchemaLag reports whether err says an object of the schema is missing:
// on a replica, that it has not replayed a migration the primary has.
func isSchemaLag(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "42P01", "42703", "42883", "42704": // undefined table, column, function, object
		return true
	}
	return false
}
