/*
 * test_results_maillog - Postfix-format log lines, character for character.
 *
 * The expected lines follow Postfix 3.7's smtp(8)/qmgr(8) logging (log_adhoc, format_tv with two
 * significant digits and delay_logging_resolution_limit = 2), so that pflogsumm and the usual
 * grep/awk one-liners read a simulated log like a real one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memout.h"
#include "results/results_maillog.h"

static const struct {
    sim_time_t d;
    const char *want;
} delays[] = {
    {0, "0"},
    {4 * SIM_MSEC, "0"},
    {5 * SIM_MSEC, "0.01"},
    {50 * SIM_MSEC, "0.05"},
    {100 * SIM_MSEC, "0.1"},
    {123456, "0.12"},
    {995 * SIM_MSEC, "1"},
    {SIM_SEC, "1"},
    {SIM_SEC + 40 * SIM_MSEC, "1"},
    {SIM_SEC + 50 * SIM_MSEC, "1.1"},
    {1260 * SIM_MSEC, "1.3"},
    {9960 * SIM_MSEC, "10"},
    {12400 * SIM_MSEC, "12"},
    {12500 * SIM_MSEC, "13"},
    {299600 * SIM_MSEC, "300"},
    {300 * SIM_SEC, "300"},
    {5 * SIM_DAY, "432000"},
    {-SIM_SEC, "0"},
};

static void test_maillog_delay_format_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(delays) / sizeof(delays[0]); i++) {
        char b[32];
        results_maillog_format_delay(b, sizeof(b), delays[i].d);
        assert_string_equal(b, delays[i].want);
    }
}

static void test_maillog_stamp(void **state)
{
    (void)state;
    const struct {
        int64_t epoch;
        sim_time_t when;
        const char *want;
    } c[] = {
        {RESULTS_MAILLOG_EPOCH, 0, "Jan  1 00:00:00"},
        {RESULTS_MAILLOG_EPOCH, 300 * SIM_SEC, "Jan  1 00:05:00"},
        {RESULTS_MAILLOG_EPOCH, SIM_HOUR - 1, "Jan  1 00:59:59"},
        {RESULTS_MAILLOG_EPOCH, 10 * SIM_DAY + 3 * SIM_HOUR + 4 * SIM_MIN + 5 * SIM_SEC, "Jan 11 03:04:05"},
        {RESULTS_MAILLOG_EPOCH, 40 * SIM_DAY, "Feb 10 00:00:00"},
        {RESULTS_MAILLOG_EPOCH, -1, "Dec 31 23:59:59"},
        {INT64_C(1751328000), 90 * SIM_SEC, "Jul  1 00:01:30"}, /* 2025-07-01 */
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        char b[32];
        results_maillog_format_stamp(b, sizeof(b), c[i].epoch, c[i].when);
        assert_string_equal(b, c[i].want);
    }
}

/* A deferred attempt as in docs/results.md, to vary field by field. */
static mta_attempt_record base(void)
{
    return (mta_attempt_record){
        .when = 300 * SIM_SEC,
        .host = 0,
        .process = "smtp",
        .pid = 1042,
        .queue_id = "3F2A1B00C4",
        .rcpt = "u17@orange.test",
        .relay = "mx1.orange.test[192.0.2.10]:25",
        .conn_use = 1,
        .arrival = 0,
        .delays = {0.01, 0, 0.06, 0},
        .dsn = "4.7.0",
        .status = MTA_STATUS_DEFERRED,
        .reply = "host mx1.orange.test[192.0.2.10] said: 421 4.7.0 Too many connections, slow down (in reply to "
                 "end of DATA command)",
    };
}

static const char *format(const mta_attempt_record *r)
{
    static char b[1024];
    results_maillog_format_attempt(b, sizeof(b), NULL, r);
    return b;
}

static void test_maillog_doc_example(void **state)
{
    (void)state;
    mta_attempt_record r = base();
    assert_string_equal(format(&r),
                        "Jan  1 00:05:00 mta1 postfix/smtp[1042]: 3F2A1B00C4: to=<u17@orange.test>, "
                        "relay=mx1.orange.test[192.0.2.10]:25, delay=300, delays=0.01/0/0.06/0, dsn=4.7.0, "
                        "status=deferred (host mx1.orange.test[192.0.2.10] said: 421 4.7.0 Too many connections, "
                        "slow down (in reply to end of DATA command))");
}

