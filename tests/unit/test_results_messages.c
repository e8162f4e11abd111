/*
 * test_results_messages - messages.csv rows, exactly as docs/results.md describes them.
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
#include "results/results_messages.h"

static char *write_rows(const mta_message_record *r, size_t n)
{
    memout out;
    results_messages *m = results_messages_create(memout_open(&out));
    for (size_t i = 0; i < n; i++)
        assert_int_equal(results_messages_write(m, &r[i]), 0);
    assert_int_equal(results_messages_finish(m), 0);
    results_messages_free(m);
    return memout_close(&out);
}

static void test_messages_rows_exact(void **state)
{
    (void)state;
    mta_message_record r[] = {
        {.msg_id = 17, .queue_id = "3F2A1B00C4", .host = 0, .cls = 0, .cls_name = "transactional",
         .domain = "orange.test", .nrcpt = 1, .size = 4123, .arrival = 12 * SIM_SEC + 250 * SIM_MSEC,
         .done = 312 * SIM_SEC + 260001, .outcome = MTA_OUTCOME_DELIVERED, .attempts = 2, .resend_of = 0,
         .resend_no = 0},
        {.msg_id = 18, .queue_id = "4B1C2D00E5", .host = 1, .cls = 1, .cls_name = "bulk, weekly",
         .domain = "gmail.test", .nrcpt = 3, .size = 40000, .arrival = 20 * SIM_SEC, .done = SIM_TIME_NEVER,
         .outcome = MTA_OUTCOME_QUEUED, .attempts = 5, .resend_of = 0, .resend_no = 0},
        {.msg_id = 19, .queue_id = "5C2D3E00F6", .host = 0, .cls = 0, .cls_name = "transactional",
         .domain = "other.test", .nrcpt = 1, .size = 900, .arrival = 80 * SIM_SEC, .done = 86 * SIM_SEC,
         .outcome = MTA_OUTCOME_BOUNCED, .attempts = 1, .resend_of = 17, .resend_no = 1},
    };
    char *s = write_rows(r, 3);
    assert_string_equal(s, "id,queue_id,host,class,domain,nrcpt,size,arrival,done,outcome,attempts,latency,"
                           "resend_of,resend_no\n"
                           "17,3F2A1B00C4,mta1,transactional,orange.test,1,4123,12.25,312.260001,delivered,2,"
                           "300.010001,0,0\n"
                           "18,4B1C2D00E5,mta2,\"bulk, weekly\",gmail.test,3,40000,20,,queued,5,,0,0\n"
                           "19,5C2D3E00F6,mta1,transactional,other.test,1,900,80,86,bounced,1,6,17,1\n");
    free(s);
}

static void test_messages_header_only(void **state)
{
    (void)state;
    char *s = write_rows(NULL, 0);
    assert_string_equal(s, "id,queue_id,host,class,domain,nrcpt,size,arrival,done,outcome,attempts,latency,"
                           "resend_of,resend_no\n");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_messages_rows_exact),
        cmocka_unit_test(test_messages_header_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
