package main

// order.go - the order: its JSON, the checks on a new order, money as
// cents, and list cursors in orderd's format.  No I/O.

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"strconv"
	"strings"
	"time"
)

// orderColumns is what scanOrder reads, in this order.
const orderColumns = "id, customer_id, status, currency::text, total::text, items::text, " +
	"version, created_at, updated_at"

// orderJSON is an order as the API shows it: orderd's field order, money
// as decimal text, timestamps with microseconds in UTC.
type orderJSON struct {
	ID         int64           `json:"id"`
	CustomerID int64           `json:"customer_id"`
	Status     string          `json:"status"`
	Currency   string          `json:"currency"`
	Total      string          `json:"total"`
	Items      json.RawMessage `json:"items"`
	Version    int64           `json:"version"`
	CreatedAt  string          `json:"created_at"`
	UpdatedAt  string          `json:"updated_at"`
}

// order is a row of the orders table.
type order struct {
	id, customerID, version int64
	status, currency, total string
	items                   string
	createdAt, updatedAt    time.Time
}

type scanner interface {
	Scan(dest ...any) error
}

func scanOrder(row scanner) (order, error) {
	var o order
	err := row.Scan(&o.id, &o.customerID, &o.status, &o.currency, &o.total, &o.items,
		&o.version, &o.createdAt, &o.updatedAt)
	return o, err
}

const timeLayout = "2006-01-02T15:04:05.000000Z"

func (o order) view() orderJSON {
	return orderJSON{
		ID: o.id, CustomerID: o.customerID, Status: o.status, Currency: o.currency,
		Total: o.total, Items: json.RawMessage(o.items), Version: o.version,
		CreatedAt: o.createdAt.UTC().Format(timeLayout), UpdatedAt: o.updatedAt.UTC().Format(timeLayout),
	}
}

// ---- statuses ------------------------------------------------------------

// allowedFrom: the statuses an order may move to the key from.  A status
// missing here (pending) is valid but no order can move to it.
var allowedFrom = map[string][]string{
	"paid":      {"pending"},
	"shipped":   {"paid"},
	"delivered": {"shipped"},
	"cancelled": {"pending", "paid"},
}

func statusIsValid(s string) bool {
	switch s {
	case "pending", "paid", "shipped", "delivered", "cancelled":
		return true
	}
	return false
}

// ---- money ---------------------------------------------------------------

const maxCents = 999999999999 // numeric(12,2)

