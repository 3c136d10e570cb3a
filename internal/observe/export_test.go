package observe

// ResetTracing forgets an installed provider, for tests of the off path
// that run after one that installed one.
func ResetTracing() { tracingOn.Store(false) }
