/*
 * test_policy - the receiver policy engine: every rule kind alone, then in combination.
 *
 * Most tests are scripts: a policy config and a list of SMTP events (connect from an IP, MAIL, RCPT,
 * end of data, RSET, close) at given times, each with the reply the receiver must give. A script reads
 * like the dialogue it stands for, and a new case is a new table entry. Times are simulated
 * microseconds; random faults draw from a fixed-seed generator, so every run is the same.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "models/policy.h"

#define A "192.0.2.1"
#define B "198.51.100.7"
#define SENDER "alice@sender.test"
#define RCPT "bob@example.org"

typedef enum { OP_END, OP_CONNECT, OP_HELO, OP_MAIL, OP_RCPT, OP_DATA, OP_EOD, OP_RESET, OP_CLOSE } step_op;

typedef struct step {
    step_op op;
    int s;            /* session slot */
    sim_time_t at;
    const char *arg;  /* CONNECT: source IP; MAIL: sender; RCPT: recipient */
    int code;         /* expected code; 0 = accepted (or closed silently) */
    bool close, silent;
    sim_time_t delay; /* expected tarpit */
    const char *text; /* expected reply text, when given */
} step;

/* The usual expectations: a 421 closes, nothing else does. */
#define CONNECT(s_, t_, ip_, code_) {.op = OP_CONNECT, .s = s_, .at = t_, .arg = ip_, .code = code_, .close = (code_) == 421}
#define HELO(s_, t_, code_) {.op = OP_HELO, .s = s_, .at = t_, .code = code_, .close = (code_) == 421}
#define MAIL(s_, t_, code_) {.op = OP_MAIL, .s = s_, .at = t_, .arg = SENDER, .code = code_, .close = (code_) == 421}
#define RCPT_TO(s_, t_, rcpt_, code_) {.op = OP_RCPT, .s = s_, .at = t_, .arg = rcpt_, .code = code_, .close = (code_) == 421}
#define DATA(s_, t_, code_) {.op = OP_DATA, .s = s_, .at = t_, .code = code_, .close = (code_) == 421}
#define EOD(s_, t_, code_) {.op = OP_EOD, .s = s_, .at = t_, .code = code_, .close = (code_) == 421}
#define RESET(s_, t_) {.op = OP_RESET, .s = s_, .at = t_}
#define CLOSE(s_, t_) {.op = OP_CLOSE, .s = s_, .at = t_}
/* One accepted message: MAIL, RCPT, DATA, "." and the end of the transaction. */
#define MESSAGE(s_, t_) MAIL(s_, t_, 0), RCPT_TO(s_, t_, RCPT, 0), DATA(s_, t_, 0), EOD(s_, t_, 0), RESET(s_, t_)

#define MAX_RULES 4
#define MAX_STEPS 48
#define MAX_SESSIONS 16

typedef struct script {
    const char *name;
    const char *preset;
    size_t nrules;
    policy_rule_config rules[MAX_RULES];
    step steps[MAX_STEPS];
} script;

static gsl_rng *new_rng(unsigned long seed)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    return r;
}

static policy *make_policy(const policy_rule_config *rules, size_t n, const char *preset, const char *host, gsl_rng *rng)
{
    policy_config cfg = {.rules = (policy_rule_config *)rules, .nrules = n, .preset = (char *)preset,
                         .hostname = (char *)host};
    char err[256] = "";
    policy *p = policy_create(&cfg, rng, err, sizeof(err));
    if (p == NULL)
        fail_msg("policy_create: %s", err);
    return p;
}

static void check_verdict(const char *name, size_t i, const step *st, const policy_verdict *v)
{
    if (v->code != st->code || v->close != st->close || v->silent != st->silent || v->delay != st->delay)
        fail_msg("%s, step %zu: got code %d close %d silent %d delay %lld (%s); expected %d %d %d %lld", name, i,
                 v->code, v->close, v->silent, (long long)v->delay, v->text ? v->text : "-", st->code, st->close,
                 st->silent, (long long)st->delay);
    if ((v->code == 0) != (v->text == NULL))
        fail_msg("%s, step %zu: text %s with code %d", name, i, v->text ? v->text : "NULL", v->code);
    if ((v->code == 0 && !v->silent) != (v->rule == -1))
        fail_msg("%s, step %zu: rule %d with code %d", name, i, v->rule, v->code);
    if (st->text != NULL && (v->text == NULL || strcmp(v->text, st->text) != 0))
        fail_msg("%s, step %zu: text \"%s\", expected \"%s\"", name, i, v->text ? v->text : "NULL", st->text);
}

/* Runs a script; returns the policy's counters at its end. */
static policy_stats run_script(const script *sc)
{
    gsl_rng *rng = new_rng(1);
    policy *p = make_policy(sc->rules, sc->nrules, sc->preset, NULL, rng);
    policy_session *sess[MAX_SESSIONS] = {0};
    for (size_t i = 0; i < MAX_STEPS && sc->steps[i].op != OP_END; i++) {
        const step *st = &sc->steps[i];
        policy_verdict v;
        if (st->op != OP_CONNECT && sess[st->s] == NULL)
            fail_msg("%s, step %zu: session %d is not open", sc->name, i, st->s);
        switch (st->op) {
        case OP_CONNECT:
            if (sess[st->s] != NULL)
                fail_msg("%s, step %zu: session %d is already open", sc->name, i, st->s);
            sess[st->s] = policy_connect(p, st->arg, st->at, &v);
            break;
        case OP_HELO: policy_helo(p, sess[st->s], st->at, &v); break;
        case OP_MAIL: policy_mail(p, sess[st->s], st->at, st->arg, &v); break;
        case OP_RCPT: policy_rcpt(p, sess[st->s], st->at, st->arg, &v); break;
        case OP_DATA: policy_data(p, sess[st->s], st->at, &v); break;
        case OP_EOD: policy_eod(p, sess[st->s], st->at, 1000, &v); break;
        case OP_RESET: policy_reset(p, sess[st->s], st->at); continue;
        case OP_CLOSE:
            policy_close(p, sess[st->s], st->at);
            sess[st->s] = NULL;
            continue;
        default: fail_msg("%s: bad step", sc->name);
        }
        check_verdict(sc->name, i, st, &v);
    }
    policy_stats stats = *policy_get_stats(p);
    for (int s = 0; s < MAX_SESSIONS; s++)
        if (sess[s] != NULL)
            policy_close(p, sess[s], 0);
    assert_int_equal(policy_get_stats(p)->open_sessions, 0);
    policy_free(p);
    gsl_rng_free(rng);
    return stats;
}