// parseMoney reads a JSON string or number with at most two decimals.
func parseMoney(raw json.RawMessage) (int64, string) {
	text := string(bytes.TrimSpace(raw))
	if strings.HasPrefix(text, `"`) {
		if err := json.Unmarshal(raw, &text); err != nil {
			return 0, "must be a decimal string or number"
		}
	}
	whole, frac, dotted := strings.Cut(text, ".")
	if whole == "" || len(whole) > 10 || !allDigits(whole) || (dotted && (len(frac) < 1 || len(frac) > 2 || !allDigits(frac))) {
		if strings.HasPrefix(text, "-") {
			return 0, "must not be negative"
		}
		return 0, "must be a decimal with at most 2 decimals, at most 9999999999.99"
	}
	cents, _ := strconv.ParseInt(whole, 10, 64)
	cents *= 100
	if len(frac) == 1 {
		frac += "0"
	}
	if frac != "" {
		f, _ := strconv.ParseInt(frac, 10, 64)
		cents += f
	}
	return cents, ""
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func formatMoney(cents int64) string {
	frac := cents % 100
	s := strconv.FormatInt(cents/100, 10) + "."
	if frac < 10 {
		s += "0"
	}
	return s + strconv.FormatInt(frac, 10)
}

// ---- a new order -----------------------------------------------------------

type createRequest struct {
	CustomerID *int64          `json:"customer_id"`
	Currency   *string         `json:"currency"`
	Total      json.RawMessage `json:"total"`
	Items      []itemRequest   `json:"items"`
}

type itemRequest struct {
	SKU       *string         `json:"sku"`
	Quantity  *int64          `json:"quantity"`
	UnitPrice json.RawMessage `json:"unit_price"`
}

// storedItem is an item as it is stored and shown: the price as text.
type storedItem struct {
	SKU       string `json:"sku"`
	Quantity  int64  `json:"quantity"`
	UnitPrice string `json:"unit_price"`
}

type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// newOrder is what an INSERT needs: validated, total reconciled.
type newOrder struct {
	customerID int64
	currency   string
	total      string
	items      string
}

const maxItems = 100

func skuIsValid(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func checkItems(in []itemRequest, errs []fieldError) ([]storedItem, int64, []fieldError) {
	items := make([]storedItem, 0, len(in))
	var sum int64
	for i, it := range in {
		at := "items[" + strconv.Itoa(i) + "]."
		before := len(errs)
		switch {
		case it.SKU == nil:
			errs = append(errs, fieldError{at + "sku", "is required"})
		case !skuIsValid(*it.SKU):
			errs = append(errs, fieldError{at + "sku", "must be 1 to 64 characters of A-Z a-z 0-9 . _ -"})
		}
		switch {
		case it.Quantity == nil:
			errs = append(errs, fieldError{at + "quantity", "is required"})
		case *it.Quantity < 1 || *it.Quantity > 1000000:
			errs = append(errs, fieldError{at + "quantity", "must be between 1 and 1000000"})
		}
		var price int64
		if it.UnitPrice == nil {
			errs = append(errs, fieldError{at + "unit_price", "is required"})
		} else if p, why := parseMoney(it.UnitPrice); why != "" {
			errs = append(errs, fieldError{at + "unit_price", why})
		} else {
			price = p
		}
		if len(errs) > before {
			continue
		}
		sum += *it.Quantity * price // at most 100 x 1e6 x 1e12: no overflow
		items = append(items, storedItem{*it.SKU, *it.Quantity, formatMoney(price)})
	}
	return items, sum, errs
}

// checkCreate validates a decoded body the way orderd does: with items an
// absent total is their sum and a given one must equal it.
func checkCreate(req createRequest) (newOrder, []fieldError) {
	var errs []fieldError
	var n newOrder
	switch {
	case req.CustomerID == nil:
		errs = append(errs, fieldError{"customer_id", "is required"})
	case *req.CustomerID < 1:
		errs = append(errs, fieldError{"customer_id", "must be a positive integer"})
	default:
		n.customerID = *req.CustomerID
	}
	n.currency = "USD"
	if req.Currency != nil {
		n.currency = *req.Currency
		if len(n.currency) != 3 || strings.ToUpper(n.currency) != n.currency || !allLetters(n.currency) {
			errs = append(errs, fieldError{"currency", `must be an ISO 4217 code such as "USD"`})
		}
	}
	var total int64 = -1
	if req.Total != nil {
		t, why := parseMoney(req.Total)
		if why != "" {
			errs = append(errs, fieldError{"total", why})
		} else {
			total = t
		}
	}
	if len(req.Items) > maxItems {
		return n, append(errs, fieldError{"items", "must have at most 100 items"})
	}
	items, sum, errs := checkItems(req.Items, errs)
	switch {
	case len(req.Items) > 0 && sum > maxCents:
		errs = append(errs, fieldError{"items", "the sum of the items must be at most 9999999999.99"})
	case len(req.Items) > 0 && req.Total == nil:
		total = sum
	case len(req.Items) > 0 && total >= 0 && total != sum:
		errs = append(errs, fieldError{"total", "must equal the sum of the items (" + formatMoney(sum) + ")"})
	case len(req.Items) == 0 && req.Total == nil:
		errs = append(errs, fieldError{"total", "is required"})
	}
	if len(errs) > 0 {
		return n, errs
	}
	rendered, err := json.Marshal(items)
	if err != nil {
		return n, []fieldError{{"items", "could not be stored"}}
	}
	n.total, n.items = formatMoney(total), string(rendered)
	return n, nil
}

func allLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// ---- list cursors ------------------------------------------------------------

// orderd's cursor: base64url (no padding) of a format byte, created_at in
// Unix microseconds and the id (big endian), and an FNV-1a sum of those 17.
const cursorVersion = 1

func encodeCursor(createdAt time.Time, id int64) string {
	var raw [21]byte
	raw[0] = cursorVersion
	binary.BigEndian.PutUint64(raw[1:], uint64(createdAt.UnixMicro()))
	binary.BigEndian.PutUint64(raw[9:], uint64(id))
	h := fnv.New32a()
	h.Write(raw[:17])
	binary.BigEndian.PutUint32(raw[17:], h.Sum32())
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

func decodeCursor(text string) (time.Time, int64, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(text)
	if err != nil || len(raw) != 21 || raw[0] != cursorVersion {
		return time.Time{}, 0, false
	}
	h := fnv.New32a()
	h.Write(raw[:17])
	if binary.BigEndian.Uint32(raw[17:]) != h.Sum32() {
		return time.Time{}, 0, false
	}
	id := int64(binary.BigEndian.Uint64(raw[9:]))
	if id < 1 {
		return time.Time{}, 0, false
	}
	return time.UnixMicro(int64(binary.BigEndian.Uint64(raw[1:]))), id, true
}
