package main

// orders.go - the routes and their handlers: read-through cache for one
// order, keyset pages from PostgreSQL, one statement (one commit) per write.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/jackc/pgx/v4"
	"github.com/jackc/pgx/v4/pgxpool"
)

const (
	cacheTTLSeconds = 120
	requestTimeout  = 5 * time.Second // orderd's request_timeout_ms
	bodyLimit       = 64 << 10        // orderd's body_limit
	listLimitMax    = 100
)

type service struct {
	db    *pgxpool.Pool
	cache *redis.Pool // nil: no cache
}

// Its own key space: orderd shares the Redis during a benchmark.
func cacheKey(id int64) string {
	return "go:order:" + strconv.FormatInt(id, 10)
}

func (s *service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		setRoute(w, "/healthz")
		sendJSON(w, http.StatusOK, []byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("/orders", s.collection)
	mux.HandleFunc("/orders/", s.item)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		problem(w, http.StatusNotFound, "no such resource", nil)
	})
	return mux
}

// ---- replies -------------------------------------------------------------

func setRoute(w http.ResponseWriter, route string) {
	if e, ok := w.(*exchange); ok {
		e.route = route
	}
}

func send(w http.ResponseWriter, status int, contentType string, body []byte) {
	h := w.Header()
	h["Content-Type"] = []string{contentType}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	if e, ok := w.(*exchange); ok {
		ms := float64(time.Since(e.start).Microseconds()) / 1000
		h["Server-Timing"] = []string{"app;dur=" + strconv.FormatFloat(ms, 'f', 3, 64)}
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func sendJSON(w http.ResponseWriter, status int, body []byte) {
	send(w, status, "application/json", body)
}

// problem answers application/problem+json, like every orderd error.
func problem(w http.ResponseWriter, status int, detail string, errs []fieldError) {
	doc := struct {
		Type      string       `json:"type"`
		Title     string       `json:"title"`
		Status    int          `json:"status"`
		Detail    string       `json:"detail"`
		RequestID string       `json:"request_id,omitempty"`
		Errors    []fieldError `json:"errors,omitempty"`
	}{"about:blank", http.StatusText(status), status, detail, "", errs}
	if e, ok := w.(*exchange); ok {
		doc.RequestID = e.requestID
	}
	body, _ := json.Marshal(doc)
	send(w, status, "application/problem+json", body)
}

func dbProblem(w http.ResponseWriter, err error) {
	if errors.Is(err, context.DeadlineExceeded) {
		problem(w, http.StatusGatewayTimeout, "the database did not answer before the deadline", nil)
		return
	}
	problem(w, http.StatusServiceUnavailable, "the database is not reachable", nil)
}

func notAllowed(w http.ResponseWriter, allow string) {
	w.Header()["Allow"] = []string{allow}
	problem(w, http.StatusMethodNotAllowed, "this method is not allowed here", nil)
}

// ---- routing -------------------------------------------------------------

func (s *service) collection(w http.ResponseWriter, r *http.Request) {
	setRoute(w, "/orders")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.list(w, r)
	case http.MethodPost:
		s.create(w, r)
	default:
		notAllowed(w, "GET, HEAD, POST")
	}
}

func (s *service) item(w http.ResponseWriter, r *http.Request) {
	setRoute(w, "/orders/:id")
	id, ok := parseID(strings.TrimPrefix(r.URL.Path, "/orders/"))
	if !ok {
		problem(w, http.StatusBadRequest, "the order id must be a positive integer", nil)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.get(w, r, id)
	case http.MethodPatch:
		s.patch(w, r, id)
	case http.MethodDelete:
		s.remove(w, r, id)
	default:
		notAllowed(w, "GET, HEAD, PATCH, DELETE")
	}
}

func parseID(text string) (int64, bool) {
	if text == "" || text[0] < '1' || text[0] > '9' {
		return 0, false
	}
	id, err := strconv.ParseInt(text, 10, 64)
	return id, err == nil
}

// ---- the cache -------------------------------------------------------------

// cacheGet: the cached body, and what X-Cache says when there is none
// (MISS, or BYPASS when there is no cache or it failed).
func (s *service) cacheGet(key string) ([]byte, string) {
	if s.cache == nil {
		return nil, "BYPASS"
	}
	c := s.cache.Get()
	defer c.Close()
	body, err := redis.Bytes(c.Do("GET", key))
	switch {
	case err == nil:
		return body, "HIT"
	case errors.Is(err, redis.ErrNil):
		return nil, "MISS"
	default:
		return nil, "BYPASS"
	}
}

func (s *service) cacheDo(cmd string, args ...any) {
	if s.cache == nil {
		return
	}
	c := s.cache.Get()
	defer c.Close()
	_, _ = c.Do(cmd, args...) // a failed fill or delete leaves at worst a stale entry for the TTL
}

// ---- GET /orders/:id ---------------------------------------------------------

func (s *service) get(w http.ResponseWriter, r *http.Request, id int64) {
	key := cacheKey(id)
	body, cacheStatus := s.cacheGet(key)
	if body != nil {
		w.Header()["X-Cache"] = []string{cacheStatus}
		sendJSON(w, http.StatusOK, body)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	o, err := scanOrder(s.db.QueryRow(ctx, "SELECT "+orderColumns+" FROM orders WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		problem(w, http.StatusNotFound, fmt.Sprintf("order %d does not exist", id), nil)
		return
	}
	if err != nil {
		dbProblem(w, err)
		return
	}
	body, err = json.Marshal(o.view())
	if err != nil {
		problem(w, http.StatusInternalServerError, "internal error", nil)
		return
	}
	if cacheStatus == "MISS" {
		s.cacheDo("SETEX", key, cacheTTLSeconds, body)
	}
	w.Header()["X-Cache"] = []string{cacheStatus}
	sendJSON(w, http.StatusOK, body)
}

// ---- GET /orders ---------------------------------------------------------------

type listQuery struct {
	customerID int64
	status     string
	limit      int
	cursorAt   time.Time
	cursorID   int64
	hasCursor  bool
}

func parseListQuery(r *http.Request) (listQuery, []fieldError) {
	q := listQuery{limit: 20}
	var errs []fieldError
	for name, values := range r.URL.Query() {
		if len(values) > 1 {
			errs = append(errs, fieldError{name, "given more than once"})
			continue
		}
		v := values[0]
		switch name {
		case "customer_id":
			id, ok := parseID(v)
			if !ok {
				errs = append(errs, fieldError{name, "must be a positive 64-bit integer"})
			}
			q.customerID = id
		case "status":
			if !statusIsValid(v) {
				errs = append(errs, fieldError{name, "must be one of pending, paid, shipped, delivered, cancelled"})
			}
			q.status = v
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > listLimitMax {
				errs = append(errs, fieldError{name, "must be an integer from 1 to 100"})
			}
			q.limit = n
		case "cursor":
			q.cursorAt, q.cursorID, q.hasCursor = decodeCursor(v)
			if !q.hasCursor {
				errs = append(errs, fieldError{name, "is not a cursor returned by this service"})
			}
		default:
			errs = append(errs, fieldError{name, "unknown query parameter"})
		}
	}
	return q, errs
}

// listSQL: newest first, strictly older than the cursor, as a row
// comparison that matches the (..., created_at DESC, id DESC) indexes.
func (q listQuery) sql() (string, []any) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if q.customerID > 0 {
		add("customer_id = $%d", q.customerID)
	}
	if q.status != "" {
		add("status = $%d", q.status)
	}
	if q.hasCursor {
		args = append(args, q.cursorAt, q.cursorID)
		where = append(where, fmt.Sprintf("(created_at, id) < ($%d, $%d)", len(args)-1, len(args)))
	}
	text := "SELECT " + orderColumns + " FROM orders"
	if len(where) > 0 {
		text += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, q.limit+1) // one more tells whether there is a next page
	return text + fmt.Sprintf(" ORDER BY created_at DESC, id DESC LIMIT $%d", len(args)), args
}

func (s *service) list(w http.ResponseWriter, r *http.Request) {
	q, errs := parseListQuery(r)
	if len(errs) > 0 {
		problem(w, http.StatusBadRequest, "the query string is not valid", errs)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	text, args := q.sql()
	rows, err := s.db.Query(ctx, text, args...)
	if err != nil {
		dbProblem(w, err)
		return
	}
	defer rows.Close()
	page := struct {
		Data       []orderJSON `json:"data"`
		NextCursor *string     `json:"next_cursor"`
	}{Data: make([]orderJSON, 0, q.limit)}
	var last order
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			dbProblem(w, err)
			return
		}
		if len(page.Data) == q.limit {
			cursor := encodeCursor(last.createdAt, last.id)
			page.NextCursor = &cursor
			break
		}
		page.Data = append(page.Data, o.view())
		last = o
	}
	if err := rows.Err(); err != nil {
		dbProblem(w, err)
		return
	}
	body, err := json.Marshal(page)
	if err != nil {
		problem(w, http.StatusInternalServerError, "internal error", nil)
		return
	}
	sendJSON(w, http.StatusOK, body)
}

// ---- writes ----------------------------------------------------------------------

// decodeBody reads a JSON object body into v; false when it has answered.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	media, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || media != "application/json" {
		problem(w, http.StatusUnsupportedMediaType, "Content-Type: application/json is required", nil)
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, bodyLimit))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	var tooLarge *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return true
	case errors.As(err, &tooLarge):
		problem(w, http.StatusRequestEntityTooLarge, "the body is too large", nil)
	case errors.As(err, &typeErr):
		problem(w, http.StatusUnprocessableEntity, "the order is not valid",
			[]fieldError{{typeErr.Field, "must be of type " + typeErr.Type.String()}})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		problem(w, http.StatusUnprocessableEntity, "the order is not valid", []fieldError{{field, "unknown field"}})
	default:
		problem(w, http.StatusBadRequest, "malformed JSON: "+err.Error(), nil)
	}
	return false
}

