/*
 * oracle.h - the fuzz targets' independent checks: the allowlist
 * "example.com,*.corp.example", and the address forms SPEC §3 refuses.
 * Written without policy/domain.c and policy/addr.c, as plain scans, so a
 * bug there cannot hide in both.
 */
#ifndef SC_FUZZ_ORACLE_H
#define SC_FUZZ_ORACLE_H

#include <ctype.h>
#include <string.h>

#define ORACLE_LIST "example.com,*.corp.example"

static inline int
oracle(const char *d)
{
    size_t n = strlen(d), sl = strlen(".corp.example");

    if (strcmp(d, "example.com") == 0)
        return 1;
    return n > sl && strcmp(d + n - sl, ".corp.example") == 0 && d[n - sl - 1] != '.';
}

/*
 * A form SPEC §3 refuses in any part of an address (display name, local
 * part, domain), found by scanning the raw input: returns what it is, or
 * NULL.  An address the parser accepts must have none of them.
 */
static inline const char *
oracle_refused_form(const unsigned char *s, size_t n)
{
    size_t at = n, lt = n, gt = n, start, end;
    int nat = 0, nlt = 0, ngt = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] >= 0x7f)
            return "control or non-ASCII byte (NUL, UTF-8, unicode overflow)";
        if (strchr("\"()[]\\,;:", s[i]) != NULL)
            return "quote, comment, literal, backslash, list, group or route";
        if (s[i] == '=' && i + 1 < n && s[i + 1] == '?')
            return "encoded word";
        if (s[i] == '@')
            nat++, at = i;
        if (s[i] == '<')
            nlt++, lt = i;
        if (s[i] == '>')
            ngt++, gt = i;
    }
    if (nat != 1)
        return "not exactly one @";
    if (nlt > 1 || ngt > 1 || nlt != ngt)
        return "unbalanced or nested angle brackets";
    end = n;
    while (end > 0 && s[end - 1] == ' ')
        end--;
    if (nlt == 1 && (gt != end - 1 || lt > at))
        return "an address outside the angle brackets";
    start = nlt == 1 ? lt + 1 : 0;
    end = nlt == 1 ? gt : end;
    while (start < at && s[start] == ' ')
        start++;
    if (start == at || at + 1 == end)
        return "empty local part or domain";
    for (size_t i = start; i < at; i++)
        if (s[i] == '!' || s[i] == '%' || s[i] == ' ' || s[i] == '<')
            return "bang path, percent hack or space in the local part";
    if (s[start] == '.' || s[at - 1] == '.' || s[at + 1] == '.' || s[end - 1] == '.')
        return "leading or trailing dot";
    for (size_t i = start; i + 1 < end; i++)
        if (s[i] == '.' && s[i + 1] == '.')
            return "empty label or repeated dot";
    for (size_t i = at + 1, l = at + 1; i <= end; i++) {
        if (i < end && s[i] != '.')
            continue;
        if (i - l >= 4 && s[l + 2] == '-' && s[l + 3] == '-' &&
            !((s[l] | 0x20) == 'x' && (s[l + 1] | 0x20) == 'n'))
            return "reserved label with -- in third and fourth place";
        l = i + 1;
    }
    for (size_t i = at + 1; i < end; i++)
        if (!(isalnum(s[i]) || s[i] == '-' || s[i] == '.'))
            return "a domain that is not LDH (IP or address literal, port, path)";
    if (memchr(s + at + 1, '.', end - at - 1) == NULL)
        return "a domain of one label";
    return NULL;
}

#endif
