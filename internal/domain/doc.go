// Package domain holds Conveyor's vocabulary: the resources (teams, files,
// jobs), the principal making a call and its roles, pagination, and the one
// error type every layer speaks. It imports nothing heavy, so every other
// package can depend on it.
package domain
