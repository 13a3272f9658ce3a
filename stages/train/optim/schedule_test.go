package optim

import (
	"fmt"
	"math"
	"testing"
)

func TestWarmupCosine(t *testing.T) {
	s := WarmupCosine{Peak: 1.2, WarmupSteps: 10, TotalSteps: 110, Floor: 0.2}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		step int
		want float64
	}{
		{-5, 0}, {0, 0}, {1, 0.12}, {5, 0.6}, {9, 1.08},
		{10, 1.2},           // peak at the end of warm-up
		{60, 0.2 + 1.0*0.5}, // half-way: cos(π/2) = 0
		{35, 0.2 + 1.0*0.5*(1+math.Cos(math.Pi*0.25))},  // a quarter
		{109, 0.2 + 1.0*0.5*(1+math.Cos(math.Pi*0.99))}, // last step
		{110, 0.2}, {1000, 0.2},
	}
	for _, c := range cases {
		if got := s.LR(c.step); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("LR(%d) = %.15g, want %.15g", c.step, got, c.want)
		}
	}
	// Non-increasing after warm-up, never below the floor.
	prev := math.Inf(1)
	for step := 10; step < 200; step++ {
		v := s.LR(step)
		if v > prev || v < s.Floor {
			t.Fatalf("LR(%d) = %v after %v (floor %v)", step, v, prev, s.Floor)
		}
		prev = v
	}
	// No warm-up: starts at the peak.
	if got := (WarmupCosine{Peak: 0.3, TotalSteps: 100}).LR(0); got != 0.3 {
		t.Errorf("no warm-up: LR(0) = %v, want 0.3", got)
	}
	// Warm-up as long as the run.
	if got := (WarmupCosine{Peak: 1, WarmupSteps: 10, TotalSteps: 10}).LR(10); got != 0 {
		t.Errorf("warm-up = total: LR(10) = %v, want the floor 0", got)
	}
	for _, bad := range []WarmupCosine{
		{Peak: -1, TotalSteps: 1}, {Peak: math.NaN(), TotalSteps: 1}, {Peak: 1, WarmupSteps: 5, TotalSteps: 4},
		{Peak: 1, WarmupSteps: -1, TotalSteps: 4}, {Peak: 1, TotalSteps: 4, Floor: math.Inf(1)},
	} {
		if bad.Validate() == nil {
			t.Errorf("%+v: Validate gave no error", bad)
		}
	}
}

func TestScaling(t *testing.T) {
	cases := []struct {
		s     Scaling
		base  float64
		batch int
		want  float64
	}{
		{NoScaling, 0.3, 4096, 0.3},
		{LinearScaling, 0.3, 4096, 4.8}, // SimCLR ImageNet: 0.3·4096/256
		{LinearScaling, 0.3, 256, 0.3},
		{SqrtScaling, 0.075, 4096, 4.8}, // SimCLR's square-root rule: 0.075·√4096
		{SqrtScaling, 0.075, 256, 1.2},
	}
	for _, c := range cases {
		if got := c.s.Apply(c.base, c.batch); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%v.Apply(%v, %d) = %v, want %v", c.s, c.base, c.batch, got, c.want)
		}
		back, err := ParseScaling(c.s.String())
		if err != nil || back != c.s {
			t.Errorf("ParseScaling(%q) = %v, %v", c.s.String(), back, err)
		}
	}
	if _, err := ParseScaling("cubic"); err == nil {
		t.Error("ParseScaling(cubic): no error")
	}
	if s, err := ParseScaling(" SQRT "); err != nil || s != SqrtScaling {
		t.Errorf("ParseScaling(\" SQRT \") = %v, %v", s, err)
	}
}

func TestScheduleAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	var s Schedule = WarmupCosine{Peak: 1, WarmupSteps: 10, TotalSteps: 100}
	if n := testing.AllocsPerRun(100, func() { _ = s.LR(42) }); n != 0 {
		t.Errorf("%v allocs per LR", n)
	}
}

// A SimCLR-style schedule: base rate 0.3 scaled linearly to a batch of 512
// images, 10 warm-up steps, 100 steps in all.
func ExampleWarmupCosine() {
	peak := LinearScaling.Apply(0.3, 512)
	s := WarmupCosine{Peak: peak, WarmupSteps: 10, TotalSteps: 100}
	for _, step := range []int{0, 5, 10, 55, 99, 100} {
		fmt.Printf("step %3d: lr %.4f\n", step, s.LR(step))
	}
	// Output:
	// step   0: lr 0.0000
	// step   5: lr 0.3000
	// step  10: lr 0.6000
	// step  55: lr 0.3000
	// step  99: lr 0.0002
	// step 100: lr 0.0000
}
