/*
 * addr.c - the narrow address grammar of SPEC §3.
 *
 *   address  = addr-spec / [name] "<" addr-spec ">"
 *   addr-spec = local "@" domain
 *   local    = dot-atom-text of RFC 5322 §3.2.3 without "!" and "%"
 *              (source-routing relics) and without "=?" (encoded words),
 *              1-64 characters
 *   domain   = see policy_domain_valid
 *   name     = printable ASCII without the specials that would need quoting
 *              ("(),:;<>@[\] and the double quote) and without "=?"
 *
 * Quoted strings, comments, encoded words, address literals, groups,
 * non-ASCII and control characters are refused: sendcap checks domains, and
 * every construct it does not parse is one a mail system might read
 * differently from it.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"

static int
atext(int c)
{
    return isalnum(c) || (c != 0 && strchr("#$&'*+-/=?^_`{|}~", c) != NULL);
}

static int
parse_spec(const char *s, size_t len, struct policy_addr *out, const char **why)
{
    const char *at = memchr(s, '@', len);
    size_t ll, dl;

    if (at == NULL) {
        *why = "no @";
        return -1;
    }
    if (memchr(at + 1, '@', len - (size_t)(at - s) - 1) != NULL) {
        *why = "more than one @";
        return -1;
    }
    ll = (size_t)(at - s);
    dl = len - ll - 1;
    if (ll == 0 || ll > POLICY_LOCAL_MAX) {
        *why = "the part before @ is empty or longer than 64 characters";
        return -1;
    }
    for (size_t i = 0; i < ll; i++) {
        if (s[i] == '.') {
            if (i == 0 || i == ll - 1 || s[i - 1] == '.') {
                *why = "a dot starts, ends or repeats in the part before @";
                return -1;
            }
        } else if (!atext((unsigned char)s[i])) {
            *why = "the part before @ holds a character sendcap does not accept";
            return -1;
        }
    }
    /* "=?charset?q?...?=" is an RFC 2047 encoded word: a mail system that
     * decodes it where RFC 2047 forbids it (PortSwigger, "Splitting the
     * email atom", 2024) reads another address out of the local part, e.g.
     * "=?x?q?a=40evil.com=3e?=@allowed.com". */
    for (size_t i = 0; i + 1 < ll; i++) {
        if (s[i] == '=' && s[i + 1] == '?') {
            *why = "encoded words are not accepted in the part before @";
            return -1;
        }
    }
    if (!policy_domain_valid(at + 1, dl)) {
        *why = "the domain is not a valid host name";
        return -1;
    }
    memcpy(out->local, s, ll);
    out->local[ll] = '\0';
    for (size_t i = 0; i < dl; i++)
        out->domain[i] = (char)tolower((unsigned char)at[1 + i]);
    out->domain[dl] = '\0';
    return 0;
}

int
policy_addr_parse(const char *s, size_t len, struct policy_addr *out, const char **why)
{
    const char *lt, *gt;
    size_t nl;

    memset(out, 0, sizeof(*out));
    if (len > POLICY_ADDR_INPUT_MAX) {
        *why = "the address is too long";
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f) {
            *why = "the address holds a non-ASCII or control character";
            return -1;
        }
    }
    while (len > 0 && s[0] == ' ') {
        s++;
        len--;
    }
    while (len > 0 && s[len - 1] == ' ')
        len--;
    if (len == 0) {
        *why = "the address is empty";
        return -1;
    }
    lt = memchr(s, '<', len);
    gt = memchr(s, '>', len);
    if (lt == NULL && gt == NULL)
        return parse_spec(s, len, out, why);
    if (lt == NULL || gt != s + len - 1 || memchr(lt + 1, '<', len - (size_t)(lt - s) - 1) ||
        memchr(s, '>', len - 1) != NULL) {
        *why = "angle brackets must enclose the address once, at the end";
        return -1;
    }
    nl = (size_t)(lt - s);
    while (nl > 0 && s[nl - 1] == ' ')
        nl--;
    if (nl > POLICY_NAME_MAX) {
        *why = "the display name is too long";
        return -1;
    }
    for (size_t i = 0; i < nl; i++) {
        if (strchr("\"(),:;<>@[\\]", s[i]) != NULL) {
            *why = "the display name holds a quote, comment or special character";
            return -1;
        }
        if (s[i] == '=' && i + 1 < nl && s[i + 1] == '?') {
            *why = "encoded words are not accepted in display names";
            return -1;
        }
    }
    if (parse_spec(lt + 1, (size_t)(gt - lt - 1), out, why) != 0)
        return -1;
    memcpy(out->name, s, nl);
    out->name[nl] = '\0';
    return 0;
}

int
policy_addr_format(const struct policy_addr *a, char *buf, size_t len)
{
    int n;

    if (a->name[0] != '\0')
        n = snprintf(buf, len, "%s <%s@%s>", a->name, a->local, a->domain);
    else
        n = snprintf(buf, len, "%s@%s", a->local, a->domain);
    return (n < 0 || (size_t)n >= len) ? -1 : n;
}
