package main

import (
	"context"
	"strings"
	"testing"
)

// TestUpRefusesBadTopologies: gameday up refuses, before starting
// anything, a topology the reference backend cannot be (exit 2, naming
// the flag).
func TestUpRefusesBadTopologies(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--store-replicas=-1"}, "--store-replicas -1"},
		{[]string{"--store-replicas=4"}, "--store-replicas 4"},
		{[]string{"--store-replicas=0", "--replication=sync"}, "--replication sync needs --store-replicas 1 or more"},
		{[]string{"--api-replicas=0"}, "--api-replicas 0"},
		{[]string{"--replication=eventual"}, `--replication "eventual"`},
	} {
		code, _, stderr := cli(t, context.Background(), append([]string{"up"}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("gameday up %v = exit %d, %q; want exit 2 saying %q", tc.args, code, stderr, tc.want)
		}
	}
}
