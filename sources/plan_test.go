package sources

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func testUnits(sizes ...int64) []Unit {
	var us []Unit
	var first int64
	for i, n := range sizes {
		us = append(us, Unit{Shard: i % 3, Index: i, FirstRow: first, Rows: n})
		first += n
	}
	return us
}

// TestPlanPartition checks that for every world size the ranks' epochs are
// disjoint, equal in size and together cover every row but the documented
// N mod World dropped ones, and that both the split and the dropped rows
// change from epoch to epoch.
func TestPlanPartition(t *testing.T) {
	unitSets := map[string][]Unit{
		"uneven units":   testUnits(5, 17, 1, 30, 8, 9, 13, 0, 4), // N = 87
		"one unit":       testUnits(50),
		"many small":     testUnits(1, 1, 2, 1, 3, 1, 1, 2, 1, 1, 1, 1, 3, 2, 1, 1),
		"exact multiple": testUnits(12, 24, 48, 84), // N = 168 = 2·3·4·7
	}
	for name, units := range unitSets {
		for _, world := range []int{1, 2, 3, 4, 7} {
			for _, buf := range []int{0, 10} {
				t.Run(fmt.Sprintf("%s/world=%d/buffer=%d", name, world, buf), func(t *testing.T) {
					var n int64
					for _, u := range units {
						n += u.Rows
					}
					prevDropped := ""
					dropChanged, rank0Changed := false, false
					var prevRank0 string
					for epoch := range 4 {
						seen := map[Ref]int{}
						var q int64
						for rank := range world {
							p, err := NewPlan(units, PlanConfig{Seed: 9, Rank: rank, World: world, ShuffleBuffer: buf})
							if err != nil {
								t.Fatal(err)
							}
							q = p.EpochSize()
							if q != n/int64(world) || p.Dropped() != n%int64(world) {
								t.Fatalf("EpochSize %d Dropped %d, want %d %d", q, p.Dropped(), n/int64(world), n%int64(world))
							}
							order := p.Order(epoch)
							if int64(len(order)) != q {
								t.Fatalf("rank %d: %d samples, want %d", rank, len(order), q)
							}
							for _, r := range order {
								if r.Unit < 0 || r.Unit >= len(units) || r.Row < 0 || r.Row >= units[r.Unit].Rows {
									t.Fatalf("rank %d: invalid ref %+v", rank, r)
								}
								if prev, dup := seen[r]; dup {
									t.Fatalf("epoch %d: %+v emitted by ranks %d and %d", epoch, r, prev, rank)
								}
								seen[r] = rank
							}
							if rank == 0 {
								s := refSet(order)
								if epoch > 0 && s != prevRank0 {
									rank0Changed = true
								}
								prevRank0 = s
							}
						}
						if int64(len(seen)) != n-n%int64(world) {
							t.Fatalf("epoch %d: %d rows covered, want %d", epoch, len(seen), n-n%int64(world))
						}
						var dropped []Ref
						for u, unit := range units {
							for r := range unit.Rows {
								if _, ok := seen[Ref{u, r}]; !ok {
									dropped = append(dropped, Ref{u, r})
								}
							}
						}
						d := fmt.Sprint(dropped)
						if epoch > 0 && d != prevDropped {
							dropChanged = true
						}
						prevDropped = d
					}
					if world > 1 && len(units) > 1 && !rank0Changed {
						t.Error("rank 0 got the same rows in every epoch: ranks are not re-mixed")
					}
					if n%int64(world) != 0 && len(units) > 1 && !dropChanged {
						t.Error("the same rows were dropped in every epoch")
					}
				})
			}
		}
	}
}

func refSet(rs []Ref) string {
	c := slices.Clone(rs)
	slices.SortFunc(c, func(a, b Ref) int {
		if a.Unit != b.Unit {
			return a.Unit - b.Unit
		}
		return int(a.Row - b.Row)
	})
	return fmt.Sprint(c)
}

func TestShufflerPermutation(t *testing.T) {
	const n = 237
	for _, size := range []int{0, 1, 2, 16, 236, 237, 1000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			sh := newShuffler(size, n, newPCG(1, 2), false)
			seen := make([]bool, n)
			identity := true
			for j := range int64(n) {
				k, _, _ := sh.step(nil)
				if k < 0 || k >= n || seen[k] {
					t.Fatalf("output %d: input %d repeated or out of range", j, k)
				}
				seen[k] = true
				if k != j {
					identity = false
				}
				// A sample cannot come out before the buffer has taken it in.
				if k > j+int64(size) {
					t.Fatalf("output %d is input %d, beyond a buffer of %d", j, k, size)
				}
			}
			if identity != (size <= 1) {
				t.Errorf("buffer %d: identity order = %v", size, identity)
			}
		})
	}
}

func TestPlanDeterministic(t *testing.T) {
	units := testUnits(10, 20, 30, 40)
	mk := func(seed uint64, inOrder bool) *Plan {
		p, err := NewPlan(units, PlanConfig{Seed: seed, World: 2, Rank: 1, ShuffleBuffer: 8, InOrder: inOrder})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b, c := mk(5, false), mk(5, false), mk(6, false)
	if !slices.Equal(a.Order(3), b.Order(3)) {
		t.Error("same seed, different order")
	}
	if slices.Equal(a.Order(3), c.Order(3)) || slices.Equal(a.Order(3), a.Order(4)) {
		t.Error("different seed or epoch, same order")
	}
	if got := mk(5, true).UnitOrder(7); !slices.Equal(got, []int{0, 1, 2, 3}) {
		t.Errorf("InOrder unit order %v", got)
	}
	// Pinned: the order must not change between platforms or releases,
	// or resumed runs would diverge.
	const want = "[0 3 1 2] [{1 0} {1 8} {1 1} {1 4}]"
	if got := fmt.Sprint(a.UnitOrder(0), a.Order(0)[:4]); got != want {
		t.Errorf("pinned order: got %s, want %s", got, want)
	}
}

func TestNewPlanErrors(t *testing.T) {
	units := testUnits(2, 3)
	tests := []struct {
		name string
		cfg  PlanConfig
		want string
	}{
		{"rank too large", PlanConfig{Rank: 2, World: 2}, "outside world"},
		{"negative rank", PlanConfig{Rank: -1}, "outside world"},
		{"negative world", PlanConfig{World: -2}, "outside world"},
		{"negative buffer", PlanConfig{ShuffleBuffer: -1}, "negative shuffle buffer"},
		{"fewer rows than ranks", PlanConfig{World: 6}, "cannot give each of 6 ranks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPlan(units, tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "sources: ") {
				t.Errorf("err = %v, want sources: ...%s", err, tt.want)
			}
		})
	}
}
