package vmgate

import (
	"errors"
	"fmt"
)

// Sentinel errors, one per reason the gate gives for "no". Test with errors.Is:
//
//	if errors.Is(err, vmgate.ErrVMMExited) { ... }
var (
	// ErrBadRequest: the query was malformed (a bug in the caller); the message names the parameter.
	ErrBadRequest = errors.New("vmgate: bad-request")
	// ErrNetnsNotFound: no slot namespace of that name (or it vanished mid-wait).
	ErrNetnsNotFound = errors.New("vmgate: netns-not-found")
	// ErrIfaceNotFound: the namespace has no such interface (or it vanished mid-wait).
	ErrIfaceNotFound = errors.New("vmgate: iface-not-found")
	// ErrIfaceAdminDown: the tap is administratively down; carrier can never come.
	ErrIfaceAdminDown = errors.New("vmgate: iface-admin-down")
	// ErrVMMExited: the VMM process given as PID is gone before the tap got carrier.
	ErrVMMExited = errors.New("vmgate: vmm-exited")
	// ErrHostNotReady: the host gate says no; the message names the failing checks.
	ErrHostNotReady = errors.New("vmgate: host-not-ready")
	// ErrStarting: the gate had not finished its first look at the host before the context's deadline.
	ErrStarting = errors.New("vmgate: starting")
	// ErrTooManyWaiters: the gate's cap on waits in flight was reached.
	ErrTooManyWaiters = errors.New("vmgate: too-many-waiters")
	// ErrShuttingDown: the gate is stopping.
	ErrShuttingDown = errors.New("vmgate: shutting-down")
	// ErrTimeout: no carrier within the timeout; Answer.Holders says whether any process holds the tap.
	ErrTimeout = errors.New("vmgate: timeout")
	// ErrNetnsUnwatched: the namespace has no nsid, so the gate cannot follow its link events.
	ErrNetnsUnwatched = errors.New("vmgate: netns-unwatched")
)

var sentinels = map[string]error{
	"bad-request":      ErrBadRequest,
	"netns-not-found":  ErrNetnsNotFound,
	"iface-not-found":  ErrIfaceNotFound,
	"iface-admin-down": ErrIfaceAdminDown,
	"vmm-exited":       ErrVMMExited,
	"host-not-ready":   ErrHostNotReady,
	"starting":         ErrStarting,
	"too-many-waiters": ErrTooManyWaiters,
	"shutting-down":    ErrShuttingDown,
	"timeout":          ErrTimeout,
	"netns-unwatched":  ErrNetnsUnwatched,
}

// Error is the gate's "no": the HTTP status, the reason code and the gate's own explanation.
// errors.Is(err, ErrX) is true for the sentinel of its reason.
type Error struct {
	// Status is the HTTP status code (503, 504, 404, ...).
	Status int
	// Reason is the gate's reason code, e.g. "vmm-exited".
	Reason string
	// Message is the gate's error text: what is wrong and, where it knows, what to do.
	Message string
	// Answer is the whole slot answer (nil for the host gate).
	Answer *Answer
}

// Error returns "vmgate: REASON (HTTP STATUS): MESSAGE".
func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("vmgate: %s (HTTP %d)", e.Reason, e.Status)
	}
	return fmt.Sprintf("vmgate: %s (HTTP %d): %s", e.Reason, e.Status, e.Message)
}

// Is reports whether target is the sentinel of this error's reason.
func (e *Error) Is(target error) bool {
	s, ok := sentinels[e.Reason]
	return ok && s == target
}
