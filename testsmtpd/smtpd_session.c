/*
 * smtpd_session - testsmtpd's SMTP protocol engine for one connection (smtpd_session.h).
 *
 * Bytes in, replies out, the monotonic time as an argument: no socket, no clock, no libevent here,
 * so the dialogue files (tests/dialogues) run through this file in-process exactly as they run
 * against the server.
 *
 * Commands. A command line is gathered into a buffer of max_line bytes, allocated once per session;
 * a longer line is thrown away as it arrives and answered "500 5.5.0 Error: line too long" when its
 * LF comes. A line that ends in a bare LF is answered and not executed (a client that sends bare LFs
 * is confused about line ends, and executing its lines is how SMTP smuggling starts); a NUL byte gets
 * "bad syntax". The replies, their enhanced codes and the order of the checks follow Postfix's smtpd,
 * which is the receiver most MTA operators know and the simulator's model of one.
 *
 * Message content is never buffered: the DATA scanner (smtpd_data.c) unstuffs it and passes it to
 * ops->body in runs as it arrives, counting the size, long lines and bare LFs; a message it refuses
 * (bare LF, too big, a line too long) gets the RFC reply at its end and ops->discard.
 *
 * Policy. The verdicts of models/policy replace the normal reply at their stage, with their delay:
 * CONNECT (the greeting), HELO/EHLO, MAIL, each RCPT, DATA and the final dot. The engine's own checks
 * (sequence, syntax, relay, limits) come first: a command the engine refuses never reaches the policy,
 * so a broken client does not spend a rate window it never really used. The policy session is busy
 * from connect and from MAIL, idle after each transaction (the end of data whatever its reply, RSET,
 * a refused MAIL, a new EHLO); a session that never finished a transaction stays busy, as the policy
 * engine counts it. Each change is an event ("busy", "idle") for the event log.
 *
 * Delays. A reply with a delay (a tarpit) is kept in the session's reply buffer and the engine stops
 * consuming input until smtpd_session_resume: the server holds the unread bytes, so pipelined commands
 * are answered in order, each after its own delay. Nothing is evaluated ahead of its time, as a real
 * tarpitting server does not read on while it sleeps.
 *
 * Errors. Every 5xx the engine itself gives to a command counts; at max_errors the client gets
 * "421 4.7.0 HOST Error: too many errors" and the session closes, as Postfix's smtpd_hard_error_limit.
 * Policy verdicts and the replies at the end of data do not count: they are about the mail, not about
 * a client that does not speak SMTP.
 *
 * Memory per session: the struct, the line buffer (max_line), a reply buffer sized by the longest
 * reply, and the transaction's envelope (at most max_recipients addresses of one line each). Buffers
 * are kept between transactions, so a session in steady state allocates nothing.
 */
#include "testsmtpd/smtpd_session.h"
#include "sim/sim_mem.h"

#include "testsmtpd/smtpd_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SMTPD_DEFAULT_HOST "mx.test"

typedef enum {
    SMTPD_ST_COMMAND,  /* reading command lines */
    SMTPD_ST_DATA,     /* reading message content */
    SMTPD_ST_DENIED,   /* the greeting was a refusal that did not close: only QUIT is served (RFC 5321 3.1) */
    SMTPD_ST_TLS_WAIT, /* STARTTLS accepted: plaintext is discarded until the handshake is done */
    SMTPD_ST_CLOSED,
} smtpd_state;

/* A growable byte buffer that is never shrunk (no allocation once it has its working size). */
typedef struct smtpd_buf {
    char *p;
    size_t len, cap;
} smtpd_buf;

struct smtpd_session {
    smtpd_receiver rcv;
    smtpd_limits lim;
    const smtpd_ops *ops;
    void *ctx;
    policy_session *ps;
    smtpd_state state;
    bool helo;        /* HELO/EHLO seen (since the start or since TLS began) */
    bool tls;         /* TLS active */
    bool mail;        /* MAIL accepted: a transaction is open */
    bool busy;        /* the policy counts this session as busy */
    bool close_event; /* "close" was logged */
    uint32_t errors;

    /* command line */
    char *line;
    size_t llen;
    bool too_long;

    /* transaction: sender then recipients, NUL-terminated, in env; offsets of the recipients in roff */
    smtpd_buf env;
    size_t *roff;
    const char **rcptv;
    size_t nrcpt, rcap;

