package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/gen/api"
	"github.com/conveyorhq/conveyor/internal/domain"
)

const (
	defaultLimit  = 20
	cursorVersion = 1
	cursorMACLen  = 12
)

// cursors signs pagination cursors. A cursor is opaque to clients: version,
// the last id of the page, and an HMAC over them and the list it belongs
// to (operation and team), so a forged, altered or transplanted cursor is
// refused.
type cursors struct {
	key []byte
}

func (c cursors) mac(scope string, id uuid.UUID) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte{cursorVersion})
	m.Write([]byte(scope))
	m.Write([]byte{0})
	m.Write(id[:])
	return m.Sum(nil)[:cursorMACLen]
}

// encode returns the cursor continuing after id in the list scope.
func (c cursors) encode(scope string, id uuid.UUID) string {
	b := make([]byte, 0, 1+16+cursorMACLen)
	b = append(b, cursorVersion)
	b = append(b, id[:]...)
	b = append(b, c.mac(scope, id)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decode returns the id a cursor of the list scope continues after.
func (c cursors) decode(scope, s string) (uuid.UUID, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 1+16+cursorMACLen || b[0] != cursorVersion {
		return uuid.Nil, badCursor()
	}
	id, _ := uuid.FromBytes(b[1:17])
	if !hmac.Equal(b[17:], c.mac(scope, id)) {
		return uuid.Nil, badCursor()
	}
	return id, nil
}

// page turns the generated limit and cursor parameters of the list scope
// into a domain page request.
func (s *Server) page(scope string, limit *api.Limit, cursor *api.Cursor) (domain.PageRequest, error) {
	pr := domain.PageRequest{Limit: defaultLimit}
	if limit != nil {
		pr.Limit = int(*limit)
	}
	if cursor != nil {
		id, err := s.cursors.decode(scope, *cursor)
		if err != nil {
			return pr, err
		}
		pr.After = &id
	}
	return pr, nil
}

func badCursor() error {
	return &domain.Error{Code: domain.CodeInvalid, Message: "The cursor is not one this list returned.",
		Fields: []domain.FieldError{{Pointer: "cursor", Detail: "not a next_cursor of this list"}}}
}

// pageOut maps a domain page of the list scope to a generated list's items
// and next cursor.
func pageOut[T, U any](s *Server, scope string, p domain.Page[T], f func(T) U) ([]U, *string) {
	items := make([]U, len(p.Items))
	for i, v := range p.Items {
		items[i] = f(v)
	}
	if p.Next == nil {
		return items, nil
	}
	next := s.cursors.encode(scope, *p.Next)
	return items, &next
}
