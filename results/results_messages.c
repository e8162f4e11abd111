/*
 * results_messages - formats mta_message_record rows of messages.csv.
 */
#include "results/results_messages.h"
#include "results/results_fmt.h"
#include "results/results_json.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "results/results_csv.h"

struct results_messages {
    results_csv *csv;
    bool header_done;
};

static const char *const columns[] = {
    "id",      "queue_id", "host",    "class",    "domain",  "nrcpt",     "size",
    "arrival", "done",     "outcome", "attempts", "latency", "resend_of", "resend_no",
};

results_messages *results_messages_create(FILE *f)
{
    results_messages *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    if (!(m->csv = results_csv_create(f))) {
        free(m);
        return NULL;
    }
    return m;
}

void results_messages_free(results_messages *m)
{
    if (!m)
        return;
    results_csv_free(m->csv);
    free(m);
}

static void header(results_messages *m)
{
    if (!m->header_done) {
        m->header_done = true;
        results_csv_row_strs(m->csv, columns, sizeof(columns) / sizeof(columns[0]));
    }
}

int results_messages_write(results_messages *m, const mta_message_record *r)
{
    header(m);
    results_csv *w = m->csv;
    char host[16] = "mta";
    results_fmt_u64(host + 3, (uint64_t)r->host + 1);
    bool queued = r->done == SIM_TIME_NEVER;
    results_csv_uint(w, r->msg_id);
    results_csv_str(w, r->queue_id);
    results_csv_str(w, host);
    results_csv_str(w, r->cls_name);
    results_csv_str(w, r->domain);
    results_csv_uint(w, r->nrcpt);
    results_csv_uint(w, r->size);
    results_csv_time(w, r->arrival);
    results_csv_time(w, r->done);
    results_csv_str(w, mta_outcome_name(r->outcome));
    results_csv_uint(w, r->attempts);
    results_csv_time(w, queued ? SIM_TIME_NEVER : r->done - r->arrival);
    results_csv_uint(w, r->resend_of);
    results_csv_uint(w, r->resend_no);
    return results_csv_end_row(w);
}

int results_messages_finish(results_messages *m)
{
    header(m);
    return results_csv_flush(m->csv);
}

void results_messages_observe(void *ctx, const mta_message_record *r)
{
    results_messages_write(ctx, r);
}

void results_messages_tally_add(results_messages_tally *t, const mta_message_record *r)
{
    bool queued = r->outcome == MTA_OUTCOME_QUEUED;
    if (queued)
        t->queued++;
    else if (r->done > t->last_done)
        t->last_done = r->done;
    if (!queued && r->done < t->warmup)
        return;
    if (r->attempts == 0)
        return;
    t->with_attempt++;
    if (r->attempts > 1 || r->outcome != MTA_OUTCOME_DELIVERED)
        t->first_deferred++;
}

void results_messages_tally_json(const results_messages_tally *t, json_t *messages, json_t *queue)
{
    json_object_set_new(messages, "first_attempt_deferred", results_json_count(t->first_deferred));
    json_object_set_new(messages, "first_attempt_deferral_rate",
                        t->with_attempt ? results_json_real((double)t->first_deferred / (double)t->with_attempt)
                                        : json_null());
    json_object_set_new(queue, "drained_at", t->queued ? json_null() : results_json_real(sim_time_to_sec(t->last_done)));
}
