/*
 * settle.c - what a send gives back of its reservation once the upstream
 * call has ended (SPEC §3).
 *
 * Only what Resend clearly did not accept is given back: a 4xx answer, or
 * a request that never left; a 5xx, a timeout or a connection lost after
 * sending keeps the reservation, since the email may have gone out.  A
 * permissive batch answered 2xx lists the elements it refused under
 * "errors": those elements' recipients come back, each element once, and
 * never more than was reserved (a replay reserved nothing).  One function
 * decides both the count and which messages, so the per-message controls
 * of SPEC §5 can never give back other messages than the cap did.
 */
#include "policy.h"

int64_t
policy_settle_refund(const struct policy_send *s, enum policy_outcome o, long status,
                     int64_t reserved, const int64_t *errors, size_t nerrors, unsigned char *given)
{
    int64_t refund = 0;

    if ((o == POLICY_OUTCOME_ANSWERED && status >= 400 && status < 500) ||
        o == POLICY_OUTCOME_NOT_SENT) {
        for (size_t i = 0; i < s->nmsg; i++)
            given[i] = 1;
        return reserved;
    }
    if (o != POLICY_OUTCOME_ANSWERED || status < 200 || status >= 300 || !s->batch)
        return 0;
    for (size_t i = 0; i < nerrors; i++) {
        int64_t ix = errors[i];

        if (ix < 0 || (uint64_t)ix >= s->nmsg || given[ix])
            continue;
        given[ix] = 1;
        refund += s->msg[ix].recipients;
    }
    return refund > reserved ? reserved : refund;
}
