/*
 * term.c - text an agent wrote, made safe to print on a person's terminal.
 *
 * `approval show` prints a held send's subject and body to the person
 * deciding on it.  An escape sequence in them could conceal a line, move
 * the cursor over what was printed, set the clipboard (OSC 52) or make a
 * link; a bidi override reverses what is read; a line break in a subject
 * forges a "to" line.  Each such character is shown as an escape instead
 * (\x1b, \u202e), so the person reads every character that would be sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Length of the UTF-8 sequence at p (a lead byte and its continuation
 * bytes), 0 if p starts none: such a byte is shown as \xNN, never passed
 * to a terminal that may read it as a C1 control. */
static size_t
seq_len(const unsigned char *p)
{
    size_t n = p[0] >= 0xC2 && p[0] <= 0xDF   ? 2
               : p[0] >= 0xE0 && p[0] <= 0xEF ? 3
               : p[0] >= 0xF0 && p[0] <= 0xF4 ? 4
                                              : 0;

    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

char *
cli_term_text(const char *s, const char *nl)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t pl = nl ? strlen(nl) : 0, cap = 1, o = 0;
    char *out;

    /* Worst cases: a byte becomes "\xNN" (4), a newline 1 + pl, a
     * three-byte character "\uNNNN" (6). */
    for (const unsigned char *q = p; *q; q++)
        cap += (*q == '\n' ? 1 + pl : 0) + 4;
    if ((out = malloc(cap)) == NULL)
        return NULL;
    while (*p) {
        size_t n = *p < 0x80 ? 1 : seq_len(p);
        unsigned cp = 0;

        if (n == 2)
            cp = (p[0] & 0x1Fu) << 6 | (p[1] & 0x3Fu);
        else if (n == 3)
            cp = (p[0] & 0x0Fu) << 12 | (p[1] & 0x3Fu) << 6 | (p[2] & 0x3Fu);
        if (nl != NULL && *p == '\n') {
            out[o++] = '\n';
            memcpy(out + o, nl, pl);
            o += pl;
        } else if (nl != NULL && *p == '\t') {
            out[o++] = '\t';
        } else if (n == 0 || (n == 1 && (*p < 0x20 || *p == 0x7F))) {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", *p);
            n = 1;
        } else if ((n == 2 && cp <= 0x9F) ||
                   (n == 3 && ((cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069)))) {
            /* C1 controls (U+0080-U+009F) and the bidi embeddings,
             * overrides and isolates. */
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", cp);
        } else {
            memcpy(out + o, p, n);
            o += n;
        }
        p += n;
    }
    out[o] = '\0';
    return out;
}
