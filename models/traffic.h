/*
 * traffic - the one message generator both worlds use (DESIGN.md principle 2).
 *
 * A scenario describes message classes; each class has an arrival process, a size distribution, a
 * recipient count distribution and a weighted recipient-domain mix. traffic_next() yields the arrivals
 * of all classes merged in time order (ties: class order), each with its own random stream per class
 * ("arrivals/<class>"), so the simulator and the replay injector see the very same messages.
 *
 * The re-send loop: a user who has not received a message of a class within resend.after asks for
 * another one (a login code), with resend.probability, at most resend.max times per original message.
 * The generator cannot know deliveries, so the consumer asks traffic_resend() when the `after` timer of
 * a message expires undelivered; the answer and the new message come from the class's own stream
 * ("resend/<class>"), so they too are identical across worlds.
 */
#ifndef TRAFFIC_H
#define TRAFFIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/sim_dist.h"
#include "sim/sim_time.h"

typedef enum {
    TRAFFIC_POISSON,   /* rate msgs/s */
    TRAFFIC_SCHEDULE,  /* piecewise-constant Poisson rate; repeats every `period` when > 0 (diurnal load) */
    TRAFFIC_BURST,     /* `count` messages spread uniformly at random over [start, start + over) */
    TRAFFIC_PERIODIC,  /* `count` messages at once every `every`, first at `start` */
    TRAFFIC_TRACE,     /* explicit arrival times (from a file), sorted */
} traffic_process_kind;
#define TRAFFIC_PROCESS_COUNT (TRAFFIC_TRACE + 1)

/* The scenario's names of the arrival processes, by kind: "poisson", "schedule", ... */
extern const char *const traffic_process_names[TRAFFIC_PROCESS_COUNT];

typedef struct traffic_rate_step {
    sim_time_t at; /* from this offset on (within the period) ... */
    double rate;   /* ... messages per second */
} traffic_rate_step;

typedef struct traffic_arrivals {
    traffic_process_kind kind;
    double rate;                /* POISSON */
    traffic_rate_step *steps;   /* SCHEDULE: sorted by at, steps[0].at == 0 */
    size_t nsteps;
    sim_time_t period;          /* SCHEDULE: 0 = no repeat */
    uint64_t count;             /* BURST, PERIODIC */
    sim_time_t start, over;     /* BURST: interval; PERIODIC: first batch at start */
    sim_time_t every;           /* PERIODIC */
    sim_time_t *times;          /* TRACE */
    size_t ntimes;
} traffic_arrivals;

typedef struct traffic_domain_weight {
    char *domain;
    double weight; /* relative; need not sum to 1 */
} traffic_domain_weight;

/* The typedef is traffic_resend_config because traffic_resend names the function below (one
 * identifier cannot be both); the struct tag stays struct traffic_resend. */
typedef struct traffic_resend {
    sim_time_t after;   /* 0 = no re-sends */
    double probability;
    uint32_t max;
} traffic_resend_config;

typedef struct traffic_class_config {
    char *name;
    traffic_arrivals arrivals;
    sim_dist size;        /* bytes */
    sim_dist recipients;  /* recipients per message, rounded to an integer >= 1; default constant 1 */
    traffic_domain_weight *domains;
    size_t ndomains;
    traffic_resend_config resend;
    char *sender;         /* envelope sender, default TRAFFIC_DEFAULT_SENDER */
} traffic_class_config;

typedef struct traffic_config {
    traffic_class_config *classes;
    size_t nclasses;
} traffic_config;

/*
 * Recipients of one message, at most. Postfix itself has no such limit: a queue file holds any
 * number, qmgr reads at most qmgr_message_recipient_limit (20000) recipients of one message into
 * memory at a time and the rest as those are done, and only smtpd caps what one SMTP transaction
 * may carry (smtpd_recipient_limit, 1000). So messages with thousands of recipients are ordinary
 * where a list or an alias is expanded into one queue file - and a replay, which submits over SMTP,
 * raises its private Postfix's smtpd_recipient_limit to what the scenario can send
 * (traffic_max_rcpt, harness_postfix_conf.c). 65,535 is beyond any list a sender puts in one message
 * rather than in batches, and keeps a recipient's index within its message 16 bits wide: a delivery
 * request holds 2 bytes per recipient (mta_entry, models/mta_impl.h, asserts it).
 */