    /* DATA */
    smtpd_data data;
    bool d_open;      /* 354 sent: eom or discard owed */

    /* the reply being sent or held: its text (lines joined by '\n', NUL) then its wire form */
    smtpd_buf out;
    size_t wire;         /* offset of the wire form in out */
    int out_code, out_rule;
    bool out_count;      /* an engine reply (counted with policy_count_reply); policy replies count themselves */
    bool out_close, out_silent;
    sim_time_t paused_until;
};

/* Queue ids: the process's start (smtpd_session_id_base) plus the n-th accepted message. */
static uint64_t smtpd_queue_base, smtpd_queue_counter;


void smtpd_limits_defaults(smtpd_limits *l)
{
    *l = (smtpd_limits){.max_line = 1000,
                        .max_text_line = 1000,
                        .max_message = 10485760,
                        .max_recipients = 1000,
                        .max_errors = 10};
}

static void smtpd_buf_reserve(smtpd_buf *b, size_t need)
{
    b->p = sim_xgrow(b->p, &b->cap, need, 1, 128);
}

/* The longest reply line sent, without its CR LF (RFC 5321 4.5.3.1.5: 512 with it). */
#define SMTPD_REPLY_LINE_MAX 510

static void smtpd_buf_add(smtpd_buf *b, const char *data, size_t len)
{
    smtpd_buf_reserve(b, b->len + len);
    memcpy(b->p + b->len, data, len);
    b->len += len;
}

static const char *smtpd_host(const smtpd_session *s)
{
    return s->rcv.hostname != NULL ? s->rcv.hostname : SMTPD_DEFAULT_HOST;
}

static void smtpd_event(smtpd_session *s, const char *type, const char *text, int rule)
{
    if (s->ops->event != NULL)
        s->ops->event(s->ctx, type, text, rule);
}

/* ---- replies ---- */

/* rule: the policy rule that closed the session, or -1 (a silent close has no reply to name it). */
static void smtpd_close_now(smtpd_session *s, bool silent, int rule)
{
    if (s->state == SMTPD_ST_CLOSED)
        return;
    s->state = SMTPD_ST_CLOSED;
    s->paused_until = 0;
    s->close_event = true;
    smtpd_event(s, "close", silent ? "silent" : NULL, rule);
    /* The session ends for the policy where the log says so, not when the socket has drained (a TLS
     * session's ciphertext is polled for every few milliseconds): an MTA that reconnects at once
     * must find the slot free, as the simulated receiver does. */
    policy_close(s->rcv.pol, s->ps, 0);
    s->ps = NULL;
    if (s->ops->close != NULL)
        s->ops->close(s->ctx, silent);
}

/* Sends the reply held in out, then closes if it said so. */
static void smtpd_emit(smtpd_session *s)
{
    s->paused_until = 0;
    if (!s->out_silent) {
        s->ops->write(s->ctx, s->out.p + s->wire, s->out.len - s->wire);
        smtpd_event(s, "reply", s->out.p, s->out_rule);
        if (s->out_count)
            policy_count_reply(s->rcv.pol, s->out_code);
    }
    if (s->out_close || s->out_silent)
        smtpd_close_now(s, s->out_silent, s->out_rule);
}

/*
 * Answers with text ("250 2.1.0 Ok", or lines joined by '\n', each with its code) after delay.
 * count: an engine reply, counted here; a policy reply was counted by the policy.
 */
