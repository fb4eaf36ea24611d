/*
 * domain.c - domain validity, domain rules and matching.
 *
 * Domains are ASCII LDH (RFC 1035 §2.3.1 as relaxed by RFC 1123 §2.1); an
 * IDN appears in its xn-- form, which must be valid Punycode decoding to no
 * control, invisible or look-alike-of-ASCII-special character; other labels
 * with "--" in third and fourth place are reserved and refused.  A rule is an exact domain or "*."
 * and a domain; the wildcard matches subdomains only, never the bare domain, and matching is on
 * whole labels, so "evilexample.com" and "example.com.evil.com" never match "example.com".
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include "policy.h"
#include "policy_int.h"

/* Code points an IDN label must not decode to: controls, spaces and
 * invisible format characters, and the compatibility forms that NFKC or a
 * lax IDNA mapping turns into ASCII specials or a label separator (fullwidth
 * and small "@" ".", ideographic full stop, enclosed "1.", "a/c").  A mail
 * system that maps the label would read another domain than the one
 * matched (PortSwigger, "Splitting the email atom", 2024). */
static int
idn_forbidden(uint32_t c)
{
    static const uint32_t ranges[][2] = {
        {0x0000, 0x00A0}, {0x00AD, 0x00AD},   {0x034F, 0x034F},   {0x115F, 0x1160},
        {0x180B, 0x180F}, {0x2000, 0x218F},   {0x2460, 0x24FF},   {0x3000, 0x303F},
        {0x3164, 0x3164}, {0xD800, 0xF8FF},   {0xFE00, 0xFE6F},   {0xFEFF, 0xFEFF},
        {0xFF00, 0xFFFF}, {0x1F100, 0x1F10F}, {0xE0000, 0xE0FFF}, {0xF0000, 0xFFFFFFFF},
    };

    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
        if (c >= ranges[i][0] && c <= ranges[i][1])
            return 1;
    return 0;
}

uint32_t
policy_punycode_adapt(uint32_t delta, uint32_t points, int first)
{
    uint32_t k = 0;

    delta = first ? delta / 700 : delta / 2;
    delta += delta / points;
    while (delta > ((36 - 1) * 26) / 2) {
        delta /= 36 - 1;
        k += 36;
    }
    return k + (36 * delta) / (delta + 38);
}

/* Does the Punycode after "xn--" (RFC 3492 §6.2, strict: no overflow, no
 * code point past U+10FFFF) decode to at least one non-ASCII code point, and
 * to none that idn_forbidden names?  The basic code points before the last
 * "-" are LDH already.  Only the set of code points matters here, so the
 * label is decoded without being built. */
static int
punycode_ok(const char *in, size_t len)
{
    uint32_t n = 128, i = 0, bias = 72, out = 0;
    size_t p = len;

    while (p > 0 && in[p - 1] != '-')
        p--;
    out = p > 0 ? (uint32_t)(p - 1) : 0;
    if (p == len)
        return 0; /* nothing encoded: an ASCII label in disguise */
    while (p < len) {
        uint32_t oldi = i, w = 1;

        for (uint32_t k = 36;; k += 36) {
            char c = p < len ? in[p++] : '\0';
            uint32_t d, t;

            if (c >= 'a' && c <= 'z')
                d = (uint32_t)(c - 'a');
            else if (c >= 'A' && c <= 'Z')
                d = (uint32_t)(c - 'A');
            else if (c >= '0' && c <= '9')
                d = (uint32_t)(c - '0') + 26;
            else
                return 0;
            if (d > (UINT32_MAX - i) / w)
                return 0;
            i += d * w;
            t = k <= bias ? 1 : k >= bias + 26 ? 26 : k - bias;
            if (d < t)
                break;
            if (w > UINT32_MAX / (36 - t))
                return 0;
            w *= 36 - t;
        }
        out++;
        bias = policy_punycode_adapt(i - oldi, out, oldi == 0);
        if (i / out > 0x10FFFF - n)
            return 0;
        n += i / out;
        i %= out;
        if (idn_forbidden(n))
            return 0;
        i++;
    }
    return 1;
}

/* A label with "--" in its third and fourth characters is reserved
 * (RFC 5891 §4.2.3.1) unless it is an A-label, "xn--" and valid Punycode. */
static int
label_ok(const char *l, size_t n)
{
    if (n < 4 || l[2] != '-' || l[3] != '-')
        return 1;
    if (tolower((unsigned char)l[0]) != 'x' || tolower((unsigned char)l[1]) != 'n')
        return 0;
    return punycode_ok(l + 4, n - 4);
}

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
            if (label == 0 || label > 63 || in[i - 1] == '-' || !label_ok(in + i - label, label))
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
