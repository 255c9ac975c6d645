// Package localtest helps tests that play game days against the real
// reference backend on loopback.
package localtest

import (
	"fmt"
	"os/exec"
	"path/filepath"
)

// BuildRefapp builds the reference backend's executable into dir and
// returns its path. It needs the go tool, as tests do.
func BuildRefapp(dir string) (string, error) {
	bin := filepath.Join(dir, "refapp")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/gameday/gameday/reference-app/cmd/refapp").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build refapp: %w\n%s", err, out)
	}
	return bin, nil
}
