package events

import "context"

// LogSkip exposes how a hub logs an event it cannot read.
func (h *Hub) LogSkip(what string, err error) { h.logSkip(what, err) }

// Handle hands the hub one message of its channels, as Run does.
func (h *Hub) Handle(ctx context.Context, channel, msg string) { h.handle(ctx, channel, msg) }