static void run_scripts(const script *scripts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        run_script(&scripts[i]);
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define S SIM_SEC
#define MIN SIM_MIN
#define HOUR SIM_HOUR
#define DAY SIM_DAY

/* ---- every rule kind on its own ---- */

static const script kind_scripts[] = {
    {"concurrency_per_ip: the cap is per IP, a refused session counts until closed",
     NULL, 1, {{.kind = POLICY_RULE_CONCURRENCY_PER_IP, .limit = 2, .count_idle = true}},
     {CONNECT(0, 0, A, 0), CONNECT(1, 0, A, 0),
      {.op = OP_CONNECT, .s = 2, .arg = A, .code = 421, .close = true,
       .text = "421 4.7.0 mx.test Error: too many connections from 192.0.2.1"},
      CONNECT(3, 0, B, 0), CLOSE(0, 1), CONNECT(4, 1, A, 421), CLOSE(2, 2), CLOSE(4, 2), CONNECT(5, 3, A, 0),
      CONNECT(6, 3, A, 421)}},
    {"concurrency_total: counts every IP",
     NULL, 1, {{.kind = POLICY_RULE_CONCURRENCY_TOTAL, .limit = 2, .count_idle = true}},
     {CONNECT(0, 0, A, 0), CONNECT(1, 0, B, 0),
      {.op = OP_CONNECT, .s = 2, .arg = "203.0.113.9", .code = 421, .close = true,
       .text = "421 4.3.2 All server ports are busy"},
      CLOSE(2, 1), CONNECT(3, 1, "203.0.113.9", 421), CLOSE(3, 1), CLOSE(0, 1), CONNECT(4, 1, "203.0.113.9", 0)}},
    {"connection_rate_per_ip",
     NULL, 1, {{.kind = POLICY_RULE_CONNECTION_RATE_PER_IP, .limit = 2, .window = MIN}},
     {CONNECT(0, 0, A, 0), CLOSE(0, 0), CONNECT(1, 1 * S, A, 0), CLOSE(1, 1 * S), CONNECT(2, 2 * S, A, 421),
      CLOSE(2, 2 * S), CONNECT(3, 2 * S, B, 0)}},
    {"message_rate_per_ip",
     NULL, 1, {{.kind = POLICY_RULE_MESSAGE_RATE_PER_IP, .limit = 2, .window = HOUR}},
     {CONNECT(0, 0, A, 0), MESSAGE(0, 1 * S), MESSAGE(0, 2 * S),
      {.op = OP_MAIL, .s = 0, .at = 3 * S, .arg = SENDER, .code = 450,
       .text = "450 4.7.1 Error: too much mail from 192.0.2.1"},
      CONNECT(1, 4 * S, B, 0), MAIL(1, 4 * S, 0)}},
    {"recipient_rate_per_ip",
     NULL, 1, {{.kind = POLICY_RULE_RECIPIENT_RATE_PER_IP, .limit = 3, .window = HOUR}},
     {CONNECT(0, 0, A, 0), MAIL(0, 0, 0), RCPT_TO(0, 0, "a@example.org", 0), RCPT_TO(0, 0, "b@example.org", 0),
      RCPT_TO(0, 0, "c@example.org", 0),
      {.op = OP_RCPT, .s = 0, .arg = "d@example.org", .code = 450,
       .text = "450 4.7.1 Error: too many recipients from 192.0.2.1"}}},
    {"messages_per_session: the reply closes",
     NULL, 1, {{.kind = POLICY_RULE_MESSAGES_PER_SESSION, .limit = 2}},
     {CONNECT(0, 0, A, 0), MESSAGE(0, 0), MESSAGE(0, 1 * S),
      {.op = OP_MAIL, .s = 0, .at = 2 * S, .arg = SENDER, .code = 421, .close = true,
       .text = "421 4.7.0 Too many messages in this connection"},
      CLOSE(0, 2 * S), CONNECT(1, 3 * S, A, 0), MAIL(1, 3 * S, 0)}},
    {"messages_per_session: silent close (Yahoo)",
     NULL, 1, {{.kind = POLICY_RULE_MESSAGES_PER_SESSION, .limit = 1, .silent = true}},
     {CONNECT(0, 0, A, 0), MESSAGE(0, 0), {.op = OP_MAIL, .s = 0, .arg = SENDER, .code = 0, .close = true, .silent = true}}},
    {"messages_per_session: rejected messages do not count",
     NULL, 2,
     {{.kind = POLICY_RULE_MESSAGES_PER_SESSION, .limit = 1},
      {.kind = POLICY_RULE_RANDOM_FAULT, .stage = POLICY_STAGE_EOD, .probability = 1.0}},
     {CONNECT(0, 0, A, 0), MAIL(0, 0, 0), RCPT_TO(0, 0, RCPT, 0), DATA(0, 0, 0), EOD(0, 0, 451), RESET(0, 0),
      MAIL(0, 0, 0)}},
    {"recipients_per_message: 452 beyond the limit, counted per transaction",
     NULL, 1, {{.kind = POLICY_RULE_RECIPIENTS_PER_MESSAGE, .limit = 2}},
     {CONNECT(0, 0, A, 0), MAIL(0, 0, 0), RCPT_TO(0, 0, "a@example.org", 0), RCPT_TO(0, 0, "b@example.org", 0),
      {.op = OP_RCPT, .s = 0, .arg = "c@example.org", .code = 452, .text = "452 4.5.3 Error: too many recipients"},
      RCPT_TO(0, 0, "d@example.org", 452), DATA(0, 0, 0), EOD(0, 0, 0), RESET(0, 0), MAIL(0, 1, 0),
      RCPT_TO(0, 1, "c@example.org", 0), RCPT_TO(0, 1, "d@example.org", 0), RCPT_TO(0, 1, "e@example.org", 452)}},
    {"tarpit: delays add up, the reply is an accept",
     NULL, 3,
     {{.kind = POLICY_RULE_TARPIT, .stage = POLICY_STAGE_HELO, .delay = 1 * S},
      {.kind = POLICY_RULE_TARPIT, .stage = POLICY_STAGE_HELO, .delay = 2500 * SIM_MSEC},
      {.kind = POLICY_RULE_TARPIT, .stage = POLICY_STAGE_DATA, .delay = 7 * S}},
     {CONNECT(0, 0, A, 0), {.op = OP_HELO, .s = 0, .delay = 3500 * SIM_MSEC}, MAIL(0, 0, 0),
      {.op = OP_DATA, .s = 0, .delay = 7 * S}}},
    {"random_fault: probability 1 always fails",
     NULL, 1, {{.kind = POLICY_RULE_RANDOM_FAULT, .stage = POLICY_STAGE_DATA, .probability = 1.0}},
     {CONNECT(0, 0, A, 0), MAIL(0, 0, 0), RCPT_TO(0, 0, RCPT, 0),
      {.op = OP_DATA, .s = 0, .code = 451, .text = "451 4.3.0 Temporary System Problem. Try again later."},
      {.op = OP_DATA, .s = 0, .code = 451}}},
    {"random_fault: probability 0 never fails",
     NULL, 1, {{.kind = POLICY_RULE_RANDOM_FAULT, .stage = POLICY_STAGE_CONNECT, .probability = 0.0}},
     {CONNECT(0, 0, A, 0), CONNECT(1, 0, A, 0), CONNECT(2, 0, A, 0), CONNECT(3, 0, A, 0)}},
    {"random_fault: a 421 closes",
     NULL, 1,
     {{.kind = POLICY_RULE_RANDOM_FAULT, .stage = POLICY_STAGE_HELO, .probability = 1.0,
       .reply = "421 4.7.0 Try again later, closing connection."}},
     {CONNECT(0, 0, A, 0), HELO(0, 0, 421)}},
    {"idle_timeout: no reply of its own",
     NULL, 1, {{.kind = POLICY_RULE_IDLE_TIMEOUT, .duration = 30 * S}},
     {CONNECT(0, 0, A, 0), HELO(0, 0, 0), MESSAGE(0, 0)}},
};

static void test_rule_kinds(void **state)
{
    (void)state;
    run_scripts(kind_scripts, NELEM(kind_scripts));
}

static void test_idle_timeout(void **state)
{
    (void)state;
    policy_rule_config r = {.kind = POLICY_RULE_IDLE_TIMEOUT, .duration = 30 * S};
    policy *p = make_policy(&r, 1, NULL, NULL, NULL);
    assert_int_equal(policy_idle_timeout(p), 30 * S);
    policy_free(p);
    p = make_policy(NULL, 0, NULL, NULL, NULL);
    assert_int_equal(policy_idle_timeout(p), 0);
    policy_free(p);
}

/* ---- rule order ---- */

static const script order_scripts[] = {
    {"the first rule that rejects decides",
     NULL, 2,
     {{.kind = POLICY_RULE_MESSAGE_RATE_PER_IP, .limit = 1, .window = HOUR, .reply = "450 4.7.1 rate"},
      {.kind = POLICY_RULE_MESSAGES_PER_SESSION, .limit = 0, .reply = "421 4.7.0 per session"}},
     {CONNECT(0, 0, A, 0), {.op = OP_MAIL, .s = 0, .arg = SENDER, .code = 421, .close = true, .text = "421 4.7.0 per session"},
      CLOSE(0, 0), CONNECT(1, 1, A, 0), {.op = OP_MAIL, .s = 1, .at = 1, .arg = SENDER, .code = 450, .text = "450 4.7.1 rate"}}},
    {"the same rules the other way round",
     NULL, 2,
     {{.kind = POLICY_RULE_MESSAGES_PER_SESSION, .limit = 0, .reply = "421 4.7.0 per session"},
      {.kind = POLICY_RULE_MESSAGE_RATE_PER_IP, .limit = 1, .window = HOUR, .reply = "450 4.7.1 rate"}},
     {CONNECT(0, 0, A, 0), {.op = OP_MAIL, .s = 0, .arg = SENDER, .code = 421, .close = true, .text = "421 4.7.0 per session"},
      CLOSE(0, 0), CONNECT(1, 1, A, 0),
      {.op = OP_MAIL, .s = 1, .at = 1, .arg = SENDER, .code = 421, .close = true, .text = "421 4.7.0 per session"}}},
    {"tarpits add up also around a reject",
     NULL, 3,
     {{.kind = POLICY_RULE_TARPIT, .stage = POLICY_STAGE_MAIL, .delay = 1 * S},
      {.kind = POLICY_RULE_MESSAGE_RATE_PER_IP, .limit = 1, .window = HOUR},
      {.kind = POLICY_RULE_TARPIT, .stage = POLICY_STAGE_MAIL, .delay = 2 * S}},
     {CONNECT(0, 0, A, 0), {.op = OP_MAIL, .s = 0, .arg = SENDER, .delay = 3 * S}, RESET(0, 0),
      {.op = OP_MAIL, .s = 0, .arg = SENDER, .code = 450, .delay = 3 * S}}},
    {"a rate rule after the deciding one still counts the attempt",
     NULL, 2,
     {{.kind = POLICY_RULE_CONCURRENCY_PER_IP, .limit = 1, .count_idle = true},
      {.kind = POLICY_RULE_CONNECTION_RATE_PER_IP, .limit = 2, .window = HOUR, .reply = "421 4.7.0 rate"}},
     {CONNECT(0, 0, A, 0), CONNECT(1, 1, A, 421), CLOSE(1, 1), CLOSE(0, 1),
      {.op = OP_CONNECT, .s = 2, .at = 2, .arg = A, .code = 421, .close = true, .text = "421 4.7.0 rate"}}},
};

static void test_rule_order(void **state)
{
    (void)state;
    run_scripts(order_scripts, NELEM(order_scripts));
}

/* ---- idle sessions and the concurrency caps ---- */

static void test_idle_sessions_count(void **state)
{
    (void)state;
    static const struct {
        bool count_idle;
        int fourth_code; /* the 4th connection from A while three idle ones are open */
    } cases[] = {{true, 421}, {false, 0}};
    static const policy_rule_kind kinds[] = {POLICY_RULE_CONCURRENCY_PER_IP, POLICY_RULE_CONCURRENCY_TOTAL};
    for (size_t k = 0; k < NELEM(kinds); k++) {
        for (size_t c = 0; c < NELEM(cases); c++) {
            policy_rule_config r = {.kind = kinds[k], .limit = 3, .count_idle = cases[c].count_idle};
            policy *p = make_policy(&r, 1, NULL, NULL, NULL);
            policy_verdict v;
            policy_session *s[3];
            uint64_t busy, idle;
            for (int i = 0; i < 3; i++) {
                s[i] = policy_connect(p, A, i, &v);
                assert_int_equal(v.code, 0);
                policy_helo(p, s[i], i, &v);
                policy_mail(p, s[i], i, SENDER, &v);
                policy_rcpt(p, s[i], i, RCPT, &v);
                policy_data(p, s[i], i, &v);
                policy_eod(p, s[i], i, 100, &v);
                assert_int_equal(v.code, 0);
                policy_sessions_from(p, A, &busy, &idle);
                assert_int_equal(busy, 1);
                assert_int_equal(idle, (uint64_t)i);
                policy_reset(p, s[i], i);
            }
            policy_sessions_from(p, A, &busy, &idle);
            assert_int_equal(busy, 0);
            assert_int_equal(idle, 3);
            assert_int_equal(policy_get_stats(p)->open_idle, 3);

            policy_session *fourth = policy_connect(p, A, 10, &v);
            assert_int_equal(v.code, cases[c].fourth_code);
            assert_int_equal(v.close, cases[c].fourth_code == 421);
            policy_close(p, fourth, 10);

            if (kinds[k] == POLICY_RULE_CONCURRENCY_PER_IP) {
                policy_session *other = policy_connect(p, B, 11, &v);
                assert_int_equal(v.code, 0);
                policy_close(p, other, 11);
            }

            policy_close(p, s[0], 12);
            policy_session *next = policy_connect(p, A, 13, &v);
            assert_int_equal(v.code, 0);

            /* An idle session is busy again at MAIL, idle again after the transaction. */
            policy_mail(p, s[1], 14, SENDER, &v);
            policy_sessions_from(p, A, &busy, &idle);
            assert_int_equal(busy, 2);
            assert_int_equal(idle, 1);
            const policy_stats *st = policy_get_stats(p);
            assert_int_equal(st->open_busy, 2);
            assert_int_equal(st->open_idle, 1);
            assert_int_equal(st->open_sessions, 3);
            policy_reset(p, s[1], 15);
            policy_sessions_from(p, A, &busy, &idle);
            assert_int_equal(busy, 1);
            assert_int_equal(idle, 2);

            policy_close(p, next, 16);
            policy_close(p, s[1], 16);
            policy_close(p, s[2], 16);
            policy_sessions_from(p, A, &busy, &idle);
            assert_int_equal(busy + idle, 0);
            policy_sessions_from(p, "203.0.113.250", &busy, &idle);
            assert_int_equal(busy + idle, 0);
            policy_free(p);
        }
    }
}

/* ---- sliding windows ---- */

static void test_rate_windows(void **state)
{
    (void)state;
    static const struct {
        policy_rule_kind kind;
        int code;
    } kinds[] = {
        {POLICY_RULE_CONNECTION_RATE_PER_IP, 421},
        {POLICY_RULE_MESSAGE_RATE_PER_IP, 450},
        {POLICY_RULE_RECIPIENT_RATE_PER_IP, 450},
    };
    /* Attempts at these times (0 ends a series after its first entry); true = refused. */
    static const struct {
        const char *name;
        uint64_t limit;
        sim_time_t window;
        sim_time_t at[16];
        bool refused[16];
        size_t n;
    } series[] = {
        {"the oldest event leaves the window at exactly now - window", 2, 10 * S,
         {0, 1 * S, 10 * S, 10500 * SIM_MSEC, 11 * S, 20500 * SIM_MSEC},
         {false, false, false, true, true, false}, 6},
        {"one microsecond before it leaves", 2, 10 * S, {0, 1 * S, 10 * S - 1}, {false, false, true}, 3},
        {"a hammering client stays throttled: refused attempts count", 1, 10 * S,
         {0, 5 * S, 10 * S, 15 * S, 20 * S, 25 * S, 30 * S, 40 * S, 49 * S, 59 * S, 60 * S},
         {false, true, true, true, true, true, true, false, true, false, true}, 11},
    };
    for (size_t k = 0; k < NELEM(kinds); k++) {
        for (size_t i = 0; i < NELEM(series); i++) {
            policy_rule_config r = {.kind = kinds[k].kind, .limit = series[i].limit, .window = series[i].window};
            policy *p = make_policy(&r, 1, NULL, NULL, NULL);
            policy_verdict v;
            policy_session *s = NULL;
            if (kinds[k].kind != POLICY_RULE_CONNECTION_RATE_PER_IP) {
                s = policy_connect(p, A, 0, &v);
                policy_mail(p, s, 0, SENDER, &v); /* the first MAIL at 0 is the series' first event */
            }
            for (size_t j = 0; j < series[i].n; j++) {
                sim_time_t t = series[i].at[j];
                switch (kinds[k].kind) {
                case POLICY_RULE_CONNECTION_RATE_PER_IP: {
                    policy_session *c = policy_connect(p, A, t, &v);
                    policy_close(p, c, t);
                    break;
                }
                case POLICY_RULE_MESSAGE_RATE_PER_IP:
                    if (j > 0) {
                        policy_reset(p, s, t);
                        policy_mail(p, s, t, SENDER, &v);
                    }
                    break;
                default:
                    policy_rcpt(p, s, t, RCPT, &v);
                    break;
                }
                if (kinds[k].kind == POLICY_RULE_MESSAGE_RATE_PER_IP && j == 0)
                    assert_int_equal(v.code, 0);
                int want = series[i].refused[j] ? kinds[k].code : 0;
                if (v.code != want)
                    fail_msg("%s, %s, attempt %zu at %lld us: code %d, expected %d", policy_rule_kind_name(kinds[k].kind),
                             series[i].name, j, (long long)t, v.code, want);
            }
            if (s != NULL)
                policy_close(p, s, 100 * S);
            /* Another IP has its own window. */
            policy_session *b = policy_connect(p, B, 100 * S, &v);
            assert_int_equal(v.code, 0);
            policy_close(p, b, 100 * S);
            policy_free(p);
        }
    }
}

/* ---- greylisting ---- */

#define GREY(...) {.kind = POLICY_RULE_GREYLIST, .delay = 5 * MIN, __VA_ARGS__}
#define GREYLISTED(s_, t_, rcpt_) RCPT_TO(s_, t_, rcpt_, 450)

static const script greylist_scripts[] = {
    {"first sight, early retry, retry after the delay",
     NULL, 1, {GREY()},
     {CONNECT(0, 0, A, 0), MAIL(0, 0, 0),
      {.op = OP_RCPT, .s = 0, .arg = RCPT, .code = 450,
       .text = "450 4.2.0 <bob@example.org>: Recipient address rejected: Greylisted, see "
               "http://postgrey.schweikert.ch/help/example.org.html"},
      GREYLISTED(0, 5 * MIN - 1, RCPT), RCPT_TO(0, 5 * MIN, RCPT, 0), GREYLISTED(0, 5 * MIN, "carol@example.org"),
      RCPT_TO(0, 11 * MIN, "carol@example.org", 0),
      /* passed triplets pass at once, for a long while */
      RCPT_TO(0, 20 * DAY, RCPT, 0)}},
    {"a late retry, after the retry window, is a first sight again",
     NULL, 1, {GREY(.duration = HOUR)},
     {CONNECT(0, 0, A, 0), MAIL(0, 0, 0), GREYLISTED(0, 0, RCPT), GREYLISTED(0, HOUR + 1, RCPT),
      GREYLISTED(0, HOUR + 5 * MIN, RCPT), RCPT_TO(0, HOUR + 1 + 5 * MIN, RCPT, 0),
      /* the end of the retry window still passes */
      GREYLISTED(0, 2 * HOUR, "carol@example.org"), RCPT_TO(0, 3 * HOUR, "carol@example.org", 0)}},
    {"the default retry window is two days",
     NULL, 1, {GREY()},
     {CONNECT(0, 0, A, 0), MAIL(0, 0, 0), GREYLISTED(0, 0, RCPT), RCPT_TO(0, 2 * DAY, RCPT, 0),
      GREYLISTED(0, 2 * DAY, "carol@example.org"), GREYLISTED(0, 4 * DAY + 1, "carol@example.org")}},
    {"a passed triplet expires after 35 days unseen",
     NULL, 1, {GREY()},
     {CONNECT(0, 0, A, 0), MAIL(0, 0, 0), GREYLISTED(0, 0, RCPT), RCPT_TO(0, 5 * MIN, RCPT, 0),
      RCPT_TO(0, 5 * MIN + 35 * DAY, RCPT, 0), GREYLISTED(0, 5 * MIN + 70 * DAY + 1, RCPT)}},
    {"the client is its /24; sender and recipient are part of the triplet, case-folded",
     NULL, 1, {GREY()},
     {CONNECT(0, 0, "192.0.2.10", 0), MAIL(0, 0, 0),
      {.op = OP_RCPT, .s = 0, .arg = "<Bob@Example.ORG>", .code = 450,
       .text = "450 4.2.0 <Bob@Example.ORG>: Recipient address rejected: Greylisted, see "
               "http://postgrey.schweikert.ch/help/Example.ORG.html"},
      CONNECT(1, 6 * MIN, "192.0.2.200", 0), MAIL(1, 6 * MIN, 0), RCPT_TO(1, 6 * MIN, RCPT, 0),
      CONNECT(2, 6 * MIN, "192.0.3.10", 0), MAIL(2, 6 * MIN, 0), GREYLISTED(2, 6 * MIN, RCPT),
      CONNECT(3, 6 * MIN, "192.0.2.10", 0), {.op = OP_MAIL, .s = 3, .at = 6 * MIN, .arg = "<>"},
      GREYLISTED(3, 6 * MIN, RCPT)}},
    {"IPv6 and other addresses are keyed whole",
     NULL, 1, {GREY()},
     {CONNECT(0, 0, "2001:db8::1", 0), MAIL(0, 0, 0), GREYLISTED(0, 0, RCPT), CONNECT(1, 6 * MIN, "2001:db8::2", 0),
      MAIL(1, 6 * MIN, 0), GREYLISTED(1, 6 * MIN, RCPT), RCPT_TO(0, 6 * MIN, RCPT, 0)}},
    {"auto_allow: after 2 passes the client /24 is allow-listed",
     NULL, 1, {GREY(.auto_allow = 2)},
     {CONNECT(0, 0, "192.0.2.10", 0), MAIL(0, 0, 0), GREYLISTED(0, 0, "a@example.org"),
      GREYLISTED(0, 0, "b@example.org"), RCPT_TO(0, 5 * MIN, "a@example.org", 0), GREYLISTED(0, 5 * MIN, "c@example.org"),
      RCPT_TO(0, 5 * MIN, "b@example.org", 0), RCPT_TO(0, 5 * MIN, "d@example.org", 0),
      CONNECT(1, 6 * MIN, "192.0.2.99", 0), MAIL(1, 6 * MIN, 0), RCPT_TO(1, 6 * MIN, "e@example.org", 0),
      CONNECT(2, 6 * MIN, B, 0), MAIL(2, 6 * MIN, 0), GREYLISTED(2, 6 * MIN, "e@example.org")}},
    {"greylisting is not consulted after another rule rejected",
     NULL, 2,
     {{.kind = POLICY_RULE_RECIPIENT_RATE_PER_IP, .limit = 1, .window = HOUR}, {.kind = POLICY_RULE_GREYLIST}},
     {CONNECT(0, 0, A, 0), MAIL(0, 0, 0), GREYLISTED(0, 0, "a@example.org"),
      {.op = OP_RCPT, .s = 0, .at = 1, .arg = "b@example.org", .code = 450,
       .text = "450 4.7.1 Error: too many recipients from 192.0.2.1"},
      /* had b been recorded at 1, this retry (delay 0) would pass */
      GREYLISTED(0, 2 * HOUR, "b@example.org"), RCPT_TO(0, 4 * HOUR, "b@example.org", 0)}},
    {"mimecast greylists with its own text",
     "mimecast", 1, {GREY()},
     {CONNECT(0, 0, A, 0), MAIL(0, 0, 0),
      {.op = OP_RCPT, .s = 0, .arg = RCPT, .code = 451, .text = "451 Internal resources are temporarily unavailable"}}},
};

static void test_greylist(void **state)
{
    (void)state;
    run_scripts(greylist_scripts, NELEM(greylist_scripts));
}

/* Many distinct triplets: entries past their retry window are dropped, the results stay right. */
static void test_greylist_many_triplets(void **state)
{
    (void)state;
    policy_rule_config r = GREY(.duration = HOUR);
    policy *p = make_policy(&r, 1, NULL, NULL, NULL);
    policy_verdict v;
    policy_session *s = policy_connect(p, A, 0, &v);
    policy_mail(p, s, 0, SENDER, &v);
    char rcpt[64];
    for (int round = 0; round < 3; round++) {
        sim_time_t t0 = round * 10 * HOUR;
        for (int i = 0; i < 20000; i++) {
            snprintf(rcpt, sizeof(rcpt), "user%d-%d@example.org", round, i);
            policy_rcpt(p, s, t0, rcpt, &v);
            assert_int_equal(v.code, 450);
        }
        for (int i = 0; i < 20000; i += 7) {
            snprintf(rcpt, sizeof(rcpt), "user%d-%d@example.org", round, i);
            policy_rcpt(p, s, t0 + 10 * MIN, rcpt, &v);
            assert_int_equal(v.code, 0);
        }
        /* The passed ones outlive the sweep of expired first sights, the others start over. */
        snprintf(rcpt, sizeof(rcpt), "user%d-%d@example.org", round, 7);
        policy_rcpt(p, s, t0 + 5 * HOUR, rcpt, &v);
        assert_int_equal(v.code, 0);
        snprintf(rcpt, sizeof(rcpt), "user%d-%d@example.org", round, 8);
        policy_rcpt(p, s, t0 + 5 * HOUR, rcpt, &v);
        assert_int_equal(v.code, 450);
    }
    policy_close(p, s, 0);
    policy_free(p);
}

/* ---- penalty box ---- */

#define BOX(limit_, window_, duration_) \
    {.kind = POLICY_RULE_PENALTY_BOX, .limit = limit_, .window = window_, .duration = duration_}
#define EVERY_MAIL_REFUSED {.kind = POLICY_RULE_MESSAGES_PER_SESSION, .limit = 0}
#define OFR_999 \
    "421 mwinf5c77 ME Service refuse. Veuillez essayer plus tard. Service refused, please try later. OFR_999 [999]"
/* One violation: a connection whose MAIL is refused. */
#define VIOLATION(s_, t_) CONNECT(s_, t_, A, 0), MAIL(s_, t_, 421), CLOSE(s_, t_)

static const script box_scripts[] = {
    {"engages at the 3rd violation, refuses for its duration, then expires",
     "orange", 2, {EVERY_MAIL_REFUSED, BOX(3, MIN, HOUR)},
     {VIOLATION(0, 0), VIOLATION(1, 10 * S), CONNECT(2, 20 * S, A, 0), MAIL(2, 20 * S, 421), CLOSE(2, 20 * S),
      {.op = OP_CONNECT, .s = 3, .at = 30 * S, .arg = A, .code = 421, .close = true, .text = OFR_999}, CLOSE(3, 30 * S),
      CONNECT(4, 30 * S, B, 0), CONNECT(5, 20 * S + HOUR - 1, A, 421), CLOSE(5, 20 * S + HOUR),
      CONNECT(6, 20 * S + HOUR, A, 0)}},
    {"violations must fall within the window",
     NULL, 2, {EVERY_MAIL_REFUSED, BOX(2, MIN, HOUR)},
     {VIOLATION(0, 0), VIOLATION(1, MIN), CONNECT(2, MIN + 1, A, 0), MAIL(2, MIN + 1, 421), CLOSE(2, MIN + 1),
      {.op = OP_CONNECT, .s = 3, .at = MIN + 2, .arg = A, .code = 421, .close = true,
       .text = "421 4.7.0 mx.test Error: too many errors"}}},
    {"violations during the box are ignored, counting restarts after it",
     NULL, 2, {EVERY_MAIL_REFUSED, BOX(2, HOUR, 10 * MIN)},
     {CONNECT(0, 0, A, 0), MAIL(0, 0, 421), MAIL(0, 1, 421), CONNECT(1, 2, A, 421), CLOSE(1, 2), MAIL(0, 3, 421),
      CONNECT(2, 10 * MIN + 1, A, 0), MAIL(2, 10 * MIN + 1, 421), CLOSE(2, 10 * MIN + 1),
      CONNECT(3, 10 * MIN + 2, A, 0)}},
    {"the box overrides the rules listed before it",
     NULL, 2,
     {{.kind = POLICY_RULE_CONCURRENCY_PER_IP, .limit = 1, .count_idle = true, .reply = "421 4.7.0 busy"},
      BOX(1, HOUR, HOUR)},
     {CONNECT(0, 0, A, 0), {.op = OP_CONNECT, .s = 1, .at = 1, .arg = A, .code = 421, .close = true, .text = "421 4.7.0 busy"},
      {.op = OP_CONNECT, .s = 2, .at = 2, .arg = A, .code = 421, .close = true,
       .text = "421 4.7.0 mx.test Error: too many errors"}}},
    {"greylisting and random faults are not violations",
     NULL, 3,
     {GREY(), {.kind = POLICY_RULE_RANDOM_FAULT, .stage = POLICY_STAGE_DATA, .probability = 1.0}, BOX(1, HOUR, HOUR)},
     {CONNECT(0, 0, A, 0), MAIL(0, 0, 0), GREYLISTED(0, 0, RCPT), RCPT_TO(0, 10 * MIN, RCPT, 0), DATA(0, 10 * MIN, 451),
      CONNECT(1, 11 * MIN, A, 0)}},
};

static void test_penalty_box(void **state)
{
    (void)state;
    for (size_t i = 0; i < NELEM(box_scripts); i++) {
        policy_stats st = run_script(&box_scripts[i]);
        if (i == 0) {
            assert_int_equal(st.penalty_boxes, 1);
            assert_int_equal(st.refused_by_rule[POLICY_RULE_PENALTY_BOX], 2);
            assert_int_equal(st.refused_by_rule[POLICY_RULE_MESSAGES_PER_SESSION], 3);
            assert_int_equal(st.connections_refused, 2);
        }
        if (i == 2)
            assert_int_equal(st.penalty_boxes, 1);
        if (i == 4)
            assert_int_equal(st.penalty_boxes, 0);
    }
}

/* ---- random faults ---- */

static void test_random_fault_rate(void **state)
{
    (void)state;
    policy_rule_config r = {.kind = POLICY_RULE_RANDOM_FAULT, .stage = POLICY_STAGE_DATA, .probability = 0.3};
    enum { N = 10000 };
    static bool first[N];
    for (int run = 0; run < 2; run++) {
        gsl_rng *rng = new_rng(42);
        policy *p = make_policy(&r, 1, NULL, NULL, rng);
        policy_verdict v;
        policy_session *s = policy_connect(p, A, 0, &v);
        int faults = 0;
        for (int i = 0; i < N; i++) {
            policy_data(p, s, i, &v);
            bool fault = v.code == 451;
            faults += fault;
            if (run == 0)
                first[i] = fault;
            else if (first[i] != fault)
                fail_msg("draw %d differs between two runs with the same seed", i);
        }
        /* 3000 expected, sd 46: 200 is over 4 sd. */
        assert_in_range(faults, 2800, 3200);
        assert_int_equal(policy_get_stats(p)->refused_by_rule[POLICY_RULE_RANDOM_FAULT], (uint64_t)faults);
        policy_close(p, s, N);
        policy_free(p);
        gsl_rng_free(rng);
    }
}

/* Each RANDOM_FAULT rule draws once per evaluation, whether or not an earlier one rejected. */
static void test_random_fault_draws(void **state)
{
    (void)state;
    policy_rule_config r[2] = {
        {.kind = POLICY_RULE_RANDOM_FAULT, .stage = POLICY_STAGE_RCPT, .probability = 0.5, .reply = "451 4.3.0 one"},
        {.kind = POLICY_RULE_RANDOM_FAULT, .stage = POLICY_STAGE_RCPT, .probability = 0.5, .reply = "451 4.3.0 two"},
    };
    gsl_rng *rng = new_rng(7), *twin = new_rng(7);
    policy *p = make_policy(r, 2, NULL, NULL, rng);
    policy_verdict v;
    policy_session *s = policy_connect(p, A, 0, &v);
    policy_mail(p, s, 0, SENDER, &v);
    for (int i = 0; i < 1000; i++) {
        double u1 = gsl_rng_uniform(twin), u2 = gsl_rng_uniform(twin);
        policy_rcpt(p, s, i, RCPT, &v);
        int want_rule = u1 < 0.5 ? 0 : u2 < 0.5 ? 1 : -1;
        assert_int_equal(v.rule, want_rule);
        if (want_rule >= 0)
            assert_string_equal(v.text, want_rule == 0 ? "451 4.3.0 one" : "451 4.3.0 two");
    }
    policy_close(p, s, 0);
    policy_free(p);
    gsl_rng_free(rng);
    gsl_rng_free(twin);
}

/* ---- forced replies ---- */

static void test_force(void **state)
{
    (void)state;
    policy_rule_config r = {.kind = POLICY_RULE_CONCURRENCY_PER_IP, .limit = 2, .count_idle = true};
    policy_config cfg = {.rules = &r, .nrules = 1, .hostname = "mx1.orange.test"};
    policy *p = policy_create(&cfg, NULL, NULL, 0);
    assert_non_null(p);
    policy_verdict v;

    assert_int_equal(policy_force(p, 1, "42 not a reply"), -EINVAL);
    assert_int_equal(policy_force(p, 1, NULL), -EINVAL);
    assert_int_equal(policy_force(p, 2, "421 4.3.2 %h going down, %i"), 0);
    policy_session *s1 = policy_connect(p, A, 0, &v);
    assert_int_equal(v.code, 421);
    assert_true(v.close);
    assert_int_equal(v.rule, -1);
    assert_string_equal(v.text, "421 4.3.2 mx1.orange.test going down, 192.0.2.1");
    /* The forced session is still a socket until closed: it counts against the cap. */
    policy_session *s2 = policy_connect(p, A, 0, &v);
    assert_int_equal(v.code, 421);
    policy_close(p, s2, 0);
    policy_session *s3 = policy_connect(p, A, 1, &v);
    assert_int_equal(v.code, 0);
    policy_session *s4 = policy_connect(p, A, 1, &v);
    assert_int_equal(v.code, 421);
    assert_string_equal(v.text, "421 4.7.0 mx1.orange.test Error: too many connections from 192.0.2.1");
    policy_close(p, s4, 1);

    /* A non-421 forced reply does not close; n = 0 cancels. */
    assert_int_equal(policy_force(p, 5, "554 5.7.1 go away"), 0);
    policy_close(p, s1, 2);
    policy_session *s5 = policy_connect(p, B, 2, &v);
    assert_int_equal(v.code, 554);
    assert_false(v.close);
    policy_close(p, s5, 2);
    assert_int_equal(policy_force(p, 0, NULL), 0);
    s5 = policy_connect(p, B, 3, &v);
    assert_int_equal(v.code, 0);
    policy_close(p, s5, 3);

    const policy_stats *st = policy_get_stats(p);
    assert_int_equal(st->connections, 6);
    assert_int_equal(st->connections_refused, 4);
    assert_int_equal(st->replies_by_code[421], 3);
    assert_int_equal(st->replies_by_code[554], 1);
    assert_int_equal(st->refused_by_rule[POLICY_RULE_CONCURRENCY_PER_IP], 1);
    policy_close(p, s3, 4);
    policy_free(p);
}

/* ---- reply texts ---- */

static void test_expansion(void **state)
{
    (void)state;
    static const struct {
        const char *host;
        const char *reply; /* of a recipient rate limit of 1, given at the second RCPT */
        const char *ip;
        const char *rcpt;
        const char *want;
    } cases[] = {
        {"mx.orange.test", NULL, "192.0.2.7", RCPT, "450 4.7.1 Error: too many recipients from 192.0.2.7"},
        {NULL, "450 4.7.1 %h: %i", "192.0.2.7", RCPT, "450 4.7.1 mx.test: 192.0.2.7"},
        {"mx.example", "450 4.7.1 100%% of %i at %h: %x %r %d%", "192.0.2.7", "<bob@Example.org>",
         "450 4.7.1 100% of 192.0.2.7 at mx.example: %x bob@Example.org Example.org%"},
        {"mx.example", "450 4.7.1 <%r> [%d]", "192.0.2.7", "postmaster", "450 4.7.1 <postmaster> []"},
        {"mx.example", "450 4.7.1 from %i", "192.0.2.7\r\n250 ok", RCPT, "450 4.7.1 from 192.0.2.7??250 ok"},
        {"mx.example", "450-4.7.1 first %i\n450 4.7.1 second", "::1", RCPT, "450-4.7.1 first ::1\n450 4.7.1 second"},
    };
    for (size_t i = 0; i < NELEM(cases); i++) {
        policy_rule_config r = {.kind = POLICY_RULE_RECIPIENT_RATE_PER_IP, .limit = 1, .window = HOUR,
                                .reply = (char *)cases[i].reply};
        policy *p = make_policy(&r, 1, NULL, cases[i].host, NULL);
        policy_verdict v;
        policy_session *s = policy_connect(p, cases[i].ip, 0, &v);
        policy_mail(p, s, 0, SENDER, &v);
        policy_rcpt(p, s, 0, cases[i].rcpt, &v);
        assert_int_equal(v.code, 0);
        policy_rcpt(p, s, 0, cases[i].rcpt, &v);
        assert_int_equal(v.code, 450);
        assert_string_equal(v.text, cases[i].want);
        policy_close(p, s, 0);
        policy_free(p);
    }
}

/* Texts are expanded per verdict: one client's address never leaks into another's reply. */
static void test_expansion_per_client(void **state)
{
    (void)state;
    policy_rule_config r[2] = {
        {.kind = POLICY_RULE_CONCURRENCY_PER_IP, .limit = 0},
        {.kind = POLICY_RULE_RECIPIENTS_PER_MESSAGE, .limit = 0, .reply = "452 4.5.3 <%r> from %i"},
    };
    policy *p = make_policy(r, 2, NULL, NULL, NULL);
    static const char *const ips[] = {A, B, A, A, "203.0.113.9", B};
    char want[128];
    for (size_t i = 0; i < NELEM(ips); i++) {
        policy_verdict v;
        policy_session *s = policy_connect(p, ips[i], (sim_time_t)i, &v);
        snprintf(want, sizeof(want), "421 4.7.0 mx.test Error: too many connections from %s", ips[i]);
        assert_string_equal(v.text, want);
        policy_mail(p, s, (sim_time_t)i, SENDER, &v);
        for (int k = 0; k < 2; k++) {
            const char *rcpt = k ? "a@example.org" : "b@example.org";
            policy_rcpt(p, s, (sim_time_t)i, rcpt, &v);
            snprintf(want, sizeof(want), "452 4.5.3 <%s> from %s", rcpt, ips[i]);
            assert_string_equal(v.text, want);
        }
        policy_close(p, s, (sim_time_t)i);
    }
    policy_free(p);
}

static void test_close_defaults(void **state)
{
    (void)state;
    static const struct {
        const char *reply;
        bool close_cfg;
        int code;
        bool close;
    } cases[] = {
        {"421 4.7.0 bye", false, 421, true},  {"421 4.7.0 bye", true, 421, true},
        {"450 4.7.1 later", false, 450, false}, {"450 4.7.1 later", true, 450, true},
        {"554 5.7.1 no", false, 554, false},  {NULL, false, 421, true}, /* preset text: a 421 */
    };
    for (size_t i = 0; i < NELEM(cases); i++) {
        policy_rule_config r = {.kind = POLICY_RULE_CONCURRENCY_PER_IP, .limit = 0, .reply = (char *)cases[i].reply,
                                .close = cases[i].close_cfg};
        policy *p = make_policy(&r, 1, NULL, NULL, NULL);
        policy_verdict v;
        policy_session *s = policy_connect(p, A, 0, &v);
        assert_int_equal(v.code, cases[i].code);
        assert_int_equal(v.close, cases[i].close);
        assert_false(v.silent);
        assert_int_equal(v.rule, 0);
        policy_close(p, s, 0);
        policy_free(p);
    }
}

/* ---- invalid configurations ---- */

static void test_invalid_configs(void **state)
{
    (void)state;
    static const struct {
        policy_rule_config rule;
        const char *preset;
        bool with_rng;
        const char *want; /* a piece of the message */
    } cases[] = {
        {{.kind = POLICY_RULE_CONCURRENCY_PER_IP, .limit = 1, .reply = "45 too short"}, NULL, false, "three-digit"},
        {{.kind = POLICY_RULE_CONCURRENCY_PER_IP, .limit = 1, .reply = "621 4.7.0 x"}, NULL, false, "three-digit"},
        {{.kind = POLICY_RULE_CONCURRENCY_PER_IP, .limit = 1, .reply = "461 4.7.0 x"}, NULL, false, "three-digit"},
        {{.kind = POLICY_RULE_CONCURRENCY_PER_IP, .limit = 1, .reply = "421 5.7.0 x"}, NULL, false, "class 5"},
        {{.kind = POLICY_RULE_CONCURRENCY_PER_IP, .limit = 1, .reply = "354 3.0.0 x"}, NULL, false, "class"},
        {{.kind = POLICY_RULE_CONCURRENCY_PER_IP, .limit = 1, .reply = "421 4.7 x"}, NULL, false, "malformed"},
        {{.kind = POLICY_RULE_CONCURRENCY_PER_IP, .limit = 1, .reply = "421 4.7.1234 x"}, NULL, false, "malformed"},
        {{.kind = POLICY_RULE_CONCURRENCY_PER_IP, .limit = 1, .reply = "421Too close"}, NULL, false, "space"},
        {{.kind = POLICY_RULE_CONCURRENCY_PER_IP, .limit = 1, .reply = "421-a\n421-b"}, NULL, false, "space"},
        {{.kind = POLICY_RULE_CONCURRENCY_PER_IP, .limit = 1, .reply = "421 a\n421 b"}, NULL, false, "421-"},
        {{.kind = POLICY_RULE_CONCURRENCY_PER_IP, .limit = 1, .reply = "421-a\n450 b"}, NULL, false, "same code"},
        {{.kind = POLICY_RULE_CONCURRENCY_PER_IP, .limit = 1, .reply = "421-a\n"}, NULL, false, "same code"},
        {{.kind = POLICY_RULE_CONCURRENCY_PER_IP, .limit = 1, .reply = "421 refus\xc3\xa9"}, NULL, false, "US-ASCII"},
        {{.kind = POLICY_RULE_CONCURRENCY_PER_IP, .limit = 1, .reply = "421 a\r\n"}, NULL, false, "US-ASCII"},
        {{.kind = POLICY_RULE_CONNECTION_RATE_PER_IP, .limit = 0, .window = MIN}, NULL, false, "limit must be"},
        {{.kind = POLICY_RULE_MESSAGE_RATE_PER_IP, .limit = 10000001, .window = MIN}, NULL, false, "limit must be"},
        {{.kind = POLICY_RULE_RECIPIENT_RATE_PER_IP, .limit = 5}, NULL, false, "window must be positive"},
        {{.kind = POLICY_RULE_PENALTY_BOX, .limit = 3, .window = MIN}, NULL, false, "duration"},
        {{.kind = POLICY_RULE_PENALTY_BOX, .window = MIN, .duration = HOUR}, NULL, false, "limit must be"},
        {{.kind = POLICY_RULE_RANDOM_FAULT, .probability = 0.5}, NULL, false, "no random generator"},
        {{.kind = POLICY_RULE_RANDOM_FAULT, .probability = 1.5}, NULL, true, "probability"},
        {{.kind = POLICY_RULE_RANDOM_FAULT, .probability = -0.1}, NULL, true, "probability"},
        {{.kind = POLICY_RULE_RANDOM_FAULT, .probability = 0.1, .stage = POLICY_STAGE_COUNT}, NULL, true, "stage"},
        {{.kind = POLICY_RULE_GREYLIST, .delay = 3 * DAY}, NULL, false, "retry window"},
        {{.kind = POLICY_RULE_TARPIT, .delay = -1}, NULL, false, "delay must be"},
        {{.kind = POLICY_RULE_TARPIT, .delay = S, .reply = "421 x"}, NULL, false, "no reply"},
        {{.kind = POLICY_RULE_IDLE_TIMEOUT}, NULL, false, "timeout"},
        {{.kind = POLICY_RULE_CONCURRENCY_PER_IP, .limit = 1, .silent = true}, NULL, false, "silent"},
        {{.kind = (policy_rule_kind)99}, NULL, false, "unknown rule kind"},
        {{.kind = POLICY_RULE_CONCURRENCY_PER_IP, .limit = 1}, "hotmail", false, "unknown preset \"hotmail\""},
    };
    gsl_rng *rng = new_rng(1);
    for (size_t i = 0; i < NELEM(cases); i++) {
        policy_rule_config rules[2] = {{.kind = POLICY_RULE_TARPIT, .stage = POLICY_STAGE_HELO}, cases[i].rule};
        policy_config cfg = {.rules = rules, .nrules = 2, .preset = (char *)cases[i].preset};
        char err[256] = "";
        policy *p = policy_create(&cfg, cases[i].with_rng ? rng : NULL, err, sizeof(err));
        if (p != NULL)
            fail_msg("case %zu accepted, expected an error with \"%s\"", i, cases[i].want);
        if (strstr(err, cases[i].want) == NULL)
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err, cases[i].want);
        if (cases[i].preset == NULL && strstr(err, "policy[1]") == NULL)
            fail_msg("case %zu: message \"%s\" does not name policy[1]", i, err);
    }
    /* Second idle timeout; a hostname with a space; a NULL err buffer is fine. */
    policy_rule_config two[2] = {{.kind = POLICY_RULE_IDLE_TIMEOUT, .duration = S},
                                 {.kind = POLICY_RULE_IDLE_TIMEOUT, .duration = S}};
    policy_config cfg = {.rules = two, .nrules = 2};
    char err[256] = "";
    assert_null(policy_create(&cfg, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "second idle_timeout"));
    cfg = (policy_config){.rules = two, .nrules = 1, .hostname = "mx example"};
    assert_null(policy_create(&cfg, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "hostname"));
    assert_null(policy_create(&cfg, NULL, NULL, 0));
    assert_null(policy_create(NULL, NULL, err, sizeof(err)));
    gsl_rng_free(rng);
}

