/*
 * test_policy_preset - the reply-text presets: complete, valid, and saying what the providers say.
 *
 * Every preset must give a valid reply for every rule kind that replies (policy_create checks each
 * text when a rule uses it, so a policy using every kind is built for each preset), and the texts
 * operators match on (Postfix's anvil replies, Orange's OFR codes, Yahoo's message limit) must be
 * exactly those of reference/receiver-policies.md.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "models/policy.h"
#include "models/policy_preset.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void test_list_and_find(void **state)
{
    (void)state;
    static const char *const required[] = {"postfix", "exim", "haraka", "gmail", "yahoo", "outlook",
                                           "orange", "comcast", "icloud", "gmx", "mimecast"};
    size_t n = 0;
    const policy_preset *all = policy_preset_list(&n);
    assert_non_null(all);
    assert_true(n >= NELEM(required));
    for (size_t i = 0; i < NELEM(required); i++) {
        const policy_preset *p = policy_preset_find(required[i]);
        assert_non_null(p);
        assert_string_equal(p->name, required[i]);
    }
    for (size_t i = 0; i < n; i++) {
        assert_ptr_equal(policy_preset_find(all[i].name), &all[i]);
        assert_non_null(all[i].description);
        assert_true(strlen(all[i].description) > 10);
        assert_null(strchr(all[i].description, '\n')); /* one line */
        for (size_t j = i + 1; j < n; j++)
            assert_string_not_equal(all[i].name, all[j].name);
    }
    assert_null(policy_preset_find("hotmail"));
    assert_null(policy_preset_find("Postfix"));
    assert_null(policy_preset_find(""));
    assert_null(policy_preset_find(NULL));
}

/* Every text is present (TARPIT aside) and accepted by policy_create; it is what the verdict says. */
static void test_texts_complete_and_valid(void **state)
{
    (void)state;
    size_t n = 0;
    const policy_preset *all = policy_preset_list(&n);
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < POLICY_RULE_COUNT; k++) {
            if (k == POLICY_RULE_TARPIT) {
                assert_null(all[i].texts[k]);
                continue;
            }
            if (all[i].texts[k] == NULL)
                fail_msg("preset %s has no text for %s", all[i].name, policy_rule_kind_name((policy_rule_kind)k));
        }
        /* A concurrency cap of 0 refuses every connection with the preset's text, %h and %i expanded. */
        policy_rule_config r = {.kind = POLICY_RULE_CONCURRENCY_PER_IP, .limit = 0};
        policy_config cfg = {.rules = &r, .nrules = 1, .preset = (char *)all[i].name, .hostname = "mx.example"};
        char err[256] = "";
        policy *p = policy_create(&cfg, NULL, err, sizeof(err));
        if (p == NULL)
            fail_msg("preset %s: %s", all[i].name, err);
        policy_verdict v;
        policy_session *s = policy_connect(p, "192.0.2.1", 0, &v);
        assert_true(v.code >= 400 && v.code < 600);
        assert_non_null(v.text);
        assert_null(strstr(v.text, "%h"));
        assert_null(strstr(v.text, "%i"));
        policy_close(p, s, 0);
        policy_free(p);
    }
}

/* Every kind that replies, for every preset: policy_create validates each preset text it uses. */
static void test_every_kind_builds(void **state)
{
    (void)state;
    policy_rule_config rules[] = {
        {.kind = POLICY_RULE_CONCURRENCY_PER_IP, .limit = 10},
        {.kind = POLICY_RULE_CONCURRENCY_TOTAL, .limit = 10},
        {.kind = POLICY_RULE_CONNECTION_RATE_PER_IP, .limit = 10, .window = SIM_MIN},
        {.kind = POLICY_RULE_MESSAGE_RATE_PER_IP, .limit = 10, .window = SIM_MIN},
        {.kind = POLICY_RULE_RECIPIENT_RATE_PER_IP, .limit = 10, .window = SIM_MIN},
        {.kind = POLICY_RULE_MESSAGES_PER_SESSION, .limit = 10},
        {.kind = POLICY_RULE_RECIPIENTS_PER_MESSAGE, .limit = 10},
        {.kind = POLICY_RULE_GREYLIST, .delay = 300 * SIM_SEC},
        {.kind = POLICY_RULE_TARPIT, .stage = POLICY_STAGE_HELO, .delay = SIM_SEC},
        {.kind = POLICY_RULE_PENALTY_BOX, .limit = 3, .window = SIM_MIN, .duration = SIM_HOUR},
        {.kind = POLICY_RULE_IDLE_TIMEOUT, .duration = 30 * SIM_SEC},
    };
    size_t n = 0;
    const policy_preset *all = policy_preset_list(&n);
    for (size_t i = 0; i < n; i++) {
        policy_config cfg = {.rules = rules, .nrules = NELEM(rules), .preset = (char *)all[i].name};
        char err[256] = "";
        policy *p = policy_create(&cfg, NULL, err, sizeof(err));
        if (p == NULL)
            fail_msg("preset %s: %s", all[i].name, err);
        policy_free(p);
    }
}

