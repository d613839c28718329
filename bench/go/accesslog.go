package main

// accesslog.go - the request log and the per-request state it records.
//
// One JSON line per request, in orderd's field order, appended to a
// 64 KiB buffer under a mutex and written out by one goroutine every
// 20 ms (or when the buffer fills): the same batching orderd's log.c
// does, so neither service pays a write(2) per request.

import (
	"bufio"
	crand "crypto/rand"
	"encoding/binary"
	"io"
	"math/rand"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

const (
	logBufferSize    = 64 << 10
	logFlushInterval = 20 * time.Millisecond
)

type accessLog struct {
	on   bool
	mu   sync.Mutex // guards w
	w    *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

func newAccessLog(out io.Writer, on bool) *accessLog {
	l := &accessLog{on: on, w: bufio.NewWriterSize(out, logBufferSize),
		stop: make(chan struct{}), done: make(chan struct{})}
	go l.flushEvery(logFlushInterval)
	return l
}

func (l *accessLog) flushEvery(interval time.Duration) {
	defer close(l.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			l.flush()
		case <-l.stop:
			l.flush()
			return
		}
	}
}

func (l *accessLog) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.w.Flush() // a full disk must not stop the service
}

// Close stops the flusher after writing what is buffered.
func (l *accessLog) Close() {
	close(l.stop)
	<-l.done
}

func (l *accessLog) writeLine(line []byte) {
	l.mu.Lock()
	_, _ = l.w.Write(line)
	l.mu.Unlock()
}

// event logs one line that is not a request (start-up).
func (l *accessLog) event(msg, listen string) {
	line := make([]byte, 0, 128)
	line = append(line, `{"ts":"`...)
	line = time.Now().UTC().AppendFormat(line, "2006-01-02T15:04:05.000Z")
	line = append(line, `","level":"info","msg":`...)
	line = appendJSONString(line, msg)
	line = append(line, `,"listen":`...)
	line = appendJSONString(line, listen)
	line = append(line, "}\n"...)
	l.writeLine(line)
	l.flush()
}

// exchange is one request's state: the ResponseWriter handlers write to,
// which remembers what the log line needs.
type exchange struct {
	http.ResponseWriter
	start     time.Time
	requestID string
	route     string
	status    int
	bytes     int
}

func (e *exchange) WriteHeader(status int) {
	if e.status == 0 {
		e.status = status
	}
	e.ResponseWriter.WriteHeader(status)
}

func (e *exchange) Write(p []byte) (int, error) {
	if e.status == 0 {
		e.status = http.StatusOK
	}
	n, err := e.ResponseWriter.Write(p)
	e.bytes += n
	return n, err
}

var exchanges = sync.Pool{New: func() any { return new(exchange) }}

// wrap gives every request its X-Request-ID (the client's when it is
// well-formed) and, after the handler, its log line.
func (l *accessLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := exchanges.Get().(*exchange)
		*e = exchange{ResponseWriter: w, start: time.Now(), route: "-"}
		e.requestID = r.Header.Get("X-Request-ID")
		if !requestIDIsValid(e.requestID) {
			e.requestID = newUUID()
		}
		w.Header()["X-Request-Id"] = []string{e.requestID}
		h.ServeHTTP(e, r)
		if l.on {
			l.writeLine(appendRequestLine(make([]byte, 0, 256), e, r))
		}
		*e = exchange{}
		exchanges.Put(e)
	})
}

func appendRequestLine(b []byte, e *exchange, r *http.Request) []byte {
	now := time.Now()
	b = append(b, `{"ts":"`...)
	b = now.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, `","level":"info","msg":"request","request_id":`...)
	b = appendJSONString(b, e.requestID)
	b = append(b, `,"method":`...)
	b = appendJSONString(b, r.Method)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, r.URL.RequestURI())
	b = append(b, `,"route":`...)
	b = appendJSONString(b, e.route)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.status), 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, float64(now.Sub(e.start).Microseconds())/1000, 'f', 3, 64)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, int64(e.bytes), 10)
	b = append(b, `,"remote":`...)
	b = appendJSONString(b, r.RemoteAddr)
	return append(b, "}\n"...)
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, "\ufffd"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

func jsonEscape(s string) string {
	b := appendJSONString(nil, s)
	return string(b[1 : len(b)-1])
}

// orderd's rule: [A-Za-z0-9._-]{1,128}
func requestIDIsValid(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Random sources for request ids, one per goroutine at a time: the
// package-level math/rand source would be one lock for every request.
var randoms = sync.Pool{New: func() any {
	var seed [8]byte
	if _, err := crand.Read(seed[:]); err != nil {
		panic(err)
	}
	return rand.New(rand.NewSource(int64(binary.LittleEndian.Uint64(seed[:]))))
}}

// newUUID is a random (version 4) UUID, as orderd generates.
func newUUID() string {
	rng := randoms.Get().(*rand.Rand)
	var u [16]byte
	binary.LittleEndian.PutUint64(u[:8], rng.Uint64())
	binary.LittleEndian.PutUint64(u[8:], rng.Uint64())
	randoms.Put(rng)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	out := make([]byte, 36)
	for i, j := 0, 0; i < 16; i++ {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = hex[u[i]>>4], hex[u[i]&15]
		j += 2
	}
	return string(out)
}
