// Package vmgate is the orchestrator's client for the vmgate readiness gate (vmgate serve).
//
// Wait asks "has this slot's tap got carrier yet?" after starting a VMM in the slot's namespace; Ready asks
// "may I create a VM on this host?". Both retry while the gate is not up yet (connection refused) or still
// starting, until the context's deadline: the gate runs as a Nomad prestart sidecar and the orchestrator may
// start before it listens. Every "no" is an *Error whose reason matches one of the Err* sentinels.
package vmgate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"syscall"
	"time"
)

// DefaultURL is used when neither New's argument nor VMGATE_URL is set.
const DefaultURL = "http://127.0.0.1:8431/ready-for-vm"

// maxTimeout is the gate's upper bound for timeout_ms.
const maxTimeout = 120 * time.Second

// Client talks to one gate. The zero value is not usable: call New.
type Client struct {
	// URL is the gate's /ready-for-vm address, e.g. http://127.0.0.1:8431/ready-for-vm.
	URL string
	// HTTP is the client used for requests; its own Timeout should be zero (waits are bounded by the context).
	HTTP *http.Client
	// MinBackoff and MaxBackoff bound the pause between retries of "not up yet" and "starting".
	MinBackoff, MaxBackoff time.Duration
}

// New returns a client for the gate at rawURL; empty means $VMGATE_URL (what the Nomad job sets), else DefaultURL.
func New(rawURL string) *Client {
	if rawURL == "" {
		rawURL = os.Getenv("VMGATE_URL")
	}
	if rawURL == "" {
		rawURL = DefaultURL
	}
	return &Client{URL: rawURL, HTTP: &http.Client{}, MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second}
}

// WaitOptions says what to wait for. The zero value waits on the gate's configured tap for 10 s.
type WaitOptions struct {
	// Iface is the interface inside the namespace; empty means the gate's --tap (tap0).
	Iface string
	// Timeout bounds the wait on the gate (default 10 s, at most 120 s); a shorter context deadline wins.
	Timeout time.Duration
	// PID is the VMM's process id: the gate answers ErrVMMExited as soon as it is gone. 0: not given.
	PID int
}

// Holder is a process that has the tap attached.
type Holder struct {
	PID  int    `json:"pid"`
	Comm string `json:"comm"`
}

// Check is one host-gate check result.
type Check struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

// Answer is the gate's answer to a slot wait.
type Answer struct {
	Ready    bool     `json:"ready"`
	Reason   string   `json:"reason"`
	Netns    string   `json:"netns"`
	Iface    string   `json:"iface"`
	Carrier  bool     `json:"carrier"`
	WaitedMs float64  `json:"waitedMs"`
	Holders  []Holder `json:"holders"`
	PID      int      `json:"pid,omitempty"`
	Error    string   `json:"error,omitempty"`
	Checks   []Check  `json:"checks,omitempty"`
}

// HostVerdict is the gate's answer to "may I create a VM on this host?".
type HostVerdict struct {
	Ready     bool    `json:"ready"`
	Reason    string  `json:"reason,omitempty"`
	Checks    []Check `json:"checks"`
	CheckedAt string  `json:"checkedAt"`
}

// Wait asks whether netns's tap has carrier, waiting on the gate up to opts.Timeout. It returns the answer and
// nil on carrier-up, else an *Error (errors.Is against the Err* sentinels) or the context's error.
func (c *Client) Wait(ctx context.Context, netns string, opts WaitOptions) (*Answer, error) {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if timeout > maxTimeout {
		timeout = maxTimeout
	}
	started := time.Now()
	var last *Error
	for attempt := 0; ; attempt++ {
		left := timeout - time.Since(started)
		if d, ok := ctx.Deadline(); ok && time.Until(d) < left {
			left = time.Until(d)
		}
		if left < 0 {
			left = 0
		}
		q := url.Values{"netns": {netns}, "timeout_ms": {strconv.FormatInt(left.Milliseconds(), 10)}}
		if opts.Iface != "" {
			q.Set("iface", opts.Iface)
		}
		if opts.PID > 0 {
			q.Set("pid", strconv.Itoa(opts.PID))
		}
		var a Answer
		status, err := c.get(ctx, c.URL+"?"+q.Encode(), &a)
		if err == nil && a.Ready {
			return &a, nil
		}
		if err == nil {
			last = &Error{Status: status, Reason: a.Reason, Message: a.Error, Answer: &a}
			if a.Reason != "starting" {
				return &a, last
			}
		} else if !notUpYet(err) {
			if last != nil && ctx.Err() != nil {
				return last.Answer, last // the deadline ended a retry of "starting": say starting
			}
			return nil, err
		}
		if !c.pause(ctx, attempt) || time.Since(started) >= timeout {
			if last != nil {
				return last.Answer, last
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
	}
}

// Ready asks the host gate whether a VM may be created on this host. It returns the verdict and nil when ready,
// else an *Error with ErrHostNotReady (the message names the failing checks) or the context's error.
func (c *Client) Ready(ctx context.Context) (*HostVerdict, error) {
	for attempt := 0; ; attempt++ {
		var v HostVerdict
		status, err := c.get(ctx, c.URL, &v)
		if err == nil && v.Ready {
			return &v, nil
		}
		if err == nil && v.Reason != "starting" {
			return &v, &Error{Status: status, Reason: v.Reason, Message: failing(v.Checks)}
		}
		if err != nil && !notUpYet(err) {
			return nil, err
		}
		if !c.pause(ctx, attempt) {
			if err == nil {
				return &v, &Error{Status: status, Reason: "starting", Message: "the gate had not finished its first look at the host"}
			}
			return nil, err
		}
	}
}

func failing(checks []Check) string {
	msg := ""
	for _, ch := range checks {
		if ch.Status != "fail" {
			continue
		}
		if msg != "" {
			msg += "; "
		}
		msg += ch.ID + ": " + ch.Message
	}
	return msg
}

// get does one request and decodes the JSON body whatever the status.
func (c *Client) get(ctx context.Context, u string, into interface{}) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if err := json.Unmarshal(body, into); err != nil {
		return resp.StatusCode, fmt.Errorf("vmgate: HTTP %d with a body that is not the gate's JSON: %w", resp.StatusCode, err)
	}
	return resp.StatusCode, nil
}

// notUpYet: the sidecar has not bound its port yet (Nomad starts the orchestrator as soon as it runs).
func notUpYet(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED)
}

// pause sleeps before the next attempt (exponential, capped); false when the context ends first.
func (c *Client) pause(ctx context.Context, attempt int) bool {
	d := c.MinBackoff << uint(attempt)
	if d <= 0 || d > c.MaxBackoff {
		d = c.MaxBackoff
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