func (s *service) create(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if !decodeBody(w, r, &req) {
		return
	}
	n, errs := checkCreate(req)
	if len(errs) > 0 {
		problem(w, http.StatusUnprocessableEntity, "the order is not valid", errs)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	o, err := scanOrder(s.db.QueryRow(ctx,
		"INSERT INTO orders (customer_id, status, currency, total, items) "+
			"VALUES ($1, 'pending', $2, $3::numeric, $4::jsonb) RETURNING "+orderColumns,
		n.customerID, n.currency, n.total, n.items))
	if err != nil {
		dbProblem(w, err)
		return
	}
	body, err := json.Marshal(o.view())
	if err != nil {
		problem(w, http.StatusInternalServerError, "internal error", nil)
		return
	}
	w.Header()["Location"] = []string{"/orders/" + strconv.FormatInt(o.id, 10)}
	sendJSON(w, http.StatusCreated, body)
}

func (s *service) patch(w http.ResponseWriter, r *http.Request, id int64) {
	var req struct {
		Status *string `json:"status"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Status == nil || !statusIsValid(*req.Status) {
		problem(w, http.StatusUnprocessableEntity, "the change is not valid",
			[]fieldError{{"status", "must be one of pending, paid, shipped, delivered, cancelled"}})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	// one statement decides and applies the transition, as orderd's does
	o, err := scanOrder(s.db.QueryRow(ctx,
		"UPDATE orders SET status = $2, version = version + 1, updated_at = now() "+
			"WHERE id = $1 AND status = ANY($3) RETURNING "+orderColumns,
		id, *req.Status, allowedFrom[*req.Status]))
	if errors.Is(err, pgx.ErrNoRows) {
		s.noChange(ctx, w, id, *req.Status)
		return
	}
	if err != nil {
		dbProblem(w, err)
		return
	}
	s.cacheDo("DEL", cacheKey(id))
	body, err := json.Marshal(o.view())
	if err != nil {
		problem(w, http.StatusInternalServerError, "internal error", nil)
		return
	}
	sendJSON(w, http.StatusOK, body)
}

// noChange tells a missing order (404) from a forbidden transition (409).
func (s *service) noChange(ctx context.Context, w http.ResponseWriter, id int64, to string) {
	var exists bool
	err := s.db.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM orders WHERE id = $1)", id).Scan(&exists)
	switch {
	case err != nil:
		dbProblem(w, err)
	case !exists:
		problem(w, http.StatusNotFound, fmt.Sprintf("order %d does not exist", id), nil)
	default:
		problem(w, http.StatusConflict, fmt.Sprintf("the order cannot move to %q from its current status", to), nil)
	}
}

func (s *service) remove(w http.ResponseWriter, r *http.Request, id int64) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	tag, err := s.db.Exec(ctx, "DELETE FROM orders WHERE id = $1", id)
	if err != nil {
		dbProblem(w, err)
		return
	}
	if tag.RowsAffected() == 0 {
		problem(w, http.StatusNotFound, fmt.Sprintf("order %d does not exist", id), nil)
		return
	}
	s.cacheDo("DEL", cacheKey(id))
	w.WriteHeader(http.StatusNoContent)
}
