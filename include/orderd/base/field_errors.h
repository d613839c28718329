/*
 * field_errors.h - a bounded list of (field, message) pairs: what is
 * wrong with which part of a request.  The domain fills it while it
 * validates; problem.h renders it as the "errors" member.
 *
 * Fixed-size and by value (no allocation), so a validator can declare
 * one on the stack and nothing needs freeing.
 */
#ifndef ORDERD_FIELD_ERRORS_H
#define ORDERD_FIELD_ERRORS_H

#include <stddef.h>

#define FIELD_ERRORS_MAX 16
typedef struct field_error {
    char field[64]; /* JSON path such as "items[2].quantity" */
    char message[128];
} field_error;

typedef struct field_errors {
    field_error list[FIELD_ERRORS_MAX];
    size_t count; /* stops growing at FIELD_ERRORS_MAX */
} field_errors;

/* Appends one error (field may be NULL: ""); both texts are truncated to fit. */
void field_errors_add(field_errors *errs, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
