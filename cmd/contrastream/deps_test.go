package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryDoesNotLinkTesting: no package of the command imports package
// testing (test helpers stay in _test files and pipelinetest).
func TestBinaryDoesNotLinkTesting(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "testing" {
			why, _ := exec.Command("go", "list", "-f", `{{.ImportPath}}: {{join .Imports " "}}`, "-deps", ".").Output()
			for _, l := range strings.Split(string(why), "\n") {
				if strings.Contains(" "+l+" ", " testing ") {
					t.Errorf("imports testing: %.120s", l)
				}
			}
			t.Fatal("the contrastream binary links package testing")
		}
	}
}
