package jobs

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/processors"
)

func TestClassify(t *testing.T) {
	tooLarge := &domain.Error{Code: domain.CodeTooLarge, Message: "The job's outputs would be larger than 1.0 GiB.", Err: processors.ErrOutputTooLarge}
	for _, tc := range []struct {
		err       error
		code      string
		retryable bool
	}{
		{tooLarge, "output_too_large", false},
		{fmt.Errorf("store output rows.jsonl: %w", tooLarge), "output_too_large", false},
		{domain.Errorf(domain.CodeUnprocessable, "bad CSV"), "invalid_input", false},
		{domain.Errorf(domain.CodeUnavailable, "S3 down"), "unavailable", true},
		{domain.Errorf(domain.CodeNotFound, "gone"), "input_missing", false},
		{context.DeadlineExceeded, "timeout", true},
		{errors.New("boom"), "processor_error", true},
	} {
		if code, retryable := classify(tc.err); code != tc.code || retryable != tc.retryable {
			t.Errorf("classify(%v) = %s, %v; want %s, %v", tc.err, code, retryable, tc.code, tc.retryable)
		}
	}
}
