package jobs

import (
	"context"
	"errors"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/processors"
)

// classify names a processor failure and says whether retrying may help.
func classify(err error) (string, bool) {
	if errors.Is(err, processors.ErrOutputTooLarge) { // the same input makes the same outputs
		return "output_too_large", false
	}
	switch domain.ErrorCode(err) {
	case domain.CodeUnavailable:
		return "unavailable", true
	case domain.CodeNotFound:
		return "input_missing", false
	case domain.CodeInvalid, domain.CodeUnprocessable:
		return "invalid_input", false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout", true
	}
	return "processor_error", true
}

// publicMessage is what a client may read of a processor failure: the
// message of a domain error, or a generic sentence.
func publicMessage(err error) string {
	var de *domain.Error
	if errors.As(err, &de) {
		return de.Message
	}
	return "The processor failed."
}