static void test_valid_replies(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "421", "421 ", "250 2.0.0 ok", "452 4.5.3 Error: too many recipients", "421 - [Too many sessions opened]",
        "421 RP-003", "550 5.7.1 blocked", "451 4.7.650 x", "421 4.123.456 x", "421-a\n421-b\n421 c",
        "421-4.7.0 a\n421 4.7.0 b", "450 4.7.1\ttab", "421 1 not an enhanced code",
    };
    for (size_t i = 0; i < NELEM(ok); i++) {
        policy_rule_config r = {.kind = POLICY_RULE_CONCURRENCY_PER_IP, .limit = 0, .reply = (char *)ok[i]};
        policy *p = make_policy(&r, 1, NULL, NULL, NULL);
        policy_verdict v;
        policy_session *s = policy_connect(p, A, 0, &v);
        assert_string_equal(v.text, ok[i]); /* kept as is */
        policy_close(p, s, 0);
        policy_free(p);
    }
}

/* ---- statistics ---- */

static void test_stats(void **state)
{
    (void)state;
    policy_rule_config r[3] = {
        {.kind = POLICY_RULE_CONCURRENCY_PER_IP, .limit = 1, .count_idle = true},
        {.kind = POLICY_RULE_RECIPIENTS_PER_MESSAGE, .limit = 2},
        {.kind = POLICY_RULE_MESSAGES_PER_SESSION, .limit = 2, .silent = true},
    };
    policy *p = make_policy(r, 3, NULL, NULL, NULL);
    policy_verdict v;
    policy_session *s = policy_connect(p, A, 0, &v);
    policy_count_reply(p, 220);
    policy_session *refused = policy_connect(p, A, 0, &v); /* 421 */
    policy_close(p, refused, 0);
    for (int m = 0; m < 2; m++) {
        policy_mail(p, s, 1, SENDER, &v);
        for (int i = 0; i < 3; i++)
            policy_rcpt(p, s, 1, RCPT, &v); /* 2 accepted, 1 x 452 */
        policy_data(p, s, 1, &v);
        policy_eod(p, s, 1, 500, &v);
        policy_reset(p, s, 1);
    }
    const policy_stats *st = policy_get_stats(p);
    assert_int_equal(st->open_sessions, 1);
    assert_int_equal(st->open_busy, 0);
    assert_int_equal(st->open_idle, 1);
    policy_mail(p, s, 2, SENDER, &v); /* third message: silent close */
    assert_true(v.silent);
    policy_close(p, s, 2);

    assert_int_equal(st->connections, 2);
    assert_int_equal(st->connections_refused, 1);
    assert_int_equal(st->refused_by_rule[POLICY_RULE_CONCURRENCY_PER_IP], 1);
    assert_int_equal(st->refused_by_rule[POLICY_RULE_RECIPIENTS_PER_MESSAGE], 2);
    assert_int_equal(st->refused_by_rule[POLICY_RULE_MESSAGES_PER_SESSION], 1);
    assert_int_equal(st->messages_accepted, 2);
    assert_int_equal(st->recipients_accepted, 4);
    assert_int_equal(st->replies_by_code[421], 1);
    assert_int_equal(st->replies_by_code[452], 2);
    assert_int_equal(st->replies_by_code[220], 1);
    assert_int_equal(st->replies_by_code[0], 0); /* a silent close is no reply */
    assert_int_equal(st->open_sessions, 0);
    assert_int_equal(st->open_busy, 0);
    assert_int_equal(st->open_idle, 0);
    assert_int_equal(st->penalty_boxes, 0);
    policy_count_reply(p, 600); /* out of range: ignored */
    policy_count_reply(p, -1);
    policy_free(p);
}

