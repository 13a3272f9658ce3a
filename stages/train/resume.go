package train

import (
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/contrastream/contrastream/sources"
)

// Change is one setting of a run's Config changed when the run was
// resumed: Resume appends one to Config.History for every field its edit
// changed (other than Stop, which only says when this call ends), so the
// run's checkpoints and config.json say what it was trained with, and from
// which step.
type Change struct {
	Step  int       `json:"step"`  // the step the run resumed from
	Field string    `json:"field"` // the Config path, e.g. "Optimizer.LR"
	From  string    `json:"from"`  // the value before, as fmt's %v prints it
	To    string    `json:"to"`    // the value from Step on
	Time  time.Time `json:"time"`  // when the resumed run started
}

// fixedOnResume are the fields a resume may not change, and why: the saved
// tensors, the optimizer state and the cursor only mean what they mean with
// these settings. Model.Threads (speed only) is the one Model field that may
// change.
var fixedOnResume = map[string]string{
	"Model.Model":        "the saved weights are of this architecture",
	"Model.InChannels":   "the saved weights are of this architecture",
	"Model.HeadDepth":    "the saved weights are of this architecture",
	"Model.HeadHidden":   "the saved weights are of this architecture",
	"Model.HeadOut":      "the saved weights are of this architecture",
	"Model.HeadBN":       "the saved weights are of this architecture",
	"Model.Seed":         "it seeded the saved weights",
	"Data.Seed":          "it keys the data order and the views the saved position continues",
	"Data.ShuffleBuffer": "it orders the data the saved position continues",
	"Data.Size":          "the run's views, and its evaluations, are of this size",
	"Data.Fingerprint":   "it names the run's dataset (change Data.Glob to read the dataset from elsewhere)",
	"Schedule.Batch":     "the steps, the learning-rate schedule and the saved position count batches of this size",
	"Optimizer.Name":     "the saved optimizer state is this optimizer's",
}

// Override sets the fields of c named by their Config paths ("Data.Glob",
// "Optimizer.LR", as ConfigError.Field names them) to their values in from.
// A command line that resumes a run uses it to apply the flags it was
// given: Resume's edit calls it, and Resume then refuses or records each
// change.
func (c *Config) Override(from Config, fields ...string) error {
	dst, src := reflect.ValueOf(c).Elem(), reflect.ValueOf(from)
	for _, f := range fields {
		d, s := dst, src
		for name := range strings.SplitSeq(f, ".") {
			if d.Kind() != reflect.Struct {
				d = reflect.Value{}
				break
			}
			d, s = d.FieldByName(name), s.FieldByName(name)
			if !d.IsValid() {
				break
			}
		}
		if !d.IsValid() || d.Kind() == reflect.Struct || f == "History" {
			return fmt.Errorf("%w: Override: no setting %q in train.Config", ErrConfig, f)
		}
		d.Set(s)
	}
	return nil
}

// configChanges lists the leaf fields (Config paths) whose values differ
// between a and b, History and Stop left out, in field order.
func configChanges(a, b Config) []Change {
	var out []Change
	var walk func(path string, x, y reflect.Value)
	walk = func(path string, x, y reflect.Value) {
		if x.Kind() == reflect.Struct {
			for i := range x.NumField() {
				name := x.Type().Field(i).Name
				p := name
				if path != "" {
					p = path + "." + name
				}
				if p == "History" || p == "Stop" {
					continue
				}
				walk(p, x.Field(i), y.Field(i))
			}
			return
		}
		if !reflect.DeepEqual(x.Interface(), y.Interface()) {
			out = append(out, Change{Field: path, From: fmt.Sprintf("%v", x.Interface()), To: fmt.Sprintf("%v", y.Interface())})
		}
	}
	walk("", reflect.ValueOf(a), reflect.ValueOf(b))
	return out
}

// resumeChanges checks the edits made to a saved Config before a resume:
// each changed field must be one that may change (not in fixedOnResume),
// and is returned as a Change at step.
func resumeChanges(saved, edited Config, step int, now time.Time) ([]Change, error) {
	changes := configChanges(saved, edited)
	for i := range changes {
		c := &changes[i]
		if why, fixed := fixedOnResume[c.Field]; fixed {
			return nil, configError(c.Field, " cannot change on resume (%s, the run's is %s): %s", c.To, c.From, why)
		}
		c.Step, c.Time = step, now
	}
	return changes, nil
}

// absGlob makes the local items of a shard list (sources.Discover: globs,
// folders, comma-separated) absolute, so a saved Config reads the same
// files from any working directory; bucket URLs stay as they are.
func absGlob(spec string) string {
	if spec == "" {
		return ""
	}
	items := strings.Split(spec, ",")
	for i, it := range items {
		it = strings.TrimSpace(it)
		if it == "" || sources.IsURL(it) {
			continue
		}
		if abs, err := filepath.Abs(it); err == nil {
			items[i] = abs
		}
	}
	return strings.Join(items, ",")
}

// absPaths makes the Config's data paths absolute (absGlob).
func (c *Config) absPaths() {
	c.Data.Glob = absGlob(c.Data.Glob)
	c.Eval.Train = absGlob(c.Eval.Train)
	c.Eval.Test = absGlob(c.Eval.Test)
}

// checkFingerprint sets cfg.Data.Fingerprint to the source's, or refuses a
// source whose fingerprint is not the saved one.
func (c *Config) checkFingerprint(src *sources.Source) error {
	fp := src.Fingerprint()
	if c.Data.Fingerprint == "" {
		c.Data.Fingerprint = fp
		return nil
	}
	if fp != c.Data.Fingerprint {
		return configError("Data.Glob", " %s: not the run's dataset (fingerprint %s, the run's is %s): shards were added, removed or renamed, or their row counts changed",
			c.Data.Glob, fp, c.Data.Fingerprint)
	}
	return nil
}

// appendHistory returns the history with changes added (a new slice: the
// saved Config's is not shared).
func appendHistory(h []Change, changes []Change) []Change {
	return append(slices.Clip(h), changes...)
}