static void smtpd_respond(smtpd_session *s, sim_time_t now, sim_time_t delay, const char *text, int rule,
                          bool count, bool close, bool silent)
{
    s->out.len = 0;
    s->out_silent = silent;
    s->out_rule = rule;
    s->out_count = count;
    s->out_code = 0;
    if (!silent) {
        /* RFC 5321: a reply line is printable US-ASCII (4.2) of at most 512 octets with its CR LF
         * (4.5.3.1.5). Whatever its source (the engine's words around a client's, a policy text, a
         * % value), every reply is made so here, once: a line past 510 octets is cut, and every other
         * byte (a bare CR, ESC, DEL, 8-bit) becomes '?'. The log gets the text as sent. */
        const char *p = text;
        for (;;) {
            const char *nl = strchr(p, '\n');
            size_t n = nl ? (size_t)(nl - p) : strlen(p);
            char line[SMTPD_REPLY_LINE_MAX];
            size_t k = n < sizeof(line) ? n : sizeof(line);
            for (size_t i = 0; i < k; i++)
                line[i] = (unsigned char)p[i] < 0x20 || (unsigned char)p[i] >= 0x7f ? '?' : p[i];
            smtpd_buf_add(&s->out, line, k);
            smtpd_buf_add(&s->out, nl ? "\n" : "", nl ? 1 : 0);
            if (!nl)
                break;
            p = nl + 1;
        }
        smtpd_buf_add(&s->out, "", 1);
        s->wire = s->out.len;
        /* wire form: every line ends in CR LF; at most one byte more per line, so reserved once and
         * the text it is made from stays where it is */
        smtpd_buf_reserve(&s->out, 2 * s->wire + 2);
        for (const char *q = s->out.p;;) {
            const char *nl = strchr(q, '\n');
            size_t n = nl ? (size_t)(nl - q) : strlen(q);
            smtpd_buf_add(&s->out, q, n);
            smtpd_buf_add(&s->out, "\r\n", 2);
            if (!nl)
                break;
            q = nl + 1;
        }
        const char *t = s->out.p;
        if (strlen(t) >= 3 && t[0] >= '1' && t[0] <= '5')
            s->out_code = (t[0] - '0') * 100 + (t[1] - '0') * 10 + (t[2] - '0');
    }
    /* RFC 5321 4.2.2: a 421 closes the transmission channel, whoever produced it. */
    s->out_close = close || s->out_code == 421;
    if (delay > 0) {
        s->paused_until = now + delay;
        return;
    }
    smtpd_emit(s);
}

static void smtpd_reply(smtpd_session *s, sim_time_t now, const char *text)
{
    smtpd_respond(s, now, 0, text, -1, true, false, false);
}

/* A reply after a delay (the policy's tarpit on an accepted command). */
static void smtpd_reply_after(smtpd_session *s, sim_time_t now, sim_time_t delay, const char *text)
{
    smtpd_respond(s, now, delay, text, -1, true, false, false);
}

/* A protocol error: answered, counted, and the session ends at max_errors. */
static void smtpd_error(smtpd_session *s, sim_time_t now, const char *text)
{
    smtpd_reply(s, now, text);
    if (s->state == SMTPD_ST_CLOSED)
        return;
    if (++s->errors >= s->lim.max_errors) {
        char t[320];
        snprintf(t, sizeof(t), "421 4.7.0 %s Error: too many errors", smtpd_host(s));
        smtpd_respond(s, now, 0, t, -1, true, true, false);
    }
}

/* Applies a policy verdict. Returns true when it replaced the normal reply (a refusal or a close). */
static bool smtpd_verdict(smtpd_session *s, sim_time_t now, const policy_verdict *v)
{
    if (v->silent) {
        smtpd_respond(s, now, v->delay, NULL, v->rule, false, true, true);
        return true;
    }
    if (v->code != 0) {
        smtpd_respond(s, now, v->delay, v->text, v->rule, false, v->close, false);
        return true;
    }
    return false;
}

/* ---- transaction ---- */

/*
 * The one place each where the session turns busy or idle as the policy counts it; the "busy" and
 * "idle" events say so on a change only, so a reader of the event log counts open sessions by state
 * without re-implementing this engine.
 */
static void smtpd_policy_busy(smtpd_session *s)
{
    if (!s->busy)
        smtpd_event(s, "busy", NULL, -1);
    s->busy = true;
}

static void smtpd_policy_idle(smtpd_session *s, sim_time_t now)
{
    if (s->ps == NULL)
        return; /* closed: the policy counts it no more (smtpd_close_now) */
    policy_reset(s->rcv.pol, s->ps, now);
    if (s->busy)
        smtpd_event(s, "idle", NULL, -1);
    s->busy = false;
}

static void smtpd_discard(smtpd_session *s)
{
    if (s->d_open && s->ops->discard != NULL)
        s->ops->discard(s->ctx);
    s->d_open = false;
}

/* The transaction is over (accepted, refused, RSET, a new EHLO): forget the envelope. */
static void smtpd_tx_end(smtpd_session *s, sim_time_t now)
{
    if (s->mail)
        smtpd_policy_idle(s, now);
    s->mail = false;
    s->nrcpt = 0;
    s->env.len = 0;
}

