package network

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
)

// Cleanup removes every toxic whose name starts with ToxicPrefix from every
// proxy of the Toxiproxy server c talks to, and returns what it removed as
// "proxy/toxic", sorted. It leaves other toxics alone and does not enable
// disabled proxies (a disabled proxy does not say who disabled it). It goes on
// past a failed removal and returns every failure, joined; it stops when ctx
// ends.
func Cleanup(ctx context.Context, c *toxiclient.Client) ([]string, error) {
	var proxies map[string]*toxiclient.Proxy
	_, err := await(ctx, func() error {
		var err error
		proxies, err = c.Proxies()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cleanup: list proxies: %w", err)
	}
	var removed []string
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(proxies)) {
		p := proxies[name]
		toxics := slices.Clone(p.ActiveToxics)
		slices.SortFunc(toxics, func(a, b toxiclient.Toxic) int { return strings.Compare(a.Name, b.Name) })
		for _, t := range toxics {
			if !strings.HasPrefix(t.Name, ToxicPrefix) {
				continue
			}
			_, err := await(ctx, func() error { return p.RemoveToxic(t.Name) })
			switch {
			case ctx.Err() != nil:
				return removed, errors.Join(append(errs, fmt.Errorf("cleanup: %w", ctx.Err()))...)
			case notFound(err): // removed meanwhile
			case err != nil:
				errs = append(errs, fmt.Errorf("cleanup: remove toxic %q from proxy %q: %w", t.Name, name, err))
			default:
				removed = append(removed, name+"/"+t.Name)
			}
		}
	}
	return removed, errors.Join(errs...)
}
