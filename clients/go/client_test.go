package vmgate

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// gate answers each request with the next of the given (status, body) pairs, repeating the last one.
func gate(t *testing.T, answers ...[2]interface{}) (*httptest.Server, *int32) {
	t.Helper()
	var n int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(atomic.AddInt32(&n, 1)) - 1
		if i >= len(answers) {
			i = len(answers) - 1
		}
		w.Header().Set("content-type", "application/json")
		w.WriteHeader(answers[i][0].(int))
		_, _ = w.Write([]byte(answers[i][1].(string)))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func fast(u string) *Client {
	c := New(u + "/ready-for-vm")
	c.MinBackoff, c.MaxBackoff = time.Millisecond, 5*time.Millisecond
	return c
}

func TestWaitCarrierUp(t *testing.T) {
	srv, _ := gate(t, [2]interface{}{200, `{"ready":true,"reason":"carrier-up","netns":"ns-1","iface":"tap0","carrier":true,"holders":[{"pid":7,"comm":"firecracker"}]}`})
	a, err := fast(srv.URL).Wait(context.Background(), "ns-1", WaitOptions{PID: 7})
	if err != nil || !a.Ready || a.Holders[0].PID != 7 {
		t.Fatalf("got %+v, %v", a, err)
	}
}

func TestWaitTypedErrors(t *testing.T) {
	for reason, want := range sentinels {
		if reason == "starting" {
			continue
		}
		srv, _ := gate(t, [2]interface{}{503, `{"ready":false,"reason":"` + reason + `","error":"why"}`})
		_, err := fast(srv.URL).Wait(context.Background(), "ns-1", WaitOptions{Timeout: time.Second})
		var e *Error
		if !errors.Is(err, want) || !errors.As(err, &e) || e.Reason != reason || e.Message != "why" || e.Status != 503 {
			t.Errorf("%s: got %v", reason, err)
		}
		for other, s := range sentinels {
			if other != reason && errors.Is(err, s) {
				t.Errorf("%s also matches %s", reason, other)
			}
		}
	}
}

func TestWaitRetriesStartingThenAnswers(t *testing.T) {
	srv, n := gate(t,
		[2]interface{}{503, `{"ready":false,"reason":"starting","error":"first look not finished"}`},
		[2]interface{}{503, `{"ready":false,"reason":"starting"}`},
		[2]interface{}{200, `{"ready":true,"reason":"carrier-up"}`})
	a, err := fast(srv.URL).Wait(context.Background(), "ns-1", WaitOptions{Timeout: 2 * time.Second})
	if err != nil || a.Reason != "carrier-up" || atomic.LoadInt32(n) != 3 {
		t.Fatalf("got %+v, %v after %d requests", a, err, atomic.LoadInt32(n))
	}
}

func TestWaitStartingUntilDeadline(t *testing.T) {
	srv, _ := gate(t, [2]interface{}{503, `{"ready":false,"reason":"starting"}`})
	// long enough for a loaded machine to get at least one answer; the client then retries until the deadline
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := fast(srv.URL).Wait(ctx, "ns-1", WaitOptions{})
	if !errors.Is(err, ErrStarting) {
		t.Fatalf("want ErrStarting, got %v", err)
	}
}

func TestWaitRetriesConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens: connection refused until the "sidecar" comes up
	go func() {
		time.Sleep(100 * time.Millisecond)
		l2, err := net.Listen("tcp", addr)
		if err != nil {
			return
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"ready":true,"reason":"carrier-up"}`))
		})}
		t.Cleanup(func() { srv.Close() })
		_ = srv.Serve(l2)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, err := fast("http://"+addr).Wait(ctx, "ns-1", WaitOptions{})
	if err != nil || !a.Ready {
		t.Fatalf("got %+v, %v", a, err)
	}
}

func TestWaitContextCancelled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(30*time.Millisecond, cancel)
	_, err := fast(srv.URL).Wait(ctx, "ns-1", WaitOptions{Timeout: 10 * time.Second})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}

func TestReadyNamesFailingChecks(t *testing.T) {
	srv, _ := gate(t, [2]interface{}{503, `{"ready":false,"reason":"host-not-ready","checks":[{"id":"tun-device","status":"fail","message":"/dev/net/tun does not exist"}]}`})
	_, err := fast(srv.URL).Ready(context.Background())
	if !errors.Is(err, ErrHostNotReady) || err.Error() != "vmgate: host-not-ready (HTTP 503): tun-device: /dev/net/tun does not exist" {
		t.Fatalf("got %v", err)
	}
}

func TestNewReadsVMGATE_URL(t *testing.T) {
	t.Setenv("VMGATE_URL", "http://127.0.0.1:9/ready-for-vm")
	if New("").URL != "http://127.0.0.1:9/ready-for-vm" {
		t.Fatal("VMGATE_URL not used")
	}
	t.Setenv("VMGATE_URL", "")
	if New("").URL != DefaultURL {
		t.Fatal("default not used")
	}
}
