/*
 * field_errors.c - see field_errors.h.
 */
#include "orderd/base/field_errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void field_errors_add(field_errors *errs, const char *field, const char *fmt, ...)
{
    if (errs->count >= FIELD_ERRORS_MAX)
        return;
    field_error *e = &errs->list[errs->count++];
    size_t n = field != NULL ? strlen(field) : 0;
    if (n >= sizeof e->field)
        n = sizeof e->field - 1;
    if (n > 0)
        memcpy(e->field, field, n);
    e->field[n] = '\0';

    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}
