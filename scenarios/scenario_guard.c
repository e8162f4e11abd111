/*
 * scenario_guard - the nesting bound checked on YAML text before it is parsed (scenario_guard.h).
 *
 * One pass over the text, a line at a time. At the start of a line outside flow collections and
 * quoted scalars, the line's indentation closes the block levels at or right of it and opens one,
 * and each "- " that follows opens another (the entry's content is nested). Within a line, '[' and
 * '{' open a flow level and ']' and '}' close one. Quoted scalars and comments are skipped: a quote
 * starts a scalar only where YAML allows one (at the start of a line or after ": ", "- ", "? ", '[',
 * '{', or ',' in a flow collection), so a quote inside a plain scalar (don't) is text. A block scalar
 * (| or > after a key or an entry) is skipped while its lines are indented deeper than its key.
 */
#include "scenarios/scenario_guard.h"

#include <stdio.h>
#include <string.h>

typedef struct guard {
    const char *t;
    size_t len, pos, line, line_start, max;
    size_t stack[SCENARIO_GUARD_DEPTH + 2]; /* the indentation of each open block level */
    size_t nblock, flow;
    char quote;        /* '\'' or '"' while in a quoted scalar, else 0 */
    bool block_scalar; /* in a block scalar's content */
    size_t scalar_parent; /* its key's indentation */
} guard;

static bool blank(char ch) { return ch == ' ' || ch == '\t'; }

/* Opens a block level at column col; false when that is past the bound. */
static bool push_block(guard *g, size_t col)
{
    if (g->nblock + g->flow >= g->max)
        return false;
    g->stack[g->nblock++] = col;
    return true;
}

/* After an indicator at p (':', '-', '?'), a blank or the end of the line: YAML's indicator. */
static bool indicator(const guard *g, size_t p)
{
    return p + 1 >= g->len || blank(g->t[p + 1]) || g->t[p + 1] == '\n' || g->t[p + 1] == '\r';
}

/* A '|' or '>' at p, then only chomping and indentation indicators, then the end of the line or a
 * comment: a block scalar starts. */
static bool block_scalar_at(const guard *g, size_t p)
{
    if (g->t[p] != '|' && g->t[p] != '>')
        return false;
    for (p++; p < g->len && g->t[p] != '\n' && g->t[p] != '\r'; p++) {
        char ch = g->t[p];
        if (blank(ch)) {
            while (p < g->len && blank(g->t[p]))
                p++;
            return p >= g->len || g->t[p] == '\n' || g->t[p] == '\r' || g->t[p] == '#';
        }
        if (ch != '+' && ch != '-' && !(ch >= '1' && ch <= '9'))
            return false;
    }
    return true;
}

/* The start of a line: indentation, block levels, a block scalar's content. False past the bound. */
static bool line_start(guard *g)
{
    size_t p = g->pos, ind = 0;
    while (p < g->len && g->t[p] == ' ')
        p++, ind++;
    bool empty = p >= g->len || g->t[p] == '\n' || g->t[p] == '\r' || g->t[p] == '#';
    if (g->block_scalar) {
        if (empty || ind > g->scalar_parent) { /* content: skip the line */
            while (g->pos < g->len && g->t[g->pos] != '\n')
                g->pos++;
            return true;
        }
        g->block_scalar = false;
    }
    if (g->quote || g->flow || empty)
        return true;
    while (g->nblock && g->stack[g->nblock - 1] >= ind)
        g->nblock--;
    g->pos = p;
    if (!push_block(g, ind))
        return false;
    /* "- - x": each entry's content is a level deeper */
    while (g->pos < g->len && g->t[g->pos] == '-' && indicator(g, g->pos)) {
        g->pos++;
        while (g->pos < g->len && blank(g->t[g->pos]))
            g->pos++;
        if (!push_block(g, g->pos - g->line_start))
            return false;
    }
    return true;
}

bool scenario_guard_depth(const char *text, size_t len, size_t max, size_t *line, size_t *col)
{
    static guard zero;
    guard g = zero;
    g.t = text;
    g.len = len;
    g.max = max < SCENARIO_GUARD_DEPTH ? max : SCENARIO_GUARD_DEPTH;
    g.line = 1;
    bool at_line = true;
    char last = 0; /* the last character of the line that is not blank: what a quote may follow */
    size_t last_at = 0;
    while (g.pos < len) {
        if (at_line) {
            at_line = false;
            last = 0;
            if (!line_start(&g))
                goto deep;
            if (g.pos >= len)
                break;
        }
        char ch = text[g.pos];
        if (ch == '\n') {
            g.line++;
            g.line_start = ++g.pos;
            at_line = true;
            continue;
        }
        if (g.quote) {
            if (g.quote == '"' && ch == '\\' && g.pos + 1 < len && text[g.pos + 1] != '\n')
                g.pos++;
            else if (ch == g.quote) {
                if (ch == '\'' && g.pos + 1 < len && text[g.pos + 1] == '\'')
                    g.pos++; /* '' is a quote inside a single-quoted scalar */
                else
                    g.quote = 0, last = ch;
            }
            g.pos++;
            continue;
        }
        if (ch == '#' && (g.pos == g.line_start || blank(text[g.pos - 1]))) {
            while (g.pos < len && text[g.pos] != '\n')
                g.pos++;
            continue;
        }
        bool after_indicator = last == 0 || last == '[' || last == '{' || (last == ',' && g.flow) ||
                               ((last == ':' || last == '-' || last == '?') && last_at + 1 < g.pos);
        if ((ch == '\'' || ch == '"') && after_indicator) {
            g.quote = ch;
        } else if ((ch == '|' || ch == '>') && !g.flow && after_indicator && last != '[' && last != '{' &&
                   block_scalar_at(&g, g.pos)) {
            g.block_scalar = true;
            /* the key's indentation: the innermost block level this line opened */
            g.scalar_parent = g.nblock ? g.stack[g.nblock - 1] : 0;
            while (g.pos < len && text[g.pos] != '\n')
                g.pos++;
            continue;
        } else if (ch == '[' || ch == '{') {
            if (g.nblock + g.flow >= g.max)
                goto deep;
            g.flow++;
        } else if ((ch == ']' || ch == '}') && g.flow) {
            g.flow--;
        }
        if (!blank(ch) && ch != '\r') {
            last = ch;
            last_at = g.pos;
        }
        g.pos++;
    }
    return true;
deep:
    if (line)
        *line = g.line;
    if (col)
        *col = g.pos - g.line_start + 1;
    return false;
}

bool scenario_guard_check(const char *text, size_t len, const char *name, scenario_error *err)
{
    size_t line, col;
    if (scenario_guard_depth(text, len, SCENARIO_GUARD_DEPTH, &line, &col))
        return true;
    snprintf(err->message, sizeof(err->message),
             "%s:%zu:%zu: nested deeper than %d levels (lists and mappings inside each other; a scenario needs "
             "about 8)",
             name, line, col, SCENARIO_GUARD_DEPTH);
    return false;
}
