package vmgate_test

import (
	"context"
	"errors"
	"log"
	"time"

	vmgate "vmgate/clients/go"
)

// After starting Firecracker in the slot's namespace, ask the gate whether the slot's tap got carrier.
func ExampleClient_Wait() {
	fcPID := 4242 // the Firecracker process just started in ns-36
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()

	gate := vmgate.New("") // $VMGATE_URL, as the Nomad job sets it
	if _, err := gate.Wait(ctx, "ns-36", vmgate.WaitOptions{PID: fcPID, Timeout: 10 * time.Second}); err != nil {
		switch {
		case errors.Is(err, vmgate.ErrVMMExited), errors.Is(err, vmgate.ErrTimeout):
			log.Printf("sandbox failed, reclaim the slot: %v", err) // the VMM died or never attached its tap
		case errors.Is(err, vmgate.ErrHostNotReady):
			log.Printf("host is not fit for VMs, stop creating here: %v", err)
		default:
			log.Printf("slot not ready: %v", err)
		}
	}
}
