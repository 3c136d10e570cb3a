package domain

import (
	"errors"
	"fmt"
	"time"
)

// Code classifies an Error. Each code maps to one HTTP status in httpapi.
type Code string

// The codes an Error may carry.
const (
	CodeInvalid              Code = "invalid"               // the input breaks the contract (400)
	CodeUnauthenticated      Code = "unauthenticated"       // no valid credentials (401)
	CodeUserDisabled         Code = "user_disabled"         // valid credentials of a disabled user (401)
	CodeForbidden            Code = "forbidden"             // the role does not allow it (403)
	CodeNotFound             Code = "not_found"             // no such thing, or not visible to the caller (404)
	CodeMethodNotAllowed     Code = "method_not_allowed"    // the resource does not take this method (405)
	CodeConflict             Code = "conflict"              // the state does not allow it now (409)
	CodePreconditionFailed   Code = "precondition_failed"   // a stale If-Match (412)
	CodePreconditionRequired Code = "precondition_required" // a change that needs If-Match sent without it (428)
	CodeTooLarge             Code = "too_large"             // a body over its limit (413)
	CodeFileTooLarge         Code = "file_too_large"        // a file over its team's file size limit (413)
	CodeQuotaExceeded        Code = "quota_exceeded"        // an upload past its team's storage quota (413)
	CodeRangeNotSatisfiable  Code = "range_not_satisfiable" // a Range outside the resource (416)
	CodeUnsupportedMedia     Code = "unsupported_media"     // a Content-Type the operation does not take (415)
	CodeUnprocessable        Code = "unprocessable"         // well-formed but breaks a rule (422)
	CodeRateLimited          Code = "rate_limited"          // over the caller's rate limit (429)
	CodeUnavailable          Code = "unavailable"           // a dependency is down; try again later (503)
	CodeInternal             Code = "internal"              // a bug or an unexpected failure (500)
)

// FieldError names one offending field of the input: Pointer is a JSON
// pointer into the body, or a parameter's name.
type FieldError struct {
	Pointer string
	Detail  string
}

// Error is the error type of the domain. Message is written for the client;
// Err, when set, is the underlying cause and is only ever logged.
type Error struct {
	Code       Code
	Message    string
	Fields     []FieldError
	RetryAfter time.Duration  // for CodeUnavailable and CodeRateLimited
	Quota      *QuotaExceeded // for CodeQuotaExceeded and CodeFileTooLarge
	Err        error
}

// Error implements error. It includes the cause, so it is for logs only.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an Error with the given code and a client-facing message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an Error with the given code and client-facing message, and
// err as its (logged, never shown) cause.
func Wrap(err error, code Code, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, or
// CodeInternal when there is none (and "" for a nil err).
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// IsNotFound reports whether err carries CodeNotFound.
func IsNotFound(err error) bool { return ErrorCode(err) == CodeNotFound }
