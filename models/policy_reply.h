/*
 * policy_reply - reply texts of the policy engine.
 *
 * A reply is "CODE [ENH] text": a three-digit code 200-559, an optional enhanced status code whose
 * class matches the code (4.7.0 with 4xx), printable US-ASCII, lines of at most 510 characters;
 * multi-line replies separate lines with "\n" and every line but the last starts "CODE-". Texts may
 * carry %h (the receiver's host name), %i (the client IP), %r (the recipient), %d (its domain), %%.
 */
#ifndef POLICY_REPLY_H
#define POLICY_REPLY_H

#include <stddef.h>

#define POLICY_REPLY_LINE_MAX 510 /* RFC 5321 4.5.3.1.5: 512 octets with CRLF */

/* Returns the reply's code, or 0 after writing why it is not a valid reply into why. */
int policy_reply_parse(const char *reply, char *why, size_t whylen);
/* Expands tmpl into out (NULL: only measure); returns the length without the NUL. rcpt may be NULL.
 * Characters a reply line must not carry are replaced by '?'. */
size_t policy_reply_expand(char *out, const char *tmpl, const char *host, const char *ip, const char *rcpt);

#endif
