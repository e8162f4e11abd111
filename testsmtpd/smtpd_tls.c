/*
 * smtpd_tls - the SSL_CTX and the STARTTLS switch (smtpd_tls.h).
 *
 * The self-signed certificate is made with OpenSSL 3's EVP API (EVP_PKEY_Q_keygen): an EC P-256 key
 * takes a millisecond, where RSA would make every start of a test server noticeably slow. MTAs that
 * deliver opportunistically (Postfix's default smtp_tls_security_level=may) accept it; swaks and
 * tests that verify must give --tls-cert/--tls-key. Session tickets and a small session cache keep
 * repeated handshakes from one MTA cheap, as a real receiver would.
 */
#include "testsmtpd/smtpd_tls.h"

#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static void smtpd_tls_error(char *err, size_t errlen, const char *what)
{
    char why[256];
    unsigned long e = ERR_get_error();
    ERR_error_string_n(e, why, sizeof(why));
    snprintf(err, errlen, "%s: %s", what, e ? why : "failed");
    ERR_clear_error();
}

static int smtpd_tls_self_signed(SSL_CTX *ctx, const char *hostname, char *err, size_t errlen)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    X509_EXTENSION *ext = NULL;
    int ok = key && x;
    if (ok) {
        char san[300];
        snprintf(san, sizeof(san), "DNS:%s", hostname);
        X509_NAME *name = X509_get_subject_name(x);
        X509V3_CTX v3;
        ok = X509_set_version(x, 2) && ASN1_INTEGER_set(X509_get_serialNumber(x), 1) &&
             X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
             X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 24 * 3600) && X509_set_pubkey(x, key) &&
             X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"testsmtpd", -1, -1, 0) &&
             X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)hostname, -1, -1, 0) &&
             X509_set_issuer_name(x, name);
        if (ok) {
            X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
            ok = (ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san)) != NULL && X509_add_ext(x, ext, -1);
        }
        ok = ok && X509_sign(x, key, EVP_sha256()) && SSL_CTX_use_certificate(ctx, x) == 1 &&
             SSL_CTX_use_PrivateKey(ctx, key) == 1;
    }
    if (!ok)
        smtpd_tls_error(err, errlen, "cannot make a self-signed certificate");
    X509_EXTENSION_free(ext);
    X509_free(x);
    EVP_PKEY_free(key);
    return ok ? 0 : -1;
}

SSL_CTX *smtpd_tls_create(const char *cert, const char *key, const char *hostname, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        smtpd_tls_error(err, errlen, "TLS");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS); /* idle TLS sessions keep no 32 KB buffers */
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"testsmtpd", 9);
    if (cert || key) {
        if (!cert || !key) {
            snprintf(err, errlen, "--tls-cert and --tls-key go together");
            SSL_CTX_free(ctx);
            return NULL;
        }
        if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
            smtpd_tls_error(err, errlen, cert);
            SSL_CTX_free(ctx);
            return NULL;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
            smtpd_tls_error(err, errlen, key);
            SSL_CTX_free(ctx);
            return NULL;
        }
    } else if (smtpd_tls_self_signed(ctx, hostname ? hostname : "localhost", err, errlen) < 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

void smtpd_tls_free(SSL_CTX *ctx) { SSL_CTX_free(ctx); }

struct bufferevent *smtpd_tls_start(struct event_base *base, struct bufferevent *bev, SSL_CTX *ctx)
{
    SSL *ssl = SSL_new(ctx);
    if (!ssl)
        return NULL;
    /* Bytes that arrived in plaintext after STARTTLS were never protected: discard them. */
    struct evbuffer *in = bufferevent_get_input(bev);
    evbuffer_drain(in, evbuffer_get_length(in));
    struct bufferevent *tls =
        bufferevent_openssl_filter_new(base, bev, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                      BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (!tls)
        return NULL; /* libevent freed ssl (BEV_OPT_CLOSE_ON_FREE) */
    bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
    return tls;
}
