package idempotency

import "time"

// SetReleaseWait shortens the wait before a failed release is tried again.
func (s *Service) SetReleaseWait(d time.Duration) { s.releaseWait = d }
