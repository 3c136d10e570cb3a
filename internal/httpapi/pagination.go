package httpapi

import (
	"encoding/base64"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/gen/api"
	"github.com/conveyorhq/conveyor/internal/domain"
)

const defaultLimit = 20

// pageRequest turns the generated limit and cursor parameters into a domain
// page request. Cursors are opaque to clients: base64url of the last id.
func pageRequest(limit *api.Limit, cursor *api.Cursor) (domain.PageRequest, error) {
	pr := domain.PageRequest{Limit: defaultLimit}
	if limit != nil {
		pr.Limit = int(*limit)
	}
	if cursor != nil {
		b, err := base64.RawURLEncoding.DecodeString(*cursor)
		if err != nil || len(b) != 16 {
			return pr, badCursor()
		}
		id, err := uuid.FromBytes(b)
		if err != nil {
			return pr, badCursor()
		}
		pr.After = &id
	}
	return pr, nil
}

func badCursor() error {
	return &domain.Error{Code: domain.CodeInvalid, Message: "The cursor is not one this API returned.",
		Fields: []domain.FieldError{{Pointer: "cursor", Detail: "not a cursor from next_cursor"}}}
}

// nextCursor encodes a page's continuation.
func nextCursor(next *uuid.UUID) *string {
	if next == nil {
		return nil
	}
	s := base64.RawURLEncoding.EncodeToString(next[:])
	return &s
}

// pageOut maps a domain page to a generated list's items and cursor.
func pageOut[T, U any](p domain.Page[T], f func(T) U) ([]U, *string) {
	items := make([]U, len(p.Items))
	for i, v := range p.Items {
		items[i] = f(v)
	}
	return items, nextCursor(p.Next)
}
