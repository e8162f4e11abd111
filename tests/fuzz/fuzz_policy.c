/*
 * fuzz_policy - the policy text parser on any body: what testsmtpd's PUT /policy and SIGHUP
 * reload hand it (scenario_parse_policy). It must accept or refuse with a message; an accepted
 * policy must build a policy engine (models/policy) that takes a connection.
 */
#include <gsl/gsl_rng.h>
#include <string.h>

#include "fuzz.h"
#include "models/policy.h"
#include "scenarios/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024) /* testsmtpd's body limit */
        return 0;
    policy_config pc;
    scenario_error err;
    if (scenario_parse_policy((const char *)data, size, "PUT /policy", NULL, "mx.fuzz.test", &pc, &err) != 0) {
        fuzz_check(err.message[0], "refused without a message");
        return 0;
    }
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    char why[256];
    policy *p = rng ? policy_create(&pc, rng, why, sizeof(why)) : NULL;
    if (p)
        policy_free(p);
    gsl_rng_free(rng);
    scenario_policy_free(&pc);
    return 0;
}
