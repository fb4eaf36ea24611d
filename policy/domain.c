/*
 * domain.c - domain validity, domain rules and matching.
 *
 * Domains are ASCII LDH (RFC 1035 §2.3.1 as relaxed by RFC 1123 §2.1); an
 * IDN appears in its xn-- form.  A rule is an exact domain or "*." and a
 * domain; the wildcard matches subdomains only, never the bare domain, and
 * matching is on whole labels, so "evilexample.com" and
 * "example.com.evil.com" never match "example.com".
 */
#include <ctype.h>
#include <string.h>

#include "policy.h"

int
policy_domain_valid(const char *in, size_t len)
{
    size_t label = 0, labels = 0;
    int last_digits = 1;

    if (len == 0 || len > POLICY_DOMAIN_MAX)
        return 0;
    for (size_t i = 0; i <= len; i++) {
        char c = i < len ? in[i] : '.';

        if (c == '.') {
            if (label == 0 || label > 63 || in[i - 1] == '-')
                return 0;
            labels++;
            label = 0;
            if (i < len)
                last_digits = 1;
            continue;
        }
        if ((unsigned char)c >= 0x80 || !(isalnum((unsigned char)c) || c == '-'))
            return 0;
        if (label == 0 && c == '-')
            return 0;
        if (!isdigit((unsigned char)c))
            last_digits = 0;
        label++;
    }
    return labels >= 2 && !last_digits;
}

int
policy_domain_rule_normalize(const char *in, char *out, size_t outlen)
{
    size_t n = strlen(in), start = strncmp(in, "*.", 2) == 0 ? 2 : 0;

    if (n + 1 > outlen || !policy_domain_valid(in + start, n - start))
        return -1;
    for (size_t i = 0; i <= n; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    return 0;
}

int
policy_domain_match(const char *rule, const char *domain)
{
    size_t rl = strlen(rule), dl = strlen(domain);

    if (rl >= 2 && rule[0] == '*' && rule[1] == '.') {
        /* ".example.com" must end the domain, after at least one label */
        return dl > rl - 1 && strcmp(domain + dl - (rl - 1), rule + 1) == 0;
    }
    return strcmp(rule, domain) == 0;
}

int
policy_domain_list_match(const char *list, const char *domain)
{
    char rule[POLICY_DOMAIN_MAX + 3];
    const char *p = list;

    if (*list == '\0')
        return 1;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);

        if (n < sizeof(rule)) {
            memcpy(rule, p, n);
            rule[n] = '\0';
            if (policy_domain_match(rule, domain))
                return 1;
        }
        p += n + (e ? 1 : 0);
    }
    return 0;
}