#define TRAFFIC_MAX_RCPT 65535

/* One generated message. Recipient domains index into the class's domains array. */
typedef struct traffic_msg {
    uint64_t id;          /* 1, 2, 3, ... in generation order (re-sends included) */
    uint32_t cls;         /* index into config classes */
    sim_time_t arrival;
    uint32_t size;        /* bytes */
    uint32_t nrcpt;
    uint16_t *rcpt_domain;/* nrcpt entries; points into generator-owned storage valid until the next call */
    uint64_t resend_of;   /* id of the original message, 0 for an original */
    uint32_t resend_no;   /* 0 for an original, 1.. for re-sends */
} traffic_msg;

typedef struct traffic traffic;

/* The envelope sender of a class: its `sender`, or TRAFFIC_DEFAULT_SENDER when NULL. */
#define TRAFFIC_DEFAULT_SENDER "noreply@tempfail.test"
const char *traffic_class_sender(const traffic_class_config *c);

/*
 * Checks what traffic_create() relies on: unique non-empty class names, sorted schedule steps and
 * trace times, non-negative finite rates and weights, at least one domain with positive weight, a
 * probability in [0, 1], ... Returns 0, or -EINVAL with a message naming the class and the field,
 * e.g. "traffic.classes[1] (bulk): arrivals.steps[2].at: not after steps[1].at", for the loader to
 * prefix with file:line:column.
 */
int traffic_config_check(const traffic_config *cfg, char *err, size_t errlen);

/*
 * horizon: no new arrivals at or after it (SIM_TIME_NEVER for none); re-sends of earlier messages go on
 * while the queues drain (users keep asking). cfg is borrowed,
 * not copied: it must outlive the generator (messages index into it anyway). A cfg that fails
 * traffic_config_check() is a broken invariant (abort).
 */
traffic *traffic_create(const traffic_config *cfg, uint64_t seed, uint32_t replication, sim_time_t horizon);
void traffic_free(traffic *t);

/* Time of the next arrival, or SIM_TIME_NEVER when every class is exhausted. */
sim_time_t traffic_peek(const traffic *t);
/* Fills *m with the next arrival; false when exhausted. */
bool traffic_next(traffic *t, traffic_msg *m);
/*
 * Message `orig` (original or re-send) was not delivered within resend.after; now = orig.arrival +
 * after. Decides whether the user re-sends; if so fills *m with the new message (arrival = now, its
 * own size and recipients drawn like an original, resend_of = the original's id) and returns true.
 * The caller counts re-sends per original: pass the number already made in `made`.
 * False, drawing nothing, when the class has no re-sends (after == 0) or made >= max. orig and m may point to the same message.
 */
bool traffic_resend(traffic *t, const traffic_msg *orig, uint32_t made, sim_time_t now, traffic_msg *m);

/*
 * Where an arrival process ends: it has no arrival at or after the time returned. BURST: start +
 * over. TRACE: the whole second after its last time. SCHEDULE without a period whose last steps have
 * rate 0: the first of those steps. PERIODIC with every == 0 (a single batch): just after start. 0
 * for a process without arrivals (an empty trace, a zero rate). SIM_TIME_NEVER for the processes
 * that go on for ever: POISSON, PERIODIC, a repeating SCHEDULE or one that ends at a rate above 0.
 * The loader's default `duration` is the latest end when no class goes on for ever.
 */
sim_time_t traffic_arrivals_end(const traffic_arrivals *a);

/*
 * The most recipients a message of class c can have: the largest value of its `recipients`
 * distribution, rounded as messages round it, for a constant, a uniform or an empirical one;
 * TRAFFIC_MAX_RCPT for a distribution without an upper end. traffic_max_rcpt: over every class.
 */
uint32_t traffic_class_max_rcpt(const traffic_class_config *c);
uint32_t traffic_max_rcpt(const traffic_config *cfg);

/*
 * Expected messages per second of a class at time t (for documentation and Little's law checks).
 * POISSON: rate. SCHEDULE: the rate of the step t falls in (within the period). BURST: count / over
 * inside [start, start + over), else 0. PERIODIC: the average count / every from start on (0 for a
 * single batch, every == 0). TRACE: the average over the trace, (ntimes - 1) / (last - first),
 * between the first and last time, else 0. 0 before time 0.
 */
double traffic_rate_at(const traffic_class_config *c, sim_time_t t);

#endif
