//go:build !linux

package autoscaler

import "os/exec"

// setParentDeathSignal does nothing where the kernel has no parent-death
// signal: replicas of an autoscaler killed outright are left running.
func setParentDeathSignal(*exec.Cmd) {}