/* The texts that matter most, exactly; and what the verdict turns them into. */
static void test_exact_texts(void **state)
{
    (void)state;
    static const struct {
        const char *preset;
        policy_rule_kind kind;
        const char *text;
    } cases[] = {
        {"postfix", POLICY_RULE_CONCURRENCY_PER_IP, "421 4.7.0 %h Error: too many connections from %i"},
        {"postfix", POLICY_RULE_CONNECTION_RATE_PER_IP, "421 4.7.0 %h Error: too many connections from %i"},
        {"postfix", POLICY_RULE_MESSAGE_RATE_PER_IP, "450 4.7.1 Error: too much mail from %i"},
        {"postfix", POLICY_RULE_RECIPIENT_RATE_PER_IP, "450 4.7.1 Error: too many recipients from %i"},
        {"postfix", POLICY_RULE_RECIPIENTS_PER_MESSAGE, "452 4.5.3 Error: too many recipients"},
        {"postfix", POLICY_RULE_MESSAGES_PER_SESSION, "421 4.7.0 Too many messages in this connection"},
        {"postfix", POLICY_RULE_RANDOM_FAULT, "451 4.3.0 Temporary System Problem. Try again later."},
        {"postfix", POLICY_RULE_GREYLIST,
         "450 4.2.0 <%r>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/%d.html"},
        {"exim", POLICY_RULE_CONCURRENCY_PER_IP,
         "421 Too many concurrent SMTP connections from this IP address; please try again later."},
        {"exim", POLICY_RULE_MESSAGES_PER_SESSION, "421 too many messages in this connection"},
        {"haraka", POLICY_RULE_CONCURRENCY_PER_IP, "421 Too many concurrent connections"},
        {"haraka", POLICY_RULE_CONNECTION_RATE_PER_IP, "421 connection rate limit exceeded"},
        {"gmail", POLICY_RULE_RECIPIENTS_PER_MESSAGE, "452 4.5.3 Your message has too many recipients."},
        {"yahoo", POLICY_RULE_MESSAGES_PER_SESSION,
         "421 Max message per connection reached, closing transmission channel"},
        {"outlook", POLICY_RULE_CONCURRENCY_PER_IP, "421 RP-003"},
        {"orange", POLICY_RULE_CONCURRENCY_PER_IP,
         "421 mwinf5c79 ME Trop de connexions, veuillez verifier votre configuration. Too many connections, slow "
         "down. OFR005_104 [104]"},
        {"orange", POLICY_RULE_PENALTY_BOX,
         "421 mwinf5c77 ME Service refuse. Veuillez essayer plus tard. Service refused, please try later. OFR_999 "
         "[999]"},
        {"comcast", POLICY_RULE_CONCURRENCY_PER_IP, "421 - [Too many sessions opened]"},
        {"icloud", POLICY_RULE_RECIPIENT_RATE_PER_IP,
         "421 4.7.1 Messages to %r deferred due to excessive volume. Try again later"},
        {"gmx", POLICY_RULE_CONCURRENCY_PER_IP,
         "421-web.de (mxweb113) Nemesis ESMTP Service not available\n421-Reject due to policy restrictions.\n"
         "421 Too many connections"},
        {"mimecast", POLICY_RULE_GREYLIST, "451 Internal resources are temporarily unavailable"},
        /* a kind without a provider text falls back to Postfix's */
        {"gmail", POLICY_RULE_MESSAGES_PER_SESSION, "421 4.7.0 Too many messages in this connection"},
        {"orange", POLICY_RULE_RECIPIENTS_PER_MESSAGE, "452 4.5.3 Error: too many recipients"},
    };
    for (size_t i = 0; i < NELEM(cases); i++) {
        const policy_preset *p = policy_preset_find(cases[i].preset);
        assert_non_null(p);
        if (strcmp(p->texts[cases[i].kind], cases[i].text) != 0)
            fail_msg("%s/%s: \"%s\"", cases[i].preset, policy_rule_kind_name(cases[i].kind), p->texts[cases[i].kind]);
    }
    /* Only Orange has its own penalty box text. */
    size_t n = 0;
    const policy_preset *all = policy_preset_list(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(all[i].name, "orange") != 0)
            assert_null(strstr(all[i].texts[POLICY_RULE_PENALTY_BOX], "OFR"));
}

/* The preset decides the verdict's text; an explicit reply wins over it. */
static void test_preset_in_verdicts(void **state)
{
    (void)state;
    static const struct {
        const char *preset;
        const char *reply;
        const char *want;
    } cases[] = {
        {NULL, NULL, "421 4.7.0 mx1.example Error: too many connections from 203.0.113.5"},
        {"postfix", NULL, "421 4.7.0 mx1.example Error: too many connections from 203.0.113.5"},
        {"orange", NULL,
         "421 mwinf5c79 ME Trop de connexions, veuillez verifier votre configuration. Too many connections, slow "
         "down. OFR005_104 [104]"},
        {"orange", "421 4.7.0 Too many connections, slow down", "421 4.7.0 Too many connections, slow down"},
        {"gmx", NULL,
         "421-web.de (mxweb113) Nemesis ESMTP Service not available\n421-Reject due to policy restrictions.\n"
         "421 Too many connections"},
    };
    for (size_t i = 0; i < NELEM(cases); i++) {
        policy_rule_config r = {.kind = POLICY_RULE_CONCURRENCY_PER_IP, .limit = 1, .count_idle = true,
                                .reply = (char *)cases[i].reply};
        policy_config cfg = {.rules = &r, .nrules = 1, .preset = (char *)cases[i].preset, .hostname = "mx1.example"};
        policy *p = policy_create(&cfg, NULL, NULL, 0);
        assert_non_null(p);
        policy_verdict v;
        policy_session *a = policy_connect(p, "203.0.113.5", 0, &v);
        assert_int_equal(v.code, 0);
        policy_session *b = policy_connect(p, "203.0.113.5", 0, &v);
        assert_int_equal(v.code, 421);
        assert_true(v.close);
        assert_string_equal(v.text, cases[i].want);
        policy_close(p, b, 0);
        policy_close(p, a, 0);
        policy_free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_and_find),
        cmocka_unit_test(test_texts_complete_and_valid),
        cmocka_unit_test(test_every_kind_builds),
        cmocka_unit_test(test_exact_texts),
        cmocka_unit_test(test_preset_in_verdicts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
