package domain

import "time"

// Admission is what one admission round did for a team: how many of its
// waiting runs were handed to the queue (Admitted), sent again because
// they were admitted already (Resent), or dropped because their job was
// final or retried since (Cleared).
type Admission struct {
	Admitted, Resent, Cleared int
	// AtCap reports whether the team's admitted, unfinished jobs filled its
	// cap, with runs still waiting.
	AtCap bool
	// AheadFull reports whether the team's admitted jobs not started yet
	// filled AdmitLimits.Ahead, with runs still waiting.
	AheadFull bool
	// Busy reports whether another admitter held the team: nothing was done.
	Busy bool
	// More reports whether runs may be waiting that this round left for the
	// next (it stopped at its limit).
	More bool
	// Waits are how long each admitted run waited for admission.
	Waits []time.Duration
}

// Progress reports whether the round changed anything.
func (a Admission) Progress() bool { return a.Admitted+a.Resent+a.Cleared > 0 }

// Again reports whether another round right away could admit more.
func (a Admission) Again() bool { return a.More && a.Progress() && !a.AtCap && !a.AheadFull }

// AdmitLimits bound an admission round.
type AdmitLimits struct {
	// DefaultCap is the cap on running jobs of a team with none of its own.
	DefaultCap int
	// Ahead bounds a team's admitted jobs not started yet: what waits in
	// the queue, ahead of other teams' jobs.
	Ahead int
	// Batch bounds the runs one round admits.
	Batch int
}