static void smtpd_env_add(smtpd_session *s, const char *addr)
{
    smtpd_buf_add(&s->env, addr, strlen(addr) + 1);
}

static void smtpd_rcpt_add(smtpd_session *s, const char *addr)
{
    if (s->nrcpt == s->rcap) {
        size_t cap = s->rcap;
        s->roff = sim_xgrow(s->roff, &cap, s->nrcpt + 1, sizeof(*s->roff), 8);
        s->rcptv = sim_xreallocarray(s->rcptv, cap, sizeof(*s->rcptv));
        s->rcap = cap;
    }
    s->roff[s->nrcpt++] = s->env.len;
    smtpd_env_add(s, addr);
}

/* ---- command parsing ---- */

/* True when the address (between < and >) has no control character and no unquoted space. */
static bool smtpd_addr_ok(const char *a)
{
    bool quoted = false;
    for (const unsigned char *p = (const unsigned char *)a; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return false;
        if (*p == '"')
            quoted = !quoted;
        else if (*p == '\\' && p[1])
            p++;
        else if (*p == ' ' && !quoted)
            return false;
    }
    return !quoted;
}

/*
 * Parses "FROM:<addr> params" (keyword "FROM:") in place. Spaces after the colon are allowed, as
 * Postfix allows them unless strict_rfc821_envelopes. A source route (<@a,@b:user@d>) is dropped.
 * Returns false on a syntax error.
 */
static bool smtpd_parse_path(char *arg, const char *keyword, char **addr, char **params)
{
    size_t kl = strlen(keyword);
    if (arg == NULL || strncasecmp(arg, keyword, kl) != 0)
        return false;
    char *p = arg + kl;
    while (*p == ' ')
        p++;
    if (*p != '<')
        return false;
    char *a = ++p;
    bool quoted = false;
    for (; *p; p++) {
        if (*p == '"')
            quoted = !quoted;
        else if (*p == '\\' && p[1])
            p++;
        else if (*p == '>' && !quoted)
            break;
    }
    if (*p != '>')
        return false;
    *p++ = 0;
    if (*p != 0 && *p != ' ')
        return false;
    while (*p == ' ')
        p++;
    if (a[0] == '@') {
        char *colon = strchr(a, ':');
        if (colon == NULL)
            return false;
        a = colon + 1;
    }
    if (!smtpd_addr_ok(a))
        return false;
    *addr = a;
    *params = p;
    return true;
}

/* The next space-separated word of *p (NUL-terminated in place), or NULL. */
static char *smtpd_word(char **p)
{
    char *w = *p;
    while (*w == ' ')
        w++;
    if (*w == 0)
        return NULL;
    char *e = w;
    while (*e && *e != ' ')
        e++;
    if (*e)
        *e++ = 0;
    *p = e;
    return w;
}

/* Whether the recipient's domain is one of the receiver's (relay check). */
static bool smtpd_local(const smtpd_session *s, const char *addr)
{
    if (s->rcv.domains == NULL)
        return true;
    const char *at = strrchr(addr, '@');
    if (at == NULL) /* RFC 5321 4.5.1: "postmaster" without a domain must be accepted */
        return strcasecmp(addr, "postmaster") == 0;
    const char *d = at + 1;
    size_t dl = strlen(d);
    if (dl > 0 && d[dl - 1] == '.')
        dl--;
    for (const char *const *x = s->rcv.domains; *x; x++)
        if (strlen(*x) == dl && strncasecmp(*x, d, dl) == 0)
            return true;
    return false;
}

/* ---- commands ---- */

