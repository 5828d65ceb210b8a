package main

import (
	"context"
	"fmt"
	"time"
)

func runSeed(ctx context.Context, env *cliEnv, args []string) error {
	var cfg Config
	var prefix string
	var users int
	fs, b := newFlags("seed", env, &cfg)
	fs.IntVar(&users, "users", 100000, "number of users to insert")
	fs.StringVar(&prefix, "prefix", "seed", "userName prefix: PREFIX-<i>@example.com")
	_, a, t, err := openTenantCommand(ctx, env, fs, b, &cfg, args, func([]string) error {
		if users < 1 || users > 50_000_000 {
			return usagef("--users must be between 1 and 50000000")
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer a.Close()
	start := time.Now()
	if err := a.db.SeedUsers(ctx, t.ID, prefix, users); err != nil {
		return err
	}
	el := time.Since(start)
	if cfg.JSON {
		return printJSON(env.stdout, map[string]any{"users": users, "seconds": el.Seconds()})
	}
	fmt.Fprintf(env.stdout, "inserted %d users %s-1@example.com … %s-%d@example.com into %s in %s (%.0f users/s)\n",
		users, prefix, prefix, users, t.Slug, el.Round(time.Millisecond), float64(users)/el.Seconds())
	return nil
}
