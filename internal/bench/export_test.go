package bench

// TestHooks are the runner's test hooks (runner.go, testHooks), for this
// package's external tests.
type TestHooks struct {
	Claimed  func(upn string)
	Counted  func(n int)
	Requeued func(upn string)
}

// SetTestHooks sets r's test hooks; call it before r runs.
func SetTestHooks(r *Runner, h TestHooks) {
	r.hooks = testHooks{claimed: h.Claimed, counted: h.Counted, requeued: h.Requeued}
}
