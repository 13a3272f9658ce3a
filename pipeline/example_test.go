package pipeline_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/pipeline/pipelinetest"
)

// upper is a user stage: it takes strings and emits them upper-cased,
// dropping empty ones as bad records.
type upper struct{}

func (upper) Process(_ context.Context, in string, emit func(string)) error {
	if in == "" {
		return fmt.Errorf("upper: empty string")
	}
	emit(strings.ToUpper(in))
	return nil
}

func Example() {
	p := pipeline.New("example")
	words := pipelinetest.Slice(p, "words", []string{"build", "", "then", "run"})
	loud := pipeline.Apply(p, "upper", words, upper{}, pipeline.Workers(4), pipeline.Ordered())
	pipeline.Sink(p, "print", loud, pipeline.ConsumerFunc[string](func(_ context.Context, s string) error {
		fmt.Println(s)
		return nil
	}))
	if err := p.Run(context.Background()); err != nil {
		fmt.Println("error:", err)
	}
	fmt.Println("bad records:", p.Stats().Metrics()["upper.errors"])
	// Output:
	// BUILD
	// THEN
	// RUN
	// bad records: 1
}

func ExampleRNG() {
	seed, epoch, sample, view := uint64(7), uint64(0), uint64(12345), uint64(1)
	a := pipeline.RNG(seed, epoch, sample, view).Float64()
	b := pipeline.RNG(seed, epoch, sample, view).Float64()
	fmt.Println(a == b)
	// Output: true
}
