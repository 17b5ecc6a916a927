package vmgate

// Live tests: a real `vmgate serve` built from this repository (npm run build), real namespaces and taps, a real
// process attached with TUNSETIFF. They need root; without it they skip loudly, and under CI=true they fail.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var repo, _ = filepath.Abs("../..")

func needHost(t *testing.T) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root (real namespaces and taps)"
	} else if _, err := os.Stat(filepath.Join(repo, "dist/src/cli/bin.js")); err != nil {
		why = "needs the built gate: run npm run build first"
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("live test %s under CI=true", why)
	}
	t.Skipf("!!! SKIPPED live test: %s", why)
}

type host struct {
	t      *testing.T
	prefix string
}

// newHost scopes a test to namespaces vgtest-go-<random>-*, removed when the test ends.
func newHost(t *testing.T) *host {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	h := &host{t: t, prefix: "vgtest-go-" + hex.EncodeToString(b) + "-"}
	t.Cleanup(func() {
		out, _ := exec.Command("ip", "netns", "list").Output()
		var lines []string
		for _, l := range strings.Split(string(out), "\n") {
			if f := strings.Fields(l); len(f) > 0 && strings.HasPrefix(f[0], h.prefix) {
				lines = append(lines, "netns del "+f[0])
			}
		}
		if len(lines) > 0 {
			cmd := exec.Command("ip", "-force", "-batch", "-")
			cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
			_ = cmd.Run()
		}
	})
	return h
}

func (h *host) run(name string, args ...string) {
	h.t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		h.t.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
}

// slot makes a namespace with tap0 (up) and a veth pair, as the orchestrator does.
func (h *host) slot(name string) string {
	ns := h.prefix + name
	tmp := "vgg" + hex.EncodeToString([]byte(name))[:6]
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	veth := "vgv" + hex.EncodeToString(b)
	cmd := exec.Command("ip", "-batch", "-")
	cmd.Stdin = strings.NewReader(fmt.Sprintf("netns add %s\ntuntap add dev %s mode tap\nlink set %s netns %s name tap0\nlink add %s type veth peer name eth0 netns %s\n", ns, tmp, tmp, ns, veth, ns))
	if out, err := cmd.CombinedOutput(); err != nil {
		h.t.Fatalf("creating %s: %v: %s", ns, err, out)
	}
	h.run("ip", "-n", ns, "link", "set", "tap0", "up")
	return ns
}

// start runs a process, ended when the test ends; if ready is set, waits for that line on its stdout.
func (h *host) start(ready string, name string, args ...string) *exec.Cmd {
	h.t.Helper()
	cmd := exec.Command(name, args...)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if ready != "" {
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || !strings.Contains(line, ready) {
			h.t.Fatalf("%s %v: no %q: %q %v", name, args, ready, line, err)
		}
	}
	return cmd
}

// holder attaches a real process to the slot's tap (TUNSETIFF), as Firecracker does.
func (h *host) holder(ns string) *exec.Cmd {
	return h.start("attached", "ip", "netns", "exec", ns, "python3", filepath.Join(repo, "test/fixtures/tap-holder.py"), "tap0", "firecracker")
}

type gateProc struct {
	url    string
	cmd    *exec.Cmd
	stderr *bytes.Buffer
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// gate starts vmgate serve on port, scoped to this test's namespaces; on failure its exit and stderr are shown.
func (h *host) gate(port int, extra ...string) *gateProc {
	args := append([]string{filepath.Join(repo, "dist/src/cli/bin.js"), "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--netns-pattern", "^" + h.prefix, "--orchestrator-comm", "vgorchgo"}, extra...)
	g := &gateProc{url: fmt.Sprintf("http://127.0.0.1:%d/ready-for-vm", port), cmd: exec.Command("node", args...), stderr: &bytes.Buffer{}}
	g.cmd.Stderr = g.stderr
	if err := g.cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() {
		_ = g.cmd.Process.Signal(syscall.SIGTERM)
		err := g.cmd.Wait()
		if h.t.Failed() {
			h.t.Logf("vmgate serve ended (%v); stderr:\n%s", err, g.stderr.String())
		}
	})
	return g
}

// up waits until the gate answers its host verdict (retrying "not up yet" and "starting").
func (g *gateProc) up(t *testing.T) *gateProc {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := New(g.url).Ready(ctx); err != nil && !errors.Is(err, ErrHostNotReady) {
		t.Fatalf("gate never came up: %v", err)
	}
	return g
}

