/*
 * fuzz_addr.c - libFuzzer target for the address parser and domain rules.
 *
 * Invariants, checked on every input (not just "no crash"):
 *  - an accepted address has a valid, lower-case domain and an ASCII
 *    printable canonical form that parses back to the same address;
 *  - a domain that passes the allowlist "example.com,*.corp.example" is
 *    exactly example.com or ends in ".corp.example" with a label before it
 *    (checked by an independent oracle);
 *  - an accepted input holds none of the forms SPEC §3 refuses, by an
 *    independent scan (oracle_refused_form: encoded words, quotes, comments,
 *    literals, groups, routes, control and non-ASCII bytes, brackets, empty
 *    parts, stray dots, reserved labels);
 *  - a domain rule built from the input, if accepted, matches itself (or,
 *    for a wildcard, a subdomain of itself) and never its parent.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct policy_addr a, b;
    const char *why = NULL;
    char buf[1024], rule[300], sub[320];

    if (policy_addr_parse((const char *)data, size, &a, &why) == 0) {
        int n = policy_addr_format(&a, buf, sizeof(buf));
        const char *form = oracle_refused_form(data, size);
        if (form != NULL) {
            fprintf(stderr, "accepted an address with a refused form: %s\n", form);
            abort();
        }
        if (n <= 0)
            abort();
        for (int i = 0; i < n; i++)
            if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] > 0x7e)
                abort();
        if (!policy_domain_valid(a.domain, strlen(a.domain)))
            abort();
        for (const char *p = a.domain; *p; p++)
            if (isupper((unsigned char)*p))
                abort();
        if (policy_addr_parse(buf, (size_t)n, &b, &why) != 0 || memcmp(&a, &b, sizeof(a)) != 0)
            abort();
        if (policy_domain_list_match(ORACLE_LIST, a.domain) != oracle(a.domain))
            abort();
    } else if (why == NULL) {
        abort();
    }

    if (size < sizeof(rule)) {
        char in[300];
        memcpy(in, data, size);
        in[size] = '\0';
        if (strlen(in) == size && policy_domain_rule_normalize(in, rule, sizeof(rule)) == 0) {
            const char *base = rule[0] == '*' ? rule + 2 : rule;
            if (rule[0] == '*') {
                snprintf(sub, sizeof(sub), "a.%s", base);
                if (!policy_domain_match(rule, sub) || policy_domain_match(rule, base))
                    abort();
            } else if (!policy_domain_match(rule, rule)) {
                abort();
            }
        }
    }
    return 0;
}
