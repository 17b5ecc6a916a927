package vmgate

import (
	"encoding/json"
	"os"
	"testing"
)

// The gate's contract is openapi.json at the repository root: every reason code it lists for a "no" must have a
// sentinel here, and every sentinel must be a reason the gate gives.
func TestSentinelsCoverEveryReasonOfTheContract(t *testing.T) {
	raw, err := os.ReadFile("../../openapi.json")
	if err != nil {
		t.Fatalf("read the contract: %v", err)
	}
	var doc struct {
		Components struct {
			Schemas struct {
				WaitReason struct {
					Enum []string `json:"enum"`
				} `json:"WaitReason"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("parse the contract: %v", err)
	}
	reasons := doc.Components.Schemas.WaitReason.Enum
	if len(reasons) < 10 {
		t.Fatalf("the contract lists %d reasons", len(reasons))
	}
	listed := map[string]bool{}
	for _, r := range reasons {
		listed[r] = true
		if r == "carrier-up" {
			continue
		}
		if _, ok := sentinels[r]; !ok {
			t.Errorf("reason %q of the contract has no sentinel error in errors.go", r)
		}
	}
	for r := range sentinels {
		if !listed[r] {
			t.Errorf("sentinel for %q is not a reason of the contract", r)
		}
	}
}
