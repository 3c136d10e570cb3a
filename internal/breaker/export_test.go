package breaker

// Answered exposes the classification of errors to the tests.
var Answered = answered