static void smtpd_cmd_ehlo(smtpd_session *s, sim_time_t now, char *arg, bool ehlo)
{
    if (arg == NULL || smtpd_word(&arg) == NULL) {
        smtpd_error(s, now, ehlo ? "501 5.5.4 Syntax: EHLO hostname" : "501 5.5.4 Syntax: HELO hostname");
        return;
    }
    smtpd_tx_end(s, now); /* RFC 5321 4.1.4: EHLO resets the state like RSET */
    policy_verdict v;
    policy_helo(s->rcv.pol, s->ps, now, &v);
    if (smtpd_verdict(s, now, &v))
        return;
    s->helo = true;
    char t[512];
    if (ehlo)
        snprintf(t, sizeof(t),
                 "250-%s\n250-PIPELINING\n250-SIZE %llu\n250-8BITMIME\n250%sENHANCEDSTATUSCODES%s",
                 smtpd_host(s), (unsigned long long)s->lim.max_message,
                 s->rcv.tls_available && !s->tls ? "-" : " ",
                 s->rcv.tls_available && !s->tls ? "\n250 STARTTLS" : "");
    else
        snprintf(t, sizeof(t), "250 %s", smtpd_host(s));
    smtpd_reply_after(s, now, v.delay, t);
}

static void smtpd_cmd_mail(smtpd_session *s, sim_time_t now, char *arg)
{
    char *addr, *params;
    if (!s->helo) {
        smtpd_error(s, now, "503 5.5.1 Error: send HELO/EHLO first");
        return;
    }
    if (s->mail) {
        smtpd_error(s, now, "503 5.5.1 Error: nested MAIL command");
        return;
    }
    if (!smtpd_parse_path(arg, "FROM:", &addr, &params)) {
        smtpd_error(s, now, "501 5.5.4 Syntax: MAIL FROM:<address>");
        return;
    }
    char *w;
    while ((w = smtpd_word(&params)) != NULL) {
        char t[160];
        if (strncasecmp(w, "SIZE=", 5) == 0) {
            const char *n = w + 5;
            char *end;
            unsigned long long size = strtoull(n, &end, 10);
            if (*n < '0' || *n > '9' || *end != 0 || strlen(n) > 19) {
                smtpd_error(s, now, "501 5.5.4 Bad message size syntax");
                return;
            }
            if (s->lim.max_message > 0 && size > s->lim.max_message) {
                smtpd_error(s, now, "552 5.3.4 Message size exceeds fixed limit");
                return;
            }
        } else if (strncasecmp(w, "BODY=", 5) == 0) {
            if (strcasecmp(w + 5, "8BITMIME") != 0 && strcasecmp(w + 5, "7BIT") != 0) {
                smtpd_error(s, now, "501 5.5.4 Unsupported BODY parameter");
                return;
            }
        } else {
            snprintf(t, sizeof(t), "555 5.5.4 Unsupported option: %.100s", w);
            smtpd_error(s, now, t);
            return;
        }
    }
    policy_verdict v;
    smtpd_policy_busy(s);
    policy_mail(s->rcv.pol, s->ps, now, addr, &v);
    if (smtpd_verdict(s, now, &v)) {
        smtpd_policy_idle(s, now); /* no transaction started */
        return;
    }
    s->mail = true;
    s->nrcpt = 0;
    s->env.len = 0;
    smtpd_env_add(s, addr);
    smtpd_reply_after(s, now, v.delay, "250 2.1.0 Ok");
}

static void smtpd_cmd_rcpt(smtpd_session *s, sim_time_t now, char *arg)
{
    char *addr, *params;
    if (!s->mail) {
        smtpd_error(s, now, "503 5.5.1 Error: need MAIL command");
        return;
    }
    if (!smtpd_parse_path(arg, "TO:", &addr, &params) || addr[0] == 0) {
        smtpd_error(s, now, "501 5.5.4 Syntax: RCPT TO:<address>");
        return;
    }
    char *w = smtpd_word(&params);
    if (w != NULL) {
        char t[160];
        snprintf(t, sizeof(t), "555 5.5.4 Unsupported option: %.100s", w);
        smtpd_error(s, now, t);
        return;
    }
    if (!smtpd_local(s, addr)) {
        char t[1100];
        snprintf(t, sizeof(t), "554 5.7.1 <%.1000s>: Relay access denied", addr);
        smtpd_error(s, now, t);
        return;
    }
    if (s->nrcpt >= s->lim.max_recipients) {
        smtpd_reply(s, now, "452 4.5.3 Error: too many recipients");
        return;
    }
    policy_verdict v;
    policy_rcpt(s->rcv.pol, s->ps, now, addr, &v);
    if (smtpd_verdict(s, now, &v))
        return;
    smtpd_rcpt_add(s, addr);
    smtpd_reply_after(s, now, v.delay, "250 2.1.5 Ok");
}

