/*
 * smtpd_tls - STARTTLS for testsmtpd: the server's SSL_CTX (a certificate from the command line, or a
 * self-signed one made at start) and the switch of a plaintext bufferevent to TLS.
 *
 * RFC 3207: after "220 2.0.0 Ready to start TLS" the server discards whatever the client sent after
 * STARTTLS in plaintext (it was sent before the client could know TLS would start: the STARTTLS
 * command injection of CVE-2011-0411), then runs the handshake on the same connection.
 */
#ifndef SMTPD_TLS_H
#define SMTPD_TLS_H

#include <stddef.h>

struct bufferevent;
struct event_base;
typedef struct ssl_ctx_st SSL_CTX;

/*
 * cert and key: PEM files; both NULL makes a self-signed certificate (EC P-256, 10 years) for
 * hostname. NULL and a message on error.
 */
SSL_CTX *smtpd_tls_create(const char *cert, const char *key, const char *hostname, char *err, size_t errlen);
void smtpd_tls_free(SSL_CTX *ctx);

/*
 * Discards the plaintext input still buffered on bev and wraps it in a TLS filter (server side,
 * handshake started). The filter owns bev from then on (freeing the filter frees bev); NULL on failure
 * (bev is then untouched).
 */
struct bufferevent *smtpd_tls_start(struct event_base *base, struct bufferevent *bev, SSL_CTX *ctx);

#endif
