/*
 * test_smtpd_http - the metrics text and the /stats document for a known state: every metric the
 * tests and dashboards read, refusals split by rule (with --max-sessions and "other"), replies by
 * code only where non-zero, two receivers side by side.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <jansson.h>

#include "testsmtpd/smtpd_http.h"

static void known_state(smtpd_http_receiver r[2])
{
    memset(r, 0, 2 * sizeof(*r));
    r[0].name = "orange";
    r[0].st.p.connections = 10;
    r[0].st.p.connections_refused = 5;
    r[0].st.p.refused_by_rule[POLICY_RULE_CONCURRENCY_PER_IP] = 3;
    r[0].st.p.refused_by_rule[POLICY_RULE_GREYLIST] = 2;
    r[0].st.over_max_sessions = 1;
    r[0].st.p.open_busy = 2;
    r[0].st.p.open_idle = 1;
    r[0].st.p.messages_accepted = 4;
    r[0].st.p.recipients_accepted = 6;
    r[0].st.p.replies_by_code[220] = 5;
    r[0].st.p.replies_by_code[250] = 20;
    r[0].st.p.replies_by_code[421] = 5;
    r[1].name = "gmail";
}

static char *metrics_text(const smtpd_http_receiver *r, size_t n)
{
    struct evbuffer *b = evbuffer_new();
    assert_int_equal(smtpd_http_metrics(b, r, n), 0);
    size_t len = evbuffer_get_length(b);
    char *t = malloc(len + 1);
    evbuffer_copyout(b, t, len);
    t[len] = 0;
    evbuffer_free(b);
    return t;
}

static void test_metrics(void **state)
{
    (void)state;
    smtpd_http_receiver r[2];
    known_state(r);
    char *t = metrics_text(r, 2);
    static const char *const want[] = {
        "# TYPE testsmtpd_connections_total counter\n",
        "\ntestsmtpd_connections_total{receiver=\"orange\"} 10\n",
        "\ntestsmtpd_connections_total{receiver=\"gmail\"} 0\n",
        "\ntestsmtpd_connections_refused_total{receiver=\"orange\",rule=\"concurrency_per_ip\"} 3\n",
        "\ntestsmtpd_connections_refused_total{receiver=\"orange\",rule=\"max_sessions\"} 1\n",
        "\ntestsmtpd_connections_refused_total{receiver=\"orange\",rule=\"other\"} 1\n",
        "\ntestsmtpd_connections_refused_total{receiver=\"orange\",rule=\"penalty_box\"} 0\n",
        "\ntestsmtpd_rejections_total{receiver=\"orange\",rule=\"greylist\"} 2\n",
        "\ntestsmtpd_sessions_open{receiver=\"orange\",state=\"busy\"} 2\n",
        "\ntestsmtpd_sessions_open{receiver=\"orange\",state=\"idle\"} 1\n",
        "\ntestsmtpd_messages_accepted_total{receiver=\"orange\"} 4\n",
        "\ntestsmtpd_recipients_accepted_total{receiver=\"orange\"} 6\n",
        "\ntestsmtpd_replies_total{receiver=\"orange\",code=\"421\"} 5\n",
        "\ntestsmtpd_replies_total{receiver=\"orange\",code=\"250\"} 20\n",
        "# TYPE testsmtpd_sessions_open gauge\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(t, want[i]))
            fail_msg("missing: %s\nin:\n%s", want[i], t);
    /* No zero reply codes, nothing for codes never sent. */
    assert_null(strstr(t, "code=\"354\""));
    assert_null(strstr(t, "testsmtpd_replies_total{receiver=\"gmail\""));
    /* Every sample line is "name{labels} value". */
    for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#')
            continue;
        char *brace = strchr(line, '{'), *close = strchr(line, '}');
        assert_non_null(brace);
        assert_non_null(close);
        assert_int_equal(close[1], ' ');
        char *end;
        strtoull(close + 2, &end, 10);
        assert_int_equal(*end, 0);
    }
    free(t);
}

static void test_stats(void **state)
{
    (void)state;
    smtpd_http_receiver r[2];
    known_state(r);
    char *text = smtpd_http_stats(r, 2);
    assert_non_null(text);
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    if (!j)
        fail_msg("not JSON: %s", err.text);
    json_t *o = json_object_get(json_object_get(j, "receivers"), "orange");
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "connections")), 10);
    assert_int_equal(json_integer_value(json_object_get(o, "refused")), 5);
    json_t *by = json_object_get(o, "refused_by_rule");
    assert_int_equal(json_integer_value(json_object_get(by, "concurrency_per_ip")), 3);
    assert_int_equal(json_integer_value(json_object_get(by, "max_sessions")), 1);
    assert_non_null(json_object_get(by, "penalty_box"));
    json_t *s = json_object_get(o, "sessions");
    assert_int_equal(json_integer_value(json_object_get(s, "busy")), 2);
    assert_int_equal(json_integer_value(json_object_get(s, "idle")), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "messages")), 4);
    assert_int_equal(json_integer_value(json_object_get(o, "recipients")), 6);
    json_t *rep = json_object_get(o, "replies");
    assert_int_equal(json_integer_value(json_object_get(rep, "250")), 20);
    assert_int_equal(json_object_size(rep), 3);
    json_t *g = json_object_get(json_object_get(j, "receivers"), "gmail");
    assert_int_equal(json_object_size(json_object_get(g, "replies")), 0);
    json_decref(j);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_stats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
