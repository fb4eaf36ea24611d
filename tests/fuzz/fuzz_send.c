/*
 * fuzz_send.c - libFuzzer target for the send-facts reader and decision.
 *
 * The first byte picks single send or batch; the rest is the body.
 * Invariants:
 *  - a body that is read has 1..100 messages, recipients equal to the sum
 *    over messages, at most 50 "to" per message, and every address domain
 *    valid;
 *  - with a key limited to from example.com and to example.com /
 *    *.corp.example, an allowed decision reserves exactly the recipients,
 *    and every from and recipient domain satisfies an independent oracle;
 *  - a refused body always names a field and says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oracle.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct policy_send s;
    struct policy_decision d;
    struct policy_key k = {POLICY_SCOPE_SENDING, 1000, "example.com", ORACLE_LIST, 0};
    const struct policy_route *route;
    int batch;

    if (size < 1)
        return 0;
    batch = data[0] & 1;
    policy_route_match("POST", batch ? "/emails/batch" : "/emails", &route);
    if (policy_send_parse((const char *)data + 1, size - 1, batch, &s) == 0) {
        long sum = 0;
        if (s.nmsg < 1 || s.nmsg > POLICY_BATCH_MAX || s.error[0] != '\0')
            abort();
        for (size_t i = 0; i < s.nmsg; i++) {
            sum += s.msg[i].recipients;
            if (s.msg[i].has_from &&
                !policy_domain_valid(s.msg[i].from_domain, strlen(s.msg[i].from_domain)))
                abort();
        }
        if (sum != s.recipients)
            abort();
        for (size_t i = 0; i < s.naddr; i++)
            if (!policy_domain_valid(s.addr[i].domain, strlen(s.addr[i].domain)))
                abort();
        policy_decide(&k, route, &s, &d);
        if (d.reason == POLICY_ALLOW) {
            if (d.sends != s.recipients)
                abort();
            for (size_t i = 0; i < s.nmsg; i++)
                if (!s.msg[i].has_from || strcmp(s.msg[i].from_domain, "example.com") != 0)
                    abort();
            for (size_t i = 0; i < s.naddr; i++)
                if (!oracle(s.addr[i].domain))
                    abort();
        }
    } else if (s.field[0] == '\0' || s.error[0] == '\0') {
        abort();
    }
    policy_send_free(&s);
    return 0;
}
