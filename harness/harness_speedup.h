/*
 * harness_speedup - what `tempfail replay --speedup K` does to a Postfix configuration: every time is
 * divided by K, and rounded to the whole seconds Postfix counts its timers in.
 *
 * A replay at K times real speed is faithful only if Postfix runs the same schedule, K times faster.
 * Postfix reads queue_run_delay, the backoff times, the rate delays, the connection cache limits and
 * the smtp(8) timeouts as whole seconds, so a timer that K shrinks below a second, or that rounding
 * moves by more than a tenth, would make the real Postfix run a different configuration from the one
 * simulated: such a K is refused, naming the parameter. The rounded values are written back, so the
 * simulation of a validation run uses exactly what the real Postfix does.
 */
#ifndef HARNESS_SPEEDUP_H
#define HARNESS_SPEEDUP_H

#include <stddef.h>

#include <stdbool.h>

#include "models/mta_params.h"
#include "scenarios/scenario.h"

#define HARNESS_SPEEDUP_TOLERANCE 0.10 /* how far rounding may move a timer */

/* Divides every Postfix time of m by k (>= 1) and rounds it to whole seconds. Returns 0, or -1 with
 * the reason in err ("queue_run_delay: ...", or "mta.transports.slowmx: smtp_connect_timeout: ...");
 * m is then partly scaled and must not be used. tls_everywhere: every receiver offers STARTTLS
 * (harness_speedup_tls_everywhere), so a transport that uses TLS without smtp_tls_connection_reuse
 * caches no session and its cache limits do not bound k. */
int harness_speedup_mta(mta_config *m, double k, bool tls_everywhere, char *err, size_t errlen);
/* The same rounding, expressed back in scenario time (each timer round(t / k) * k): what the
 * simulation of a validation runs, so that it models exactly the timers the real Postfix has. */
int harness_speedup_mta_scenario(mta_config *m, double k, bool tls_everywhere, char *err, size_t errlen);
/* The machine's own costs do not speed up: a replay at K runs the scenario's timers K times faster on
 * the same CPU, so in scenario time the host's CPU work (mta.cpu.per_delivery, per_message,
 * process_start, tls.cpu) and the receiver's (connect_latency, latency) last K times as long. Scales
 * them by k for the simulation a replay at K is compared with. Network round trips, bandwidth and a
 * receiver's service time are the scenario's world, which testsmtpd does not reproduce: unchanged. */
void harness_speedup_costs(scenario *s, double k);
/* Whether every receiver the scenario's mail can reach offers STARTTLS. */
bool harness_speedup_tls_everywhere(const scenario *s);

#endif