static void smtpd_cmd_data(smtpd_session *s, sim_time_t now, char *arg)
{
    if (!s->mail) {
        smtpd_error(s, now, "503 5.5.1 Error: need MAIL command");
        return;
    }
    if (s->nrcpt == 0) {
        smtpd_error(s, now, "503 5.5.1 Error: need RCPT command");
        return;
    }
    if (arg != NULL && smtpd_word(&arg) != NULL) {
        smtpd_error(s, now, "501 5.5.4 Syntax: DATA");
        return;
    }
    policy_verdict v;
    policy_data(s->rcv.pol, s->ps, now, &v);
    if (smtpd_verdict(s, now, &v))
        return;
    s->state = SMTPD_ST_DATA;
    smtpd_data_start(&s->data, s->lim.max_text_line, s->lim.max_message);
    s->d_open = true;
    smtpd_reply_after(s, now, v.delay, "354 End data with <CR><LF>.<CR><LF>");
}

static void smtpd_cmd_starttls(smtpd_session *s, sim_time_t now, char *arg)
{
    if (s->tls) {
        smtpd_error(s, now, "554 5.5.1 Error: TLS already active");
        return;
    }
    if (!s->rcv.tls_available || s->ops->starttls == NULL) {
        smtpd_error(s, now, "502 5.5.1 Error: command not implemented");
        return;
    }
    if (arg != NULL && smtpd_word(&arg) != NULL) {
        smtpd_error(s, now, "501 5.5.4 Syntax: STARTTLS");
        return;
    }
    if (s->mail) {
        smtpd_error(s, now, "503 5.5.1 Error: MAIL transaction in progress");
        return;
    }
    smtpd_reply(s, now, "220 2.0.0 Ready to start TLS");
    s->state = SMTPD_ST_TLS_WAIT;
    s->llen = 0;
    s->too_long = false;
    if (s->ops->starttls(s->ctx) < 0)
        smtpd_close_now(s, false, -1);
}