static void test_maillog_sent(void **state)
{
    (void)state;
    mta_attempt_record r = base();
    r.when = 2 * SIM_SEC + 345 * SIM_MSEC;
    r.arrival = SIM_SEC;
    r.delays[0] = 0.02, r.delays[1] = 0.001, r.delays[2] = 0.9, r.delays[3] = 0.43;
    r.dsn = "2.0.0";
    r.status = MTA_STATUS_SENT;
    r.reply = "250 2.0.0 Ok: queued as 4XyZ1";
    r.host = 1;
    assert_string_equal(format(&r), "Jan  1 00:00:02 mta2 postfix/smtp[1042]: 3F2A1B00C4: to=<u17@orange.test>, "
                                    "relay=mx1.orange.test[192.0.2.10]:25, delay=1.3, delays=0.02/0/0.9/0.43, "
                                    "dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4XyZ1)");
}

static void test_maillog_deferred_421_greeting(void **state)
{
    (void)state;
    mta_attempt_record r = base();
    r.when = 12 * SIM_SEC + 120 * SIM_MSEC;
    r.delays[2] = 0.12, r.delays[3] = 0;
    r.reply = "host mx1.orange.test[192.0.2.10] refused to talk to me: 421 4.7.0 Too many connections, slow down";
    assert_string_equal(format(&r), "Jan  1 00:00:12 mta1 postfix/smtp[1042]: 3F2A1B00C4: to=<u17@orange.test>, "
                                    "relay=mx1.orange.test[192.0.2.10]:25, delay=12, delays=0.01/0/0.12/0, "
                                    "dsn=4.7.0, status=deferred (host mx1.orange.test[192.0.2.10] refused to talk "
                                    "to me: 421 4.7.0 Too many connections, slow down)");
}

static void test_maillog_deferred_421_rcpt_reused_connection(void **state)
{
    (void)state;
    mta_attempt_record r = base();
    r.when = 61 * SIM_SEC;
    r.arrival = 60 * SIM_SEC + 880 * SIM_MSEC;
    r.conn_use = 3;
    r.delays[0] = 0, r.delays[2] = 0, r.delays[3] = 0.09;
    r.reply = "host mx1.orange.test[192.0.2.10] said: 421 4.7.0 Too many connections, slow down (in reply to RCPT "
              "TO command)";
    assert_string_equal(format(&r), "Jan  1 00:01:01 mta1 postfix/smtp[1042]: 3F2A1B00C4: to=<u17@orange.test>, "
                                    "relay=mx1.orange.test[192.0.2.10]:25, conn_use=3, delay=0.12, "
                                    "delays=0/0/0/0.09, dsn=4.7.0, status=deferred (host "
                                    "mx1.orange.test[192.0.2.10] said: 421 4.7.0 Too many connections, slow down "
                                    "(in reply to RCPT TO command))");
}

static void test_maillog_bounced(void **state)
{
    (void)state;
    mta_attempt_record r = base();
    r.when = 5 * SIM_SEC;
    r.delays[2] = 3.5, r.delays[3] = 1.44;
    r.rcpt = "nobody@other.test";
    r.relay = "mx.other.test[192.0.2.30]:25";
    r.dsn = "5.1.1";
    r.status = MTA_STATUS_BOUNCED;
    r.reply = "host mx.other.test[192.0.2.30] said: 550 5.1.1 <nobody@other.test>: Recipient address rejected: "
              "User unknown (in reply to RCPT TO command)";
    assert_string_equal(format(&r), "Jan  1 00:00:05 mta1 postfix/smtp[1042]: 3F2A1B00C4: to=<nobody@other.test>, "
                                    "relay=mx.other.test[192.0.2.30]:25, delay=5, delays=0.01/0/3.5/1.4, "
                                    "dsn=5.1.1, status=bounced (host mx.other.test[192.0.2.30] said: 550 5.1.1 "
                                    "<nobody@other.test>: Recipient address rejected: User unknown (in reply to "
                                    "RCPT TO command))");
}

static void test_maillog_suspended_destination(void **state)
{
    (void)state;
    mta_attempt_record r = base();
    r.when = 700 * SIM_SEC;
    r.arrival = 100 * SIM_SEC;
    r.process = "retry";
    r.pid = 2001;
    r.relay = "none";
    r.delays[0] = 599.99, r.delays[1] = 0.01, r.delays[2] = 0, r.delays[3] = 0;
    r.reply = "delivery temporarily suspended: host mx1.orange.test[192.0.2.10] refused to talk to me: 421 4.7.0 "
              "Too many connections, slow down";
    assert_string_equal(format(&r), "Jan  1 00:11:40 mta1 postfix/retry[2001]: 3F2A1B00C4: to=<u17@orange.test>, "
                                    "relay=none, delay=600, delays=600/0.01/0/0, dsn=4.7.0, status=deferred "
                                    "(delivery temporarily suspended: host mx1.orange.test[192.0.2.10] refused to "
                                    "talk to me: 421 4.7.0 Too many connections, slow down)");
}

