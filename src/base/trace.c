/*
 * trace.c - W3C Trace Context ids (see trace.h).
 */
#include "orderd/base/trace.h"

#include <string.h>

#include "orderd/base/fmt.h"
#include "orderd/base/random.h"

static bool is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* n lowercase hex digits, not all of them '0' (when nonzero_required). */
static bool hex_field(const char *s, size_t n, bool nonzero_required)
{
    bool nonzero = false;
    for (size_t i = 0; i < n; i++) {
        if (!is_lower_hex(s[i]))
            return false;
        nonzero |= s[i] != '0';
    }
    return nonzero || !nonzero_required;
}

static int hex_value(char c)
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

bool trace_parse_traceparent(const char *value, trace_context *out)
{
    /* version "-" trace-id "-" parent-id "-" trace-flags */
    if (!value)
        return false;
    size_t len = strlen(value);
    if (len < TRACEPARENT_LEN || value[2] != '-' || value[35] != '-' || value[52] != '-')
        return false;
    if (!hex_field(value, 2, false) || strncmp(value, "ff", 2) == 0)
        return false;
    bool version_00 = strncmp(value, "00", 2) == 0;
    if (version_00 ? len != TRACEPARENT_LEN : (len > TRACEPARENT_LEN && value[55] != '-'))
        return false;
    if (!hex_field(value + 3, TRACE_ID_HEX, true) || !hex_field(value + 36, TRACE_SPAN_HEX, true) ||
        !hex_field(value + 53, 2, false))
        return false;
    memcpy(out->trace_id, value + 3, TRACE_ID_HEX);
    out->trace_id[TRACE_ID_HEX] = '\0';
    memcpy(out->parent_id, value + 36, TRACE_SPAN_HEX);
    out->parent_id[TRACE_SPAN_HEX] = '\0';
    out->sampled = (hex_value(value[54]) & 1) != 0;
    return true;
}

/* 16 hex digits of a random nonzero 64-bit value (all zeros is invalid). */
static void random_hex16(char out[16])
{
    uint64_t v;
    do
        v = random_u64();
    while (v == 0);
    fmt_hex_u64(v, out);
}

void trace_start(trace_context *t, const char *traceparent)
{
    if (!trace_parse_traceparent(traceparent, t)) {
        random_hex16(t->trace_id);
        random_hex16(t->trace_id + 16);
        t->trace_id[TRACE_ID_HEX] = '\0';
        t->parent_id[0] = '\0';
        /* nothing upstream decided: every request is recorded, in the logs */
        t->sampled = true;
    }
    random_hex16(t->span_id);
    t->span_id[TRACE_SPAN_HEX] = '\0';
}

void trace_format_traceparent(const trace_context *t, char out[TRACEPARENT_LEN + 1])
{
    memcpy(out, "00-", 3);
    memcpy(out + 3, t->trace_id, TRACE_ID_HEX);
    out[35] = '-';
    memcpy(out + 36, t->span_id, TRACE_SPAN_HEX);
    memcpy(out + 52, t->sampled ? "-01" : "-00", 4);
}

bool trace_tracestate_valid(const char *value)
{
    if (!value)
        return false;
    bool member = false;
    size_t n = 0;
    for (const char *p = value; *p; p++, n++) {
        if (n >= TRACESTATE_MAX || *p < 0x20 || *p > 0x7e)
            return false;
        member |= *p != ' ' && *p != '\t' && *p != ',';
    }
    return member;
}
