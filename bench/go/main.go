// Command orderd-go is the Go reference order service of bench/run (GO=1):
// the strongest of the peers orderd is measured against.  It is written the
// way a competent Go team writes such a service, from Debian's packages
// only: net/http, pgxpool (pgx v4, statements prepared automatically),
// a redigo pool as a read-through cache of single orders (SETEX 120 on a
// miss, DEL after every write), encoding/json for the bodies, and one JSON
// log line per request, buffered and flushed every 20 ms like orderd's.
// Same schema, routes and JSON shapes as orderd for what the benchmark
// drives, so the same wrk scripts drive both.  It does not group-commit
// writes, cache lists, or keep an in-process cache: those are orderd's own
// ideas, and this is the classic design they are measured against.
//
//	DATABASE_URL=postgres://... REDIS_URL=redis://... PORT=3000 ./orderd-go
//
// Environment:
//
//	PORT=3000 HOST=127.0.0.1   where to listen
//	DATABASE_URL               PostgreSQL (required)
//	REDIS_URL                  the cache; empty = no cache (X-Cache: BYPASS)
//	PG_POOL_MAX=8              PostgreSQL connections (orderd's db_pool_size)
//	REDIS_POOL_MAX=64          Redis connections in use at once at most
//	ACCESS_LOG=true            false: no request log lines
//
// The request log goes to stdout; bench/run sends stdout to a file.
// bench/go/build builds it in GOPATH mode with nothing downloaded.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/jackc/pgx/v4/pgxpool"
)

type settings struct {
	listen       string
	databaseURL  string
	redisURL     string
	pgPoolMax    int
	redisPoolMax int
	accessLog    bool
}

func envOr(name, fallback string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return fallback
}

func envInt(name string, fallback int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return fallback, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s must be a positive integer, not %q", name, v)
	}
	return n, nil
}

func readSettings() (settings, error) {
	s := settings{
		listen:      net.JoinHostPort(envOr("HOST", "127.0.0.1"), envOr("PORT", "3000")),
		databaseURL: os.Getenv("DATABASE_URL"),
		redisURL:    os.Getenv("REDIS_URL"),
		accessLog:   envOr("ACCESS_LOG", "true") != "false",
	}
	var err error
	if s.pgPoolMax, err = envInt("PG_POOL_MAX", 8); err != nil {
		return s, err
	}
	if s.redisPoolMax, err = envInt("REDIS_POOL_MAX", 64); err != nil {
		return s, err
	}
	if s.databaseURL == "" {
		return s, errors.New("DATABASE_URL is required")
	}
	return s, nil
}

func openDB(ctx context.Context, s settings) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(s.databaseURL)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = int32(s.pgPoolMax)
	return pgxpool.ConnectConfig(ctx, cfg)
}

// openCache returns nil (no cache) for an empty URL.  Commands time out
// after 50 ms like orderd's; a failed command counts as a miss.
func openCache(s settings) *redis.Pool {
	if s.redisURL == "" {
		return nil
	}
	return &redis.Pool{
		MaxIdle:     s.redisPoolMax,
		MaxActive:   s.redisPoolMax,
		Wait:        true,
		IdleTimeout: time.Minute,
		Dial: func() (redis.Conn, error) {
			return redis.DialURL(s.redisURL, redis.DialConnectTimeout(50*time.Millisecond),
				redis.DialReadTimeout(50*time.Millisecond), redis.DialWriteTimeout(50*time.Millisecond))
		},
	}
}

func run() error {
	s, err := readSettings()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	db, err := openDB(ctx, s)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer db.Close()
	cache := openCache(s)
	if cache != nil {
		defer cache.Close()
	}
	log := newAccessLog(os.Stdout, s.accessLog)
	defer log.Close()

	svc := &service{db: db, cache: cache}
	server := &http.Server{
		Addr:              s.listen,
		Handler:           log.wrap(svc.routes()),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	listener, err := net.Listen("tcp", s.listen)
	if err != nil {
		return err
	}
	log.event("listening", s.listen)

	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	// keep-alive clients may hold connections open: wait at most 2 s
	drain, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := server.Shutdown(drain); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "{\"level\":\"error\",\"msg\":\"orderd-go: %s\"}\n", jsonEscape(err.Error()))
		os.Exit(1)
	}
}
