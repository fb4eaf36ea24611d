/*
 * utf8.c - cutting and quoting text that goes into refusal messages.
 *
 * Refusal messages quote what the agent sent (a JSON key, a header name) and
 * are cut to fixed buffers.  A cut through a multibyte character, or a byte
 * that is not UTF-8 at all, must never turn a valid refusal into something
 * else: jansson refuses to build a string that is not UTF-8, and that once
 * turned a 422 into 503 "out of memory".  So messages are cut on character
 * boundaries here, and the error reply is quoted by policy_utf8_json, which
 * cannot fail on any input.
 */
#include <stdint.h>

#include "policy.h"
#include "policy_int.h"

size_t
policy_utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
    size_t len;
    uint32_t v;

    if (p[0] < 0x80) {
        if (cp != NULL)
            *cp = p[0];
        return 1;
    }
    if (p[0] >= 0xC2 && p[0] <= 0xDF)
        len = 2, v = p[0] & 0x1F;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF)
        len = 3, v = p[0] & 0x0F;
    else if (p[0] >= 0xF0 && p[0] <= 0xF4)
        len = 4, v = p[0] & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3F);
    }
    if ((len == 3 && v < 0x800) || (len == 4 && v < 0x10000) || v > 0x10FFFF ||
        (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    if (cp != NULL)
        *cp = v;
    return len;
}

size_t
policy_utf8_fit(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = len;

    /* Back over at most three continuation bytes to the lead byte of the
     * last character; drop it if its sequence runs past len. */
    while (i > 0 && len - i < 3 && (p[i - 1] & 0xC0) == 0x80)
        i--;
    if (i == 0 || p[i - 1] < 0xC0)
        return len;
    i--;
    return policy_utf8_decode(p + i, len - i, NULL) == 0 && p[i] < 0xF5 ? i : len;
}

void
policy_utf8_cut(char *s, size_t len)
{
    s[policy_utf8_fit(s, len)] = '\0';
}

size_t
policy_utf8_json(char *out, size_t cap, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;

    if (cap == 0)
        return 0;
    while (*p != '\0') {
        char e[8];
        size_t n, k = 0, len = policy_utf8_decode(p, 4, NULL);

        if (len == 0) {
            /* Not UTF-8: U+FFFD REPLACEMENT CHARACTER, one per byte. */
            e[k++] = (char)0xEF, e[k++] = (char)0xBF, e[k++] = (char)0xBD;
            n = 1;
        } else if (*p == '"' || *p == '\\') {
            e[k++] = '\\', e[k++] = (char)*p;
            n = 1;
        } else if (*p < 0x20 || *p == 0x7F) {
            e[k++] = '\\', e[k++] = 'u', e[k++] = '0', e[k++] = '0';
            e[k++] = hex[*p >> 4], e[k++] = hex[*p & 15];
            n = 1;
        } else {
            for (n = 0; n < len; n++)
                e[k++] = (char)p[n];
        }
        if (o + k > cap - 1)
            break;
        for (size_t i = 0; i < k; i++)
            out[o++] = e[i];
        p += n;
    }
    out[o] = '\0';
    return o;
}
