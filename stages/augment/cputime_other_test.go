//go:build !unix

package augment

import "time"

func cpuTime() time.Duration { return 0 }