/* Many IPs come and go: the per-IP table drops the dead ones and keeps the rest right. */
static void test_many_ips(void **state)
{
    (void)state;
    policy_rule_config r[2] = {
        {.kind = POLICY_RULE_CONNECTION_RATE_PER_IP, .limit = 1, .window = MIN},
        {.kind = POLICY_RULE_CONCURRENCY_PER_IP, .limit = 1, .count_idle = true},
    };
    policy *p = make_policy(r, 2, NULL, NULL, NULL);
    policy_verdict v;
    char ip[32];
    policy_session *keep = policy_connect(p, "10.255.255.255", 0, &v);
    for (int i = 0; i < 50000; i++) {
        snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        sim_time_t t = (sim_time_t)i * 10 * SIM_MSEC; /* 100 new IPs per second, a minute's window */
        policy_session *s = policy_connect(p, ip, t, &v);
        assert_int_equal(v.code, 0);
        policy_close(p, s, t);
        if (i % 1000 == 999) {
            /* The one IP still in its window is refused; the long-lived session is still counted. */
            snprintf(ip, sizeof(ip), "10.%d.%d.%d", (i - 5) >> 16, ((i - 5) >> 8) & 255, (i - 5) & 255);
            s = policy_connect(p, ip, t, &v);
            assert_int_equal(v.code, 421);
            assert_non_null(strstr(v.text, ip));
            policy_close(p, s, t);
            uint64_t busy, idle;
            policy_sessions_from(p, "10.255.255.255", &busy, &idle);
            assert_int_equal(busy, 1);
        }
    }
    policy_close(p, keep, 0);
    policy_free(p);
}

