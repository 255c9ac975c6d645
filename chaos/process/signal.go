package process

import (
	"fmt"
	"strings"
	"syscall"
)

// ParseSignal returns the signal a scenario names: "KILL", "TERM", "INT" or
// "STOP", in any case, with or without the "SIG" prefix.
func ParseSignal(name string) (syscall.Signal, error) {
	n := strings.TrimPrefix(strings.ToUpper(name), "SIG")
	switch n {
	case "KILL":
		return syscall.SIGKILL, nil
	case "TERM":
		return syscall.SIGTERM, nil
	case "INT":
		return syscall.SIGINT, nil
	case "STOP":
		return syscall.SIGSTOP, nil
	}
	return 0, fmt.Errorf("parse signal %q: not one of KILL, TERM, INT, STOP", name)
}

// signalName returns "SIGKILL" for syscall.SIGKILL, and so on for the
// signals a Spec may hold.
func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGSTOP:
		return "SIGSTOP"
	}
	return fmt.Sprintf("signal %d", int(s))
}

// terminates reports whether s ends the process, so that recovering means
// waiting for the supervisor to replace it.
func terminates(s syscall.Signal) bool {
	return s == syscall.SIGKILL || s == syscall.SIGTERM || s == syscall.SIGINT
}