static char *run_writer(void (*body)(results_maillog *), const results_maillog_opts *o)
{
    memout m;
    results_maillog *l = results_maillog_create(memout_open(&m), o);
    body(l);
    assert_int_equal(results_maillog_finish(l), 0);
    results_maillog_free(l);
    return memout_close(&m);
}

/* Postfix logs expiry once per message, from qmgr, with the sender: not once per recipient. */
static void expired_body(results_maillog *l)
{
    mta_attempt_record r = base();
    r.when = 5 * SIM_DAY + 20 * SIM_SEC;
    r.process = "qmgr";
    r.pid = 1000;
    r.relay = "none";
    r.status = MTA_STATUS_EXPIRED;
    assert_int_equal(results_maillog_attempt(l, &r), 0);
    r.rcpt = "u18@orange.test";
    assert_int_equal(results_maillog_attempt(l, &r), 0);
    r.queue_id = "4B1C2D00E5";
    assert_int_equal(results_maillog_attempt(l, &r), 0);
}

static void test_maillog_expired(void **state)
{
    (void)state;
    char *s = run_writer(expired_body, NULL);
    assert_string_equal(s, "Jan  6 00:00:20 mta1 postfix/qmgr[1000]: 3F2A1B00C4: from=<noreply@tempfail.test>, "
                           "status=expired, returned to sender\n"
                           "Jan  6 00:00:20 mta1 postfix/qmgr[1000]: 4B1C2D00E5: from=<noreply@tempfail.test>, "
                           "status=expired, returned to sender\n");
    free(s);
}

static void qmgr_body(results_maillog *l)
{
    assert_int_equal(results_maillog_arrival(l, 250 * SIM_MSEC, 0, "3F2A1B00C4", "codes@shop.test", 4123, 2), 0);
    mta_attempt_record r = base();
    r.when = SIM_SEC + 500 * SIM_MSEC;
    r.arrival = 250 * SIM_MSEC;
    r.status = MTA_STATUS_SENT;
    r.dsn = "2.0.0";
    r.reply = "250 2.0.0 Ok";
    r.delays[0] = 0, r.delays[2] = 0.5, r.delays[3] = 0.75;
    assert_int_equal(results_maillog_attempt(l, &r), 0);
    assert_int_equal(results_maillog_removed(l, SIM_SEC + 500 * SIM_MSEC, 0, "3F2A1B00C4"), 0);
    assert_int_equal(results_maillog_expired(l, 7 * SIM_DAY, 2, "5C2D3E00F6", ""), 0);
}

static void test_maillog_qmgr_lines(void **state)
{
    (void)state;
    results_maillog_opts o = results_maillog_defaults();
    o.qmgr_pid = 777;
    char *s = run_writer(qmgr_body, &o);
    assert_string_equal(s, "Jan  1 00:00:00 mta1 postfix/qmgr[777]: 3F2A1B00C4: from=<codes@shop.test>, size=4123, "
                           "nrcpt=2 (queue active)\n"
                           "Jan  1 00:00:01 mta1 postfix/smtp[1042]: 3F2A1B00C4: to=<u17@orange.test>, "
                           "relay=mx1.orange.test[192.0.2.10]:25, delay=1.3, delays=0/0/0.5/0.75, dsn=2.0.0, "
                           "status=sent (250 2.0.0 Ok)\n"
                           "Jan  1 00:00:01 mta1 postfix/qmgr[777]: 3F2A1B00C4: removed\n"
                           "Jan  8 00:00:00 mta3 postfix/qmgr[777]: 5C2D3E00F6: from=<>, status=expired, returned "
                           "to sender\n");
    free(s);
}

/* A reply longer than the writer's line buffer still comes out whole. */
static void long_body(results_maillog *l)
{
    static char reply[6000];
    memset(reply, 'x', sizeof(reply) - 1);
    mta_attempt_record r = base();
    r.reply = reply;
    assert_int_equal(results_maillog_attempt(l, &r), 0);
}

static void test_maillog_long_reply(void **state)
{
    (void)state;
    char *s = run_writer(long_body, NULL);
    assert_non_null(strstr(s, "status=deferred (xxxx"));
    assert_memory_equal(s + strlen(s) - 3, "x)\n", 3);
    assert_true(strlen(s) > 6000);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_maillog_delay_format_table),
        cmocka_unit_test(test_maillog_stamp),
        cmocka_unit_test(test_maillog_doc_example),
        cmocka_unit_test(test_maillog_sent),
        cmocka_unit_test(test_maillog_deferred_421_greeting),
        cmocka_unit_test(test_maillog_deferred_421_rcpt_reused_connection),
        cmocka_unit_test(test_maillog_bounced),
        cmocka_unit_test(test_maillog_suspended_destination),
        cmocka_unit_test(test_maillog_expired),
        cmocka_unit_test(test_maillog_qmgr_lines),
        cmocka_unit_test(test_maillog_long_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
