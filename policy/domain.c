/*
 * domain.c - domain rules for --from-domain and --to-domain.
 *
 * A rule is an exact domain or "*." followed by one: the wildcard matches
 * subdomains only, never the bare domain.  Domains are ASCII LDH (RFC 1035
 * §2.3.1 as relaxed by RFC 1123 §2.1); IDNs appear in their xn-- form.
 */
#include <ctype.h>
#include <string.h>

#include "policy.h"

int
policy_domain_rule_normalize(const char *in, char *out, size_t outlen)
{
    size_t n = strlen(in), label = 0, labels = 0, start = 0;

    if (strncmp(in, "*.", 2) == 0)
        start = 2;
    if (n - start == 0 || n - start > 253 || n + 1 > outlen)
        return -1;
    for (size_t i = start; i <= n; i++) {
        char c = in[i];

        if (c == '.' || c == '\0') {
            if (label == 0 || label > 63 || in[i - 1] == '-')
                return -1;
            labels++;
            label = 0;
            continue;
        }
        if (!(isalnum((unsigned char)c) || c == '-') || (c & 0x80))
            return -1;
        if (label == 0 && c == '-')
            return -1;
        label++;
    }
    if (labels < 2)
        return -1;
    for (size_t i = 0; i <= n; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    return 0;
}
