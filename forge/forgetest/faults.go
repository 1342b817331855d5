package forgetest

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Fault is one way a host fails a call, as GitHub and GitLab do.
type Fault struct {
	Status int // 500, 502, 429, or 403 for GitHub's secondary rate limit
	// RetryAfter, when positive, is sent as the Retry-After header (seconds).
	RetryAfter int
	// Delay answers only after this long (a slow host).
	Delay time.Duration
	// Done: the host did the work, then answered the failure (a 502 from
	// a proxy after the write went through).
	Done bool
}

// Common faults.
var (
	ServerError    = Fault{Status: http.StatusInternalServerError}
	BadGateway     = Fault{Status: http.StatusBadGateway}
	TooManyRequest = Fault{Status: http.StatusTooManyRequests, RetryAfter: 1}
	SecondaryLimit = Fault{Status: http.StatusForbidden, RetryAfter: 1}
)

// Faults makes a fake host fail: the next N calls of a route, or a
// fraction of all calls. The zero value fails nothing; safe for concurrent use.
type Faults struct {
	mu       sync.Mutex
	next     map[string][]Fault // "METHOD path" -> faults to answer, in order
	fraction float64
	pool     []Fault
	rng      *rand.Rand
	// Injected counts the faults answered.
	injected int
}

// FailNext makes the next len(f) calls of key ("METHOD path") fail with f.
func (f *Faults) FailNext(key string, faults ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.next == nil {
		f.next = map[string][]Fault{}
	}
	f.next[key] = append(f.next[key], faults...)
}

// FailFraction makes each API call fail with probability p, with one of
// faults chosen at random (seeded: the same sequence every run).
func (f *Faults) FailFraction(p float64, seed uint64, faults ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fraction, f.pool, f.rng = p, faults, rand.New(rand.NewPCG(seed, seed))
}

// Injected returns how many faults were answered.
func (f *Faults) Injected() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.injected
}

// Take returns the fault for a call of key, if it is to fail.
func (f *Faults) Take(key string) (Fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if q := f.next[key]; len(q) > 0 {
		f.next[key] = q[1:]
		f.injected++
		return q[0], true
	}
	if f.fraction > 0 && len(f.pool) > 0 && f.rng.Float64() < f.fraction {
		f.injected++
		return f.pool[f.rng.IntN(len(f.pool))], true
	}
	return Fault{}, false
}

// Write answers a fault the way the host does; message is the host's text
// for a secondary rate limit (403).
func (fl Fault) Write(w http.ResponseWriter, message string) {
	time.Sleep(fl.Delay)
	if fl.Status == 0 {
		return
	}
	if fl.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(fl.RetryAfter))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(fl.Status)
	msg := http.StatusText(fl.Status)
	if fl.Status == http.StatusForbidden {
		msg = message
	}
	json.NewEncoder(w).Encode(map[string]string{"message": msg}) //nolint:errcheck // a test server's answer
}