static void smtpd_command(smtpd_session *s, char *line, sim_time_t now)
{
    smtpd_event(s, "command", line, -1);
    char *arg = line;
    char *verb = smtpd_word(&arg);
    if (verb == NULL) {
        smtpd_error(s, now, "500 5.5.2 Error: bad syntax");
        return;
    }
    if (*arg == 0)
        arg = NULL;
    if (s->state == SMTPD_ST_DENIED) {
        if (strcasecmp(verb, "QUIT") == 0)
            smtpd_respond(s, now, 0, "221 2.0.0 Bye", -1, true, true, false);
        else
            smtpd_error(s, now, "503 5.5.1 Error: access denied, send QUIT");
        return;
    }
    if (strcasecmp(verb, "EHLO") == 0)
        smtpd_cmd_ehlo(s, now, arg, true);
    else if (strcasecmp(verb, "HELO") == 0)
        smtpd_cmd_ehlo(s, now, arg, false);
    else if (strcasecmp(verb, "MAIL") == 0)
        smtpd_cmd_mail(s, now, arg);
    else if (strcasecmp(verb, "RCPT") == 0)
        smtpd_cmd_rcpt(s, now, arg);
    else if (strcasecmp(verb, "DATA") == 0)
        smtpd_cmd_data(s, now, arg);
    else if (strcasecmp(verb, "RSET") == 0) {
        if (arg != NULL) {
            smtpd_error(s, now, "501 5.5.4 Syntax: RSET");
            return;
        }
        /* Also outside a transaction: a client's RSET ends the set-up of a session too. */
        smtpd_tx_end(s, now);
        if (s->busy)
            smtpd_policy_idle(s, now);
        smtpd_reply(s, now, "250 2.0.0 Ok");
    } else if (strcasecmp(verb, "NOOP") == 0)
        smtpd_reply(s, now, "250 2.0.0 Ok");
    else if (strcasecmp(verb, "QUIT") == 0)
        smtpd_respond(s, now, 0, "221 2.0.0 Bye", -1, true, true, false);
    else if (strcasecmp(verb, "VRFY") == 0) {
        if (arg == NULL)
            smtpd_error(s, now, "501 5.5.4 Syntax: VRFY address");
        else
            smtpd_reply(s, now, "252 2.0.0 Send some mail, I'll try my best");
    } else if (strcasecmp(verb, "HELP") == 0)
        smtpd_reply(s, now, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP STARTTLS");
    else if (strcasecmp(verb, "STARTTLS") == 0)
        smtpd_cmd_starttls(s, now, arg);
    else
        smtpd_error(s, now, "502 5.5.2 Error: command not recognized");
}

/* A complete command line arrived (line[0..llen) without its LF). */
static void smtpd_line(smtpd_session *s, sim_time_t now)
{
    if (s->too_long) {
        s->too_long = false;
        s->llen = 0;
        smtpd_event(s, "command", "(line too long)", -1);
        smtpd_error(s, now, "500 5.5.0 Error: line too long");
        return;
    }
    size_t n = s->llen;
    s->llen = 0;
    if (n == 0 || s->line[n - 1] != '\r') {
        s->line[n] = 0;
        smtpd_event(s, "command", s->line, -1);
        smtpd_error(s, now, "500 5.5.2 Error: bare <LF> received");
        return;
    }
    s->line[--n] = 0;
    if (memchr(s->line, 0, n) != NULL) {
        smtpd_event(s, "command", s->line, -1);
        smtpd_error(s, now, "500 5.5.2 Error: bad syntax");
        return;
    }
    smtpd_command(s, s->line, now);
}

/* ---- DATA ---- */

static void smtpd_body(void *ctx, const char *p, size_t n)
{
    smtpd_session *s = ctx;
    if (s->ops->body != NULL)
        s->ops->body(s->ctx, p, n);
}

/* The final dot: the engine's checks, then the policy, then storage. */
static void smtpd_eod(smtpd_session *s, sim_time_t now)
{
    s->state = SMTPD_ST_COMMAND;
    smtpd_event(s, "command", ".", -1);
    if (smtpd_data_refused(&s->data)) {
        smtpd_discard(s);
        smtpd_reply(s, now,
                    s->data.bare_lf    ? "550 5.5.2 Error: bare <LF> received"
                    : s->data.too_big ? "552 5.3.4 Error: message file too big"
                                      : "500 5.5.0 Error: line too long");
        smtpd_tx_end(s, now);
        return;
    }
    policy_verdict v;
    policy_eod(s->rcv.pol, s->ps, now, s->data.size, &v);
    if (smtpd_verdict(s, now, &v)) {
        smtpd_discard(s);
        smtpd_tx_end(s, now);
        return;
    }
    for (size_t i = 0; i < s->nrcpt; i++)
        s->rcptv[i] = s->env.p + s->roff[i];
    int rc = 0;
    s->d_open = false;
    if (s->ops->eom != NULL)
        rc = s->ops->eom(s->ctx, s->env.p, s->rcptv, s->nrcpt, s->data.size);
    if (rc < 0) {
        smtpd_reply_after(s, now, v.delay, "451 4.3.0 Error: queue file write error");
    } else {
        /* The start in microseconds plus n: unique across restarts as long as a process accepts fewer
         * than a million messages a second (Postfix's long ids take the time for the same reason). */
        char t[64];
        snprintf(t, sizeof(t), "250 2.0.0 Ok: queued as %014llX",
                 (unsigned long long)((smtpd_queue_base + ++smtpd_queue_counter) & 0xFFFFFFFFFFFFFFull));
        smtpd_reply_after(s, now, v.delay, t);
    }
    smtpd_tx_end(s, now);
}

/* ---- public ---- */

void smtpd_session_id_base(uint64_t usec)
{
    smtpd_queue_base = usec;
    smtpd_queue_counter = 0;
}

smtpd_session *smtpd_session_create(const smtpd_receiver *rcv, const smtpd_limits *lim, const smtpd_ops *ops,
                                     void *ctx, const char *peer_ip, sim_time_t now)
{
    if (rcv == NULL || rcv->pol == NULL || ops == NULL || ops->write == NULL)
        sim_panic(__func__, "receiver, policy and ops->write are required");
    smtpd_session *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->rcv = *rcv;
    smtpd_limits_defaults(&s->lim);
    if (lim != NULL) {
        if (lim->max_line)
            s->lim.max_line = lim->max_line < 8 ? 8 : lim->max_line;
        if (lim->max_text_line)
            s->lim.max_text_line = lim->max_text_line;
        if (lim->max_message)
            s->lim.max_message = lim->max_message;
        if (lim->max_recipients)
            s->lim.max_recipients = lim->max_recipients;
        if (lim->max_errors)
            s->lim.max_errors = lim->max_errors;
    }
    s->line = malloc(s->lim.max_line);
    if (s->line == NULL) {
        free(s);
        return NULL;
    }
    s->ops = ops;
    s->ctx = ctx;
    s->state = SMTPD_ST_COMMAND;
    smtpd_event(s, "connect", peer_ip, -1);
    smtpd_policy_busy(s);
    policy_verdict v;
    s->ps = policy_connect(s->rcv.pol, peer_ip, now, &v);
    if (smtpd_verdict(s, now, &v)) {
        if (!v.close && !v.silent)
            s->state = SMTPD_ST_DENIED;
        return s;
    }
    char t[320];
    snprintf(t, sizeof(t), "220 %s ESMTP testsmtpd", smtpd_host(s));
    smtpd_reply_after(s, now, v.delay, t);
    return s;
}

void smtpd_session_free(smtpd_session *s, sim_time_t now)
{
    if (s == NULL)
        return;
    smtpd_discard(s);
    if (!s->close_event)
        smtpd_event(s, "close", NULL, -1);
    policy_close(s->rcv.pol, s->ps, now);
    free(s->line);
    free(s->env.p);
    free(s->roff);
    free(s->rcptv);
    free(s->out.p);
    free(s);
}

size_t smtpd_session_feed(smtpd_session *s, const char *data, size_t len, sim_time_t now)
{
    size_t i = 0;
    while (i < len) {
        if (s->paused_until != 0 || s->state == SMTPD_ST_CLOSED)
            return i;
        if (s->state == SMTPD_ST_TLS_WAIT)
            return len;
        if (s->state == SMTPD_ST_DATA) {
            bool end;
            i += smtpd_data_scan(&s->data, data + i, len - i, smtpd_body, s, &end);
            if (end)
                smtpd_eod(s, now);
            continue;
        }
        const char *nl = memchr(data + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - data) : len;
        size_t n = end - i;
        /* max_line counts the CR LF: a line of max_line - 2 characters plus CR LF is the longest. */
        if (!s->too_long && s->llen + n + (nl ? 1 : 0) > s->lim.max_line)
            s->too_long = true;
        if (!s->too_long) {
            memcpy(s->line + s->llen, data + i, n);
            s->llen += n;
        }
        i = end;
        if (nl == NULL)
            break;
        i++;
        smtpd_line(s, now);
    }
    return s->state == SMTPD_ST_TLS_WAIT ? len : i;
}

sim_time_t smtpd_session_paused_until(const smtpd_session *s)
{
    return s->paused_until;
}

void smtpd_session_resume(smtpd_session *s, sim_time_t now)
{
    /* Not before it is due: a timer that fires early (libevent's clock is cached per loop pass)
     * must not shorten the tarpit, and a loop that wakes once for several due sessions must not
     * shorten the later ones' either. */
    if (s->paused_until == 0 || s->state == SMTPD_ST_CLOSED || now < s->paused_until)
        return;
    smtpd_emit(s);
}

void smtpd_session_tls_started(smtpd_session *s)
{
    if (s->state != SMTPD_ST_TLS_WAIT)
        sim_panic(__func__, "TLS started without an accepted STARTTLS");
    s->state = SMTPD_ST_COMMAND;
    s->tls = true;
    s->helo = false; /* RFC 3207 4.2: forget everything learned in plaintext */
    s->llen = 0;
    s->too_long = false;
    smtpd_event(s, "tls", NULL, -1);
}

void smtpd_session_timeout(smtpd_session *s, sim_time_t now)
{
    if (s->state == SMTPD_ST_CLOSED)
        return;
    s->paused_until = 0; /* a held reply is dropped: the session ends now */
    char t[320];
    snprintf(t, sizeof(t), "421 4.4.2 %s Error: timeout exceeded", smtpd_host(s));
    smtpd_respond(s, now, 0, t, -1, true, true, false);
}

bool smtpd_session_closed(const smtpd_session *s)
{
    return s->state == SMTPD_ST_CLOSED;
}

bool smtpd_session_in_data(const smtpd_session *s)
{
    return s->busy;
}
