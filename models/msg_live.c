/*
 * msg_live - a sender's live messages and the records it reports of them (see msg_live.h).
 */
#include "models/msg_live.h"

void msg_live_add(msg_live_list *l, msg_live *m, const traffic_msg *tm, uint64_t tag, sim_time_t now)
{
    *m = (msg_live){.id = tm->id, .tag = tag, .resend_of = tm->resend_of, .arrival = now, .size = tm->size,
                    .nrcpt = tm->nrcpt, .resend_no = tm->resend_no, .cls = (uint16_t)tm->cls, .lprev = l->tail};
    if (l->tail)
        l->tail->lnext = m;
    else
        l->head = m;
    l->tail = m;
}

void msg_live_remove(msg_live_list *l, msg_live *m)
{
    if (m->lprev)
        m->lprev->lnext = m->lnext;
    else
        l->head = m->lnext;
    if (m->lnext)
        m->lnext->lprev = m->lprev;
    else
        l->tail = m->lprev;
    m->lprev = m->lnext = NULL;
}

sim_time_t msg_live_oldest(const msg_live_list *l) { return l->head ? l->head->arrival : SIM_TIME_NEVER; }

void msg_live_attempt(const mta_env *env, uint32_t host, const msg_live *m, uint32_t ri, const char *domain,
                      mta_attempt_record *r)
{
    if (!env->attempt)
        return;
    char qid[16] = "", rcpt[320] = "";
    if (env->attempt_text) {
        mta_record_queue_id(host, m->id, qid, sizeof(qid));
        mta_record_rcpt(m->id, ri, domain, rcpt, sizeof(rcpt));
    }
    r->host = host;
    r->queue_id = qid;
    r->rcpt = rcpt;
    r->arrival = m->arrival;
    r->cls = m->cls;
    env->attempt(env->ctx, r);
}

void msg_live_done(const mta_env *env, uint32_t host, const msg_live *m, const char *first_domain, sim_time_t now,
                   mta_outcome outcome)
{
    if (!env->message_done)
        return;
    char qid[16];
    mta_record_queue_id(host, m->id, qid, sizeof(qid));
    mta_message_record r = {.msg_id = m->id, .queue_id = qid, .host = host, .cls = m->cls,
                            .cls_name = env->traffic->classes[m->cls].name, .domain = first_domain,
                            .nrcpt = m->nrcpt, .size = m->size, .arrival = m->arrival,
                            .done = outcome == MTA_OUTCOME_QUEUED ? SIM_TIME_NEVER : now, .outcome = outcome,
                            .attempts = m->attempts, .resend_of = m->resend_of, .resend_no = m->resend_no};
    env->message_done(env->ctx, &r, m->tag);
}