/* ---- names ---- */

static void test_names(void **state)
{
    (void)state;
    static const char *const kinds[POLICY_RULE_COUNT] = {
        "concurrency_per_ip", "concurrency_total", "connection_rate_per_ip", "message_rate_per_ip",
        "recipient_rate_per_ip", "messages_per_session", "recipients_per_message", "greylist", "tarpit",
        "random_fault", "penalty_box", "idle_timeout",
    };
    static const char *const stages[POLICY_STAGE_COUNT] = {"connect", "helo", "mail", "rcpt", "data", "eod"};
    for (int k = 0; k < POLICY_RULE_COUNT; k++) {
        assert_string_equal(policy_rule_kind_name((policy_rule_kind)k), kinds[k]);
        assert_int_equal(policy_rule_kind_parse(kinds[k]), k);
    }
    for (int s = 0; s < POLICY_STAGE_COUNT; s++) {
        assert_string_equal(policy_stage_name((policy_stage)s), stages[s]);
        assert_int_equal(policy_stage_parse(stages[s]), s);
    }
    static const char *const bad[] = {"", "Greylist", "greylist ", "rate", "concurrency"};
    for (size_t i = 0; i < NELEM(bad); i++) {
        assert_int_equal(policy_rule_kind_parse(bad[i]), -1);
        assert_int_equal(policy_stage_parse(bad[i]), -1);
    }
    assert_int_equal(policy_rule_kind_parse(NULL), -1);
    assert_int_equal(policy_stage_parse(NULL), -1);
    assert_string_equal(policy_rule_kind_name(POLICY_RULE_COUNT), "unknown");
    assert_string_equal(policy_stage_name(POLICY_STAGE_COUNT), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_rule_kinds),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_rule_order),
        cmocka_unit_test(test_idle_sessions_count),
        cmocka_unit_test(test_rate_windows),
        cmocka_unit_test(test_greylist),
        cmocka_unit_test(test_greylist_many_triplets),
        cmocka_unit_test(test_penalty_box),
        cmocka_unit_test(test_random_fault_rate),
        cmocka_unit_test(test_random_fault_draws),
        cmocka_unit_test(test_force),
        cmocka_unit_test(test_expansion),
        cmocka_unit_test(test_expansion_per_client),
        cmocka_unit_test(test_close_defaults),
        cmocka_unit_test(test_invalid_configs),
        cmocka_unit_test(test_valid_replies),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_many_ips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
