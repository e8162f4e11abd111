/*
 * mta_record - names of delivery statuses and message outcomes, as Postfix logs them.
 */
#include "models/mta_record.h"

const char *mta_status_name(mta_status s)
{
    static const char *const names[] = {"sent", "deferred", "bounced", "expired"};
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

const char *mta_outcome_name(mta_outcome o)
{
    static const char *const names[] = {"delivered", "bounced", "queued"};
    return (unsigned)o < sizeof(names) / sizeof(names[0]) ? names[o] : "unknown";
}
