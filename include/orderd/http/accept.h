/*
 * accept.h - proactive content negotiation on the Accept field
 * (RFC 9110 12.5.1): which of the media types a handler offers does the
 * client take best?  Pure code: no I/O, no allocation.
 *
 * What is read: a comma-separated list of media ranges ("type/subtype",
 * "type/\*", "*\/\*"), each with optional parameters; "q" (any case) is the
 * weight, 0 to 1 with up to three decimals, 1 when absent; every other
 * parameter is ignored, quoted values included.  Names compare without
 * regard to case.  For each offer the most specific range that matches it
 * gives its weight (an exact type beats "type/\*", which beats "*\/\*"; of
 * equally specific ones the highest weight wins), so "*\/\*, text/html;q=0"
 * refuses only text/html.  q=0 means "not acceptable".
 *
 * Malformed members (no slash, "*\/json", a bad token, a bad q) are
 * skipped, as if the client had not sent them.  A field with no
 * well-formed member at all (empty, or nothing but such members) counts
 * as no Accept field: any type will do.
 */
#ifndef ORDERD_ACCEPT_H
#define ORDERD_ACCEPT_H

#include <stddef.h>

/* Weights are thousandths: 0 (refused) to 1000 (q=1). */
#define ACCEPT_Q_MAX 1000

/*
 * The weight accept (the field's value; NULL = no field) gives offer, a
 * media type "type/subtype" without parameters.
 */
int accept_quality(const char *accept, const char *offer);

/*
 * The index of the offer accept takes best: the highest weight, and of
 * equal weights the earliest offer (list them in the server's
 * preference).  -1 when every offer's weight is 0: the answer is 406.
 * count >= 1; with no Accept field (NULL), 0.
 */
int accept_choose(const char *accept, const char *const offers[], size_t count);

#endif