func (g *gateProc) metric(t *testing.T, name string) string {
	resp, err := http.Get(strings.TrimSuffix(g.url, "/ready-for-vm") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, name+" ") {
			return strings.TrimPrefix(l, name+" ")
		}
	}
	return ""
}

func TestLiveClientStartedBeforeGate(t *testing.T) {
	needHost(t)
	h := newHost(t)
	ns := h.slot("early")
	vmm := h.holder(ns)
	port := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	var a *Answer
	go func() {
		var err error
		a, err = New(fmt.Sprintf("http://127.0.0.1:%d/ready-for-vm", port)).Wait(ctx, ns, WaitOptions{PID: vmm.Process.Pid, Timeout: 15 * time.Second})
		done <- err
	}()
	time.Sleep(300 * time.Millisecond) // the client is already retrying "connection refused"
	h.gate(port)
	if err := <-done; err != nil {
		t.Fatalf("first answer after start: %v", err)
	}
	if a.Reason != "carrier-up" || len(a.Holders) != 1 {
		t.Fatalf("answer %+v", a)
	}
}

func TestLiveCarrierComesLate(t *testing.T) {
	needHost(t)
	h := newHost(t)
	ns := h.slot("late")
	g := h.gate(freePort(t)).up(t)
	// the holder is started from its own goroutine; the test waits for it to have said "attached" before it ends, or
	// the test's cleanup could kill it between its TUNSETIFF (the carrier vmgate answers) and that line (CI, loaded)
	started := make(chan struct{})
	go func() {
		defer close(started)
		time.Sleep(400 * time.Millisecond)
		h.holder(ns)
	}()
	a, err := New(g.url).Wait(context.Background(), ns, WaitOptions{Timeout: 10 * time.Second})
	<-started
	if err != nil || !a.Carrier || len(a.Holders) != 1 || a.Holders[0].Comm != "firecracker" {
		t.Fatalf("got %+v, %v", a, err)
	}
}

func TestLiveVMMExits(t *testing.T) {
	needHost(t)
	h := newHost(t)
	ns := h.slot("exit")
	g := h.gate(freePort(t)).up(t)
	vmm := h.start("", "sleep", "60")
	go func() { time.Sleep(300 * time.Millisecond); _ = vmm.Process.Kill(); _ = vmm.Wait() }()
	_, err := New(g.url).Wait(context.Background(), ns, WaitOptions{PID: vmm.Process.Pid, Timeout: 10 * time.Second})
	if !errors.Is(err, ErrVMMExited) {
		t.Fatalf("want ErrVMMExited, got %v", err)
	}
}

func TestLiveTimeout(t *testing.T) {
	needHost(t)
	h := newHost(t)
	ns := h.slot("timeout")
	g := h.gate(freePort(t)).up(t)
	a, err := New(g.url).Wait(context.Background(), ns, WaitOptions{Timeout: 300 * time.Millisecond})
	var e *Error
	if !errors.Is(err, ErrTimeout) || !errors.As(err, &e) || e.Status != 504 || len(a.Holders) != 0 {
		t.Fatalf("want ErrTimeout with no holder, got %+v %v", a, err)
	}
}

func TestLiveHostNotReady(t *testing.T) {
	needHost(t)
	h := newHost(t)
	ns := h.slot("notready")
	g := h.gate(freePort(t), "--tun-path", "/dev/null")
	c := New(g.url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Ready(ctx); !errors.Is(err, ErrHostNotReady) || !strings.Contains(err.Error(), "tun-device") {
		t.Fatalf("Ready: want ErrHostNotReady naming tun-device, got %v", err)
	}
	if _, err := c.Wait(ctx, ns, WaitOptions{Timeout: time.Second}); !errors.Is(err, ErrHostNotReady) || !strings.Contains(err.Error(), "tun-device") {
		t.Fatalf("Wait: want ErrHostNotReady naming tun-device, got %v", err)
	}
}

func TestLiveContextCancelledMidWait(t *testing.T) {
	needHost(t)
	h := newHost(t)
	ns := h.slot("cancel")
	g := h.gate(freePort(t)).up(t)
	c := New(g.url)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	if _, err := c.Wait(ctx, ns, WaitOptions{Timeout: 30 * time.Second}); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	for i := 0; i < 100 && g.metric(t, "vmgate_carrier_waiters") != "0"; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if v := g.metric(t, "vmgate_carrier_waiters"); v != "0" {
		t.Fatalf("the gate still counts %s waiters after the client went away", v)
	}
}
