package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/contrastream/contrastream/sinks"
)

var exportCommand = command{
	summary: "write a checkpoint's encoder as plain .safetensors for PyTorch",
	run:     runExport,
}

func runExport(_ context.Context, args []string) error {
	fs := newDataFlagSet("export", "usage: contrastream export --checkpoint CKPT --out FILE.safetensors [--json]\n\n"+
		"CKPT is a checkpoint file or a run folder (its latest checkpoint). The file holds\n"+
		"the encoder's tensors under the PyTorch module's state_dict names; see\n"+
		"docs/checkpoints.md for the lines of Python that load it.")
	var ckPath, out string
	var jsonOut bool
	fs.StringVar(&ckPath, "checkpoint", "", "checkpoint file or run folder (required)")
	fs.StringVar(&out, "out", "", "output .safetensors `file` (required)")
	fs.BoolVar(&jsonOut, "json", false, "print one JSON summary object on stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || ckPath == "" || out == "" {
		fs.Usage()
		return fmt.Errorf("--checkpoint and --out are required")
	}
	ck, err := loadCheckpoint(ckPath)
	if err != nil {
		return err
	}
	if err := sinks.ExportEncoder(out, ck); err != nil {
		return err
	}
	n := len(ck.Encoder())
	if jsonOut {
		return json.NewEncoder(os.Stdout).Encode(map[string]any{
			"checkpoint": ck.Path, "out": out, "model": ck.Model, "step": ck.Step, "tensors": n})
	}
	fmt.Printf("export: %d encoder tensors of %s (model %s, step %d) -> %s\n", n, ck.Path, ck.Model, ck.Step, out)
	return nil
}
