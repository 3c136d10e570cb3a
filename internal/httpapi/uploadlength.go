package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/conveyorhq/conveyor/gen/api"
	"github.com/conveyorhq/conveyor/internal/domain"
)

type declaredLengthKey struct{}

// declaredLength is the Content-Length of the upload request being
// handled, or -1 when it did not say (chunked).
func declaredLength(ctx context.Context) int64 {
	if n, ok := ctx.Value(declaredLengthKey{}).(int64); ok {
		return n
	}
	return -1
}

// uploadLength hands an upload's Content-Length to its handler (the
// generated request object does not carry it), so a file that cannot fit
// is refused before it streams; and when an upload is refused for its
// size, the rest of its body is not waited for (see refuseUnread).
func uploadLength(f api.StrictHandlerFunc, operationID string) api.StrictHandlerFunc {
	if operationID != "UploadFile" {
		return f
	}
	return func(ctx context.Context, w http.ResponseWriter, r *http.Request, req any) (any, error) {
		n := r.ContentLength
		if n < 0 {
			n = -1
		}
		resp, err := f(context.WithValue(ctx, declaredLengthKey{}, n), w, r, req)
		switch domain.ErrorCode(err) {
		case domain.CodeQuotaExceeded, domain.CodeFileTooLarge, domain.CodeTooLarge:
			w.Header().Set("Connection", "close")
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(unreadGrace))
		}
		return resp, err
	}
}
