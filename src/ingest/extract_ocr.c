/* SPDX-License-Identifier: MIT */
/*
 * extract_ocr.c: typed records read from OCR text, for when the vision
 * model left its typed sub-object (or a field of it) empty.
 *
 * The readers are line rules, not a parser of any one layout:
 *
 *   bills        the merchant is the first line of the header that is
 *                mostly letters and not a title ("TAX INVOICE") or a
 *                metadata line (GSTIN, phone, bill no); the total is the
 *                amount on the strongest total line ("Grand Total" / "Net
 *                Amount" beat "Total"; "Sub Total", "Total Qty" and tax
 *                totals never count); items are the lines between the
 *                column header (or the last metadata line) and the first
 *                total, tax or discount line whose tail is numbers
 *                (Qty Rate Amount, Qty Amount, 2 x 60, ...); CGST/SGST/IGST
 *                lines become taxes.
 *   lab reports  one test per line: a name, a value, then a unit, a
 *                reference range and a flag in the usual orders; a line
 *                counts only with a known unit or a range (so "Age 45
 *                Years" does not).
 *   whiteboards  bulleted, numbered, checkbox and TODO lines, and lines
 *                with an owner (@Name, "Name:", "- Name", "(Name)") or a
 *                due marker ("by Fri", "due 28/11").
 *   screenshots  the app from its tell-tale words, people from chat
 *                headers and payment lines ("Paid to Ramesh").
 *
 * DESIGN
 * Every reader takes the whole text, splits it into lines and words as
 * spans that borrow the text, and builds a fresh JSON object; no state
 * survives a call. The rules err towards leaving a field null: a missing
 * total is better than the PIN code of the address.
 */
#include "ingest/extract.h"

#include <math.h>
#include <string.h>
#include <strings.h>

#include "ingest/extract_int.h"
#include "lib/xalloc.h"
#include "text/translit.h"

static char *span_dup(struct span s)
{
    return xstrndup(s.p, s.len);
}

static bool has_any_word(struct span s, const char *const *words, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (extract_has_word(s.p, s.len, words[i]))
            return true;
    return false;
}

/* Letters in s: ASCII letters plus every byte of a non-ASCII character
 * (Kannada, Devanagari), which is close enough for ratios. */
static size_t count_letters(struct span s, size_t *nonspace)
{
    size_t n = 0, ns = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (!is_space((char)c))
            ns++;
        if (is_alpha((char)c) || c >= 0x80)
            n++;
    }
    if (nonspace)
        *nonspace = ns;
    return n;
}

/* Drops decoration around a header line: "*** Vidyarthi Bhavan ***". */
static struct span strip_decor(struct span s)
{
    static const char decor[] = "*=-_~#.:|";
    while (s.len && (strchr(decor, s.p[0]) || is_space(s.p[0]))) {
        s.p++;
        s.len--;
    }
    while (s.len && (strchr(decor, s.p[s.len - 1]) || is_space(s.p[s.len - 1])))
        s.len--;
    return s;
}

/* ---- Bills ---------------------------------------------------------------- */

enum wk { WK_WORD, WK_NUM, WK_PCT, WK_CUR, WK_X };

struct rw {
    struct span s;
    enum wk k;
    double v;
    bool frac;    /* written with a decimal part */
    bool marker;  /* carried a currency marker */
    bool longint; /* six or more digits without separators: a PIN or phone */
    char cur[4];
};

struct rline {
    struct span s;
    struct rw *w;
    size_t nw;
};

static void classify(struct span s, struct rw *w)
{
    static const char *const curs[] = {"\xe2\x82\xb9", "Rs", "Rs.", "Rs.:", "INR", "$",
                                       "\xe2\x82\xac", "Re.", "Rs:"};
    memset(w, 0, sizeof(*w));
    w->s = s;
    w->k = WK_WORD;
    if ((s.len == 1 && strchr("xX@*=", s.p[0])) || (s.len == 2 && !memcmp(s.p, "\xc3\x97", 2))) {
        w->k = WK_X;
        return;
    }
    for (size_t i = 0; i < ARRAY_SIZE(curs); i++)
        if (strlen(curs[i]) == s.len && !strncasecmp(s.p, curs[i], s.len)) {
            w->k = WK_CUR;
            return;
        }
    const char *p = s.p;
    size_t len = s.len;
    if (len && p[0] == '@') {
        p++;
        len--;
    }
    if (len > 1 && p[len - 1] == '%') {
        size_t n = extract__number_at(p, len - 1, &w->v, &w->frac);
        if (n == len - 1) {
            w->k = WK_PCT;
            return;
        }
    }
    struct extract_money m;
    bool marker;
    if (extract__money_at(s.p, s.len, &m, &marker) == s.len) {
        w->k = WK_NUM;
        w->v = m.amount;
        w->marker = marker;
        memcpy(w->cur, m.currency, 4);
        size_t digits = 0;
        bool sep = false;
        for (size_t i = 0; i < s.len; i++) {
            digits += is_digit(s.p[i]);
            sep |= s.p[i] == ',' || s.p[i] == '.';
        }
        w->frac = false;
        for (size_t i = s.len; i-- > 0;) {
            if (s.p[i] == '.' || (s.p[i] == ',' && s.len - i <= 3)) {
                w->frac = true;
                break;
            }
            if (!is_digit(s.p[i]) && s.p[i] != '-' && s.p[i] != '/')
                break;
        }
        w->longint = !sep && digits >= 6;
    }
}

static size_t read_lines(const char *text, struct rline **out)
{
    struct span *ls;
    size_t n = extract__lines(text, &ls);
    struct rline *v = xcalloc(n ? n : 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        struct span *ws;
        v[i].s = ls[i];
        v[i].nw = extract__words(ls[i], &ws);
        v[i].w = xcalloc(v[i].nw ? v[i].nw : 1, sizeof(*v[i].w));
        for (size_t j = 0; j < v[i].nw; j++)
            classify(ws[j], &v[i].w[j]);
        free(ws);
    }
    free(ls);
    *out = v;
    return n;
}

static void free_lines(struct rline *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].w);
    free(v);
}

static size_t count_kind(const struct rline *l, enum wk k)
{
    size_t n = 0;
    for (size_t i = 0; i < l->nw; i++)
        n += l->w[i].k == k;
    return n;
}

static const char *const meta_words[] = {
    "gstin", "gst no", "gst in", "gst reg", "fssai", "bill no", "bill #", "bill number",
    "invoice no", "inv no", "invoice #", "receipt no", "token", "table", "tbl", "kot",
    "cashier", "steward", "waiter", "captain", "server", "ph", "phone", "tel", "mob",
    "mobile", "date", "time", "pan", "cin", "order no", "order id", "covers", "pax",
    "counter", "terminal", "operator", "www", "email", "e-mail", "guest", "customer",
};
static const char *const tax_words[] = {
    "cgst", "sgst", "igst", "utgst", "gst", "vat", "cess", "service charge", "service tax",
};
static const char *const not_item_words[] = {
    "total", "subtotal", "round", "roundoff", "rounding", "discount", "cash", "change", "card",
    "upi", "paid", "balance", "tender", "tendered", "amount", "savings", "saved", "qty",
    "thank", "thanks", "visit", "net", "payable", "tax", "taxable", "due", "tip", "gpay",
    "paytm", "phonepe", "items", "mrp",
};

static bool is_meta(const struct rline *l)
{
    return has_any_word(l->s, meta_words, ARRAY_SIZE(meta_words));
}

static bool is_tax(const struct rline *l)
{
    return has_any_word(l->s, tax_words, ARRAY_SIZE(tax_words)) && count_kind(l, WK_NUM);
}

static bool is_header(const struct rline *l)
{
    static const char *const a[] = {"item", "items", "particulars", "description", "product",
                                    "menu", "item name"};
    static const char *const b[] = {"qty", "quantity", "amount", "amt", "rate", "price",
                                    "value"};
    return has_any_word(l->s, a, ARRAY_SIZE(a)) && has_any_word(l->s, b, ARRAY_SIZE(b)) &&
           !count_kind(l, WK_NUM);
}

/* 2: "Grand Total", "Net Amount", ...; 1: a plain "Total"; 0: not a total. */
static int total_priority(struct span s)
{
    static const char *const strong[] = {
        "grand total", "net payable", "amount payable", "total payable", "net amount",
        "bill amount", "total amount", "amount due", "balance due", "net total", "total due",
        "to pay", "payable", "net amt", "total amt", "grand ttl", "g.total", "g. total",
        "total bill", "total rs", "nett amount", "net bill",
    };
    static const char *const not_total[] = {
        "sub total", "subtotal", "sub-total", "total qty", "total quantity", "total items",
        "total item", "total no", "total tax", "total gst", "total discount", "total savings",
        "total saving", "total pcs", "tot qty", "total cgst", "total sgst", "taxable",
    };
    if (has_any_word(s, not_total, ARRAY_SIZE(not_total)))
        return 0;
    if (has_any_word(s, strong, ARRAY_SIZE(strong)))
        return 2;
    if (extract_has_word(s.p, s.len, "total") || extract_has_word(s.p, s.len, "ttl") ||
        extract_has_word(s.p, s.len, "tot"))
        return 1;
    return 0;
}

static bool ends_items(const struct rline *l)
{
    return total_priority(l->s) || is_tax(l) ||
           extract_has_word(l->s.p, l->s.len, "sub total") ||
           extract_has_word(l->s.p, l->s.len, "subtotal") ||
           extract_has_word(l->s.p, l->s.len, "discount");
}

static json_t *find_merchant(const struct rline *v, size_t n, size_t limit)
{
    static const char *const titles[] = {
        "tax invoice", "invoice", "bill", "receipt", "cash memo", "cash bill", "estimate",
        "duplicate", "original", "duplicate copy", "customer copy", "bill of supply",
        "retail invoice", "sales invoice", "kot", "welcome", "cash receipt", "tax receipt",
        "restaurant bill", "sale", "bill cum receipt",
    };
    for (size_t i = 0; i < n && i < limit; i++) {
        struct span s = strip_decor(v[i].s);
        size_t ns, letters = count_letters(s, &ns);
        if (letters < 3 || letters * 3 < ns || is_meta(&v[i]) || is_header(&v[i]))
            continue;
        bool title = false;
        for (size_t t = 0; t < ARRAY_SIZE(titles) && !title; t++)
            title = strlen(titles[t]) == s.len && !strncasecmp(s.p, titles[t], s.len);
        if (title)
            continue;
        size_t k = strlen("welcome to ");
        if (s.len > k && !strncasecmp(s.p, "welcome to ", k)) {
            s.p += k;
            s.len -= k;
            s = strip_decor(s);
        }
        char *name = span_dup(s);
        bool ok = extract_keyable(name);
        free(name);
        if (ok)
            return extract__json_span(s);
    }
    return NULL;
}

/* The date of a document: the first date on a line with one of the
 * labels (earlier labels first), else the first date anywhere. */
static bool find_doc_date(const struct rline *v, size_t n, int ref, const char *const *labels,
                          size_t nlabels, struct extract_date *d, struct span *raw)
{
    for (size_t pass = 0; pass <= nlabels; pass++) {
        for (size_t i = 0; i < n; i++) {
            if (pass < nlabels && !extract_has_word(v[i].s.p, v[i].s.len, labels[pass]))
                continue;
            const char *line = v[i].s.p;
            size_t len = v[i].s.len;
            for (size_t j = 0; j < len; j++) {
                if (j > 0 && (is_alnum(line[j - 1]) || strchr(".,/-", line[j - 1])))
                    continue;
                size_t used = extract__date_at(line + j, len - j, ref, false, d);
                if (used) {
                    *raw = (struct span){line + j, used};
                    return true;
                }
            }
        }
    }
    return false;
}

static bool approx(double x, double y)
{
    return fabs(x - y) <= 0.011 + 0.005 * fabs(y);
}

static json_t *bill_item(const struct rline *l)
{
    const struct rw *w = l->w;
    size_t b = l->nw;
    while (b > 0 && (w[b - 1].k == WK_NUM || w[b - 1].k == WK_CUR || w[b - 1].k == WK_X))
        b--;
    double v[8];
    bool frac[8];
    size_t k = 0;
    bool x_between = false;
    for (size_t i = b; i < l->nw; i++) {
        if (w[i].k == WK_NUM) {
            if (w[i].longint || w[i].v <= 0)
                return NULL;
            if (k == ARRAY_SIZE(v)) {
                memmove(v, v + 1, sizeof(v) - sizeof(v[0]));
                memmove(frac, frac + 1, sizeof(frac) - sizeof(frac[0]));
                k--;
            }
            frac[k] = w[i].frac;
            v[k++] = w[i].v;
        } else if (w[i].k == WK_X && k == 1) {
            x_between = true;
        }
    }
    if (!k || b == 0)
        return NULL;
    size_t start = 0;
    double lead = 0;
    if (b >= 2 && w[0].k == WK_NUM && !w[0].frac && w[0].v >= 1 && w[0].v < 1000) {
        lead = w[0].v;
        start = 1;
        if (w[1].k == WK_X)
            start = 2;
    }
    if (start >= b)
        return NULL;
    struct span name = {w[start].s.p, (size_t)(w[b - 1].s.p + w[b - 1].s.len - w[start].s.p)};
    while (name.len && strchr(":-.,|", name.p[name.len - 1]))
        name.len--;
    name = extract__trim(name);
    if (count_letters(name, NULL) < 2)
        return NULL;

    double amount = v[k - 1], qty = NAN, price = NAN;
    if (k >= 3 && approx(v[k - 3] * v[k - 2], amount)) {
        qty = v[k - 3];
        price = v[k - 2];
    } else if (k == 2 && x_between) { /* "2 x 60" */
        qty = v[0];
        price = v[1];
        amount = v[0] * v[1];
    } else if (k >= 2 && !frac[k - 2] && v[k - 2] >= 1 && v[k - 2] <= 99 && amount >= v[k - 2]) {
        qty = v[k - 2]; /* Qty Amount */
        price = amount / qty;
    } else if (k >= 2 && amount >= v[k - 2] &&
               approx(round(amount / v[k - 2]), amount / v[k - 2])) {
        price = v[k - 2]; /* Rate Amount */
        qty = round(amount / price);
    } else if (lead > 0) {
        qty = lead;
        price = amount / lead;
    } else {
        price = amount;
    }
    if (amount > 1e7)
        return NULL;
    json_t *it = json_object();
    json_object_set_new(it, "name", extract__json_span(name));
    json_object_set_new(it, "qty", isnan(qty) ? json_null() : extract__num_json(qty));
    json_object_set_new(it, "price", extract__num_json(round(price * 100) / 100));
    json_object_set_new(it, "amount", extract__num_json(amount));
    json_object_set_new(it, "raw", extract__json_span(l->s));
    return it;
}

/* The amount of a total or tax line: its last number, or the first of the
 * next line when the amount was printed below the label. Sets raw to the
 * words it came from (currency sign included). */
static bool line_amount(const struct rline *v, size_t n, size_t i, double *amount,
                        struct span *raw, char cur[4])
{
    const struct rline *l = &v[i];
    for (size_t j = l->nw; j-- > 0;) {
        if (l->w[j].k != WK_NUM || l->w[j].longint)
            continue;
        *amount = l->w[j].v;
        const char *from = l->w[j].s.p;
        if (j > 0 && l->w[j - 1].k == WK_CUR)
            from = l->w[j - 1].s.p;
        *raw = (struct span){from, (size_t)(l->w[j].s.p + l->w[j].s.len - from)};
        memcpy(cur, l->w[j].cur, 4);
        if (!cur[0] && j > 0 && l->w[j - 1].k == WK_CUR) {
            struct extract_money m;
            bool mk;
            char tmp[16];
            snprintf(tmp, sizeof(tmp), "%.*s1", (int)l->w[j - 1].s.len, l->w[j - 1].s.p);
            if (extract__money_at(tmp, strlen(tmp), &m, &mk))
                memcpy(cur, m.currency, 4);
        }
        return true;
    }
    if (i + 1 < n && v[i + 1].nw && count_kind(&v[i + 1], WK_NUM) &&
        count_kind(&v[i + 1], WK_WORD) == 0) {
        for (size_t j = 0; j < v[i + 1].nw; j++)
            if (v[i + 1].w[j].k == WK_NUM) {
                *amount = v[i + 1].w[j].v;
                *raw = v[i + 1].s;
                memcpy(cur, v[i + 1].w[j].cur, 4);
                return true;
            }
    }
    return false;
}

static bool gstin_at(const char *p, size_t len)
{
    if (len < 15)
        return false;
    for (size_t i = 0; i < 15; i++) {
        char c = p[i];
        bool up = c >= 'A' && c <= 'Z', dig = is_digit(c);
        if ((i < 2 || (i >= 7 && i < 11)) && !dig)
            return false;
        if (((i >= 2 && i < 7) || i == 11) && !up)
            return false;
        if ((i == 12 || i == 14) && !(up || dig))
            return false;
        if (i == 13 && c != 'Z')
            return false;
    }
    return len == 15 || !is_alnum(p[15]);
}

static const char *bill_currency(const char *text)
{
    size_t len = strlen(text);
    if (strstr(text, "\xe2\x82\xb9") || strstr(text, "/-") || extract_has_word(text, len, "rs") ||
        extract_has_word(text, len, "inr") || extract_has_word(text, len, "rupees") ||
        extract_has_word(text, len, "gstin") || extract_has_word(text, len, "cgst") ||
        extract_has_word(text, len, "sgst"))
        return "INR";
    if (strstr(text, "\xe2\x82\xac") || extract_has_word(text, len, "eur"))
        return "EUR";
    if (strstr(text, "\xc2\xa3") || extract_has_word(text, len, "gbp"))
        return "GBP";
    if (strchr(text, '$') || extract_has_word(text, len, "usd"))
        return "USD";
    return NULL;
}

json_t *extract__ocr_receipt(const char *text, const struct extract_opts *o)
{
    struct rline *v;
    size_t n = read_lines(text, &v);
    json_t *r = json_object();
    int ref = extract_year_of(o->now_ms, o->tz_min);
    bool any = false;

    /* Where the items are: after the column header, else after the last
     * metadata line before the first total; up to the first total, tax
     * or discount line. */
    size_t header = n, first_end = n, start = 0, end = n;
    for (size_t i = 0; i < n; i++) {
        if (header == n && is_header(&v[i]))
            header = i;
        if (first_end == n && ends_items(&v[i]))
            first_end = i;
    }
    if (header < n) {
        start = header + 1;
    } else {
        for (size_t i = 0; i < first_end; i++)
            if (is_meta(&v[i]))
                start = i + 1;
    }
    for (end = start; end < n && !ends_items(&v[end]); end++)
        ;

    json_t *merchant = find_merchant(v, n, header < n ? (header < 8 ? header : 8) : 6);
    if (merchant)
        any = true;
    json_object_set_new(r, "merchant", merchant ? merchant : json_null());

    static const char *const date_labels[] = {"date", "dated", "dt"};
    struct extract_date d;
    struct span raw;
    if (find_doc_date(v, n, ref, date_labels, ARRAY_SIZE(date_labels), &d, &raw)) {
        json_object_set_new(r, "date", json_string(d.iso));
        json_object_set_new(r, "date_raw", extract__json_span(raw));
        any = true;
    } else {
        json_object_set_new(r, "date", json_null());
    }

    /* The total: the strongest total line, the last of equals. */
    int best = 0;
    double total = 0;
    char cur[4] = "";
    for (size_t i = 0; i < n; i++) {
        int p = total_priority(v[i].s);
        double a;
        struct span s;
        char c[4];
        if (p && p >= best && line_amount(v, n, i, &a, &s, c) && a > 0) {
            best = p;
            total = a;
            raw = s;
            memcpy(cur, c, 4);
        }
    }
    const char *currency = cur[0] ? cur : bill_currency(text ? text : "");
    if (!currency)
        currency = o->default_currency;
    json_object_set_new(r, "currency", json_string(currency));
    if (best) {
        json_object_set_new(r, "total", extract__num_json(total));
        json_object_set_new(r, "total_raw", extract__json_span(raw));
        any = true;
    } else {
        json_object_set_new(r, "total", json_null());
    }

    json_t *items = json_array();
    for (size_t i = start; i < end; i++) {
        if (is_meta(&v[i]) || is_header(&v[i]) ||
            has_any_word(v[i].s, not_item_words, ARRAY_SIZE(not_item_words)))
            continue;
        json_t *it = bill_item(&v[i]);
        if (it)
            json_array_append_new(items, it);
    }
    any |= json_array_size(items) > 0;
    json_object_set_new(r, "items", items);

    json_t *taxes = json_array();
    for (size_t i = 0; i < n; i++) {
        if (!is_tax(&v[i]) || total_priority(v[i].s))
            continue;
        const struct rline *l = &v[i];
        size_t j = 0;
        while (j < l->nw && l->w[j].k == WK_WORD && !memchr(l->w[j].s.p, '@', l->w[j].s.len))
            j++;
        double amount;
        struct span as;
        char c[4];
        if (!j || !line_amount(v, n, i, &amount, &as, c))
            continue;
        const char *name_end = l->w[j - 1].s.p + l->w[j - 1].s.len;
        struct span name = {l->w[0].s.p, (size_t)(name_end - l->w[0].s.p)};
        while (name.len && strchr(":@-", name.p[name.len - 1]))
            name.len--;
        json_t *t = json_object();
        json_object_set_new(t, "name", extract__json_span(name));
        size_t k = 0;
        while (k < l->nw && l->w[k].k != WK_PCT)
            k++;
        json_object_set_new(t, "rate", k < l->nw ? extract__num_json(l->w[k].v) : json_null());
        json_object_set_new(t, "amount", extract__num_json(amount));
        json_array_append_new(taxes, t);
    }
    if (json_array_size(taxes))
        json_object_set_new(r, "taxes", taxes);
    else
        json_decref(taxes);

    const char *p = text ? text : "";
    for (size_t i = 0; p[i]; i++) {
        if ((i == 0 || !is_alnum(p[i - 1])) && gstin_at(p + i, strlen(p + i))) {
            json_object_set_new(r, "gstin", json_stringn(p + i, 15));
            break;
        }
    }

    free_lines(v, n);
    if (!any) {
        json_decref(r);
        return NULL;
    }
    return r;
}

/* ---- Lab reports ---------------------------------------------------------- */

static const char *const lab_skip[] = {
    "name", "patient", "age", "sex", "gender", "ref", "referred", "ref.", "dr", "dr.", "doctor",
    "consultant", "sample", "specimen", "collected", "collection", "received", "reported",
    "report", "registered", "reg", "regn", "date", "uhid", "id", "barcode", "page", "mobile",
    "phone", "ph", "address", "lab no", "lab id", "method", "printed", "test name", "test",
    "investigation", "end of report", "bill", "visit", "passport", "client", "mr", "mrs", "ms",
    "location", "blood group", "interpretation", "note", "remarks", "comment", "tel", "pin",
    "signature", "verified", "approved", "parameter",
};

static bool starts_with_any(struct span s, const char *const *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(w[i]);
        if (l <= s.len && !strncasecmp(s.p, w[i], l) && (l == s.len || !is_alpha(s.p[l])))
            return true;
    }
    return false;
}

/* Is the word a measured value: a number, maybe "/number", a glued flag
 * or percent sign, and nothing else? */
static bool value_word(struct span w)
{
    double x;
    bool frac;
    size_t n = extract__number_at(w.p, w.len, &x, &frac);
    if (!n)
        return false;
    if (n < w.len && w.p[n] == '/') {
        size_t m = extract__number_at(w.p + n + 1, w.len - n - 1, &x, &frac);
        if (!m)
            return false;
        n += 1 + m;
    }
    struct span rest = {w.p + n, w.len - n};
    return !rest.len || (rest.len == 1 && strchr("HL*%", rest.p[0])) ||
           (rest.len == 2 && rest.p[0] == '%' && strchr("HL*", rest.p[1]));
}

static const char *const qualitative[] = {
    "negative", "positive", "reactive", "non-reactive", "nonreactive", "non reactive", "nil",
    "absent", "present", "detected", "not detected", "trace",
};

static bool qualitative_at(struct span s, size_t *len)
{
    for (size_t i = 0; i < ARRAY_SIZE(qualitative); i++) {
        size_t l = strlen(qualitative[i]);
        if (l <= s.len && !strncasecmp(s.p, qualitative[i], l) &&
            (l == s.len || !is_alpha(s.p[l]))) {
            *len = l;
            return true;
        }
    }
    return false;
}

/* One test from an OCR line; appends to tests and returns the entries
 * added. */
static size_t lab_line(struct span line, json_t *tests)
{
    if (starts_with_any(line, lab_skip, ARRAY_SIZE(lab_skip)))
        return 0;
    /* Columns are often separated by colons, tabs or bars. */
    char *copy = span_dup(line);
    for (char *c = copy; *c; c++)
        if (*c == ':' || *c == '|' || *c == '\t')
            *c = ' ';
    struct span *w;
    size_t nw = extract__words((struct span){copy, line.len}, &w), added = 0;
    char *raw = span_dup(line);

    for (size_t v = 1; v < nw && !added; v++) {
        if (!value_word(w[v]))
            continue;
        struct span name = {w[0].p, (size_t)(w[v - 1].p + w[v - 1].len - w[0].p)};
        if (count_letters(name, NULL) < 2)
            continue;
        char *value = span_dup(w[v]);
        char unit[EXTRACT_UNIT_MAX] = "", flag[8] = "";
        struct buf range = BUF_INIT;
        bool unit_known = false;
        for (size_t j = v + 1; j < nw; j++) {
            char f;
            const char *rest = w[j].p;
            size_t restlen = (size_t)(copy + line.len - rest), u;
            if (extract__flag_word(w[j].p, w[j].len, &f)) {
                flag[0] = f;
                continue;
            }
            if (!unit[0] && (u = extract__unit_at(rest, restlen, unit))) {
                unit_known = true;
                while (j + 1 < nw && w[j + 1].p < rest + u)
                    j++;
                continue;
            }
            if (!unit[0] && !range.len && j == v + 1 && !is_digit(w[j].p[0]) &&
                w[j].p[0] != '<' && w[j].p[0] != '>' && w[j].len < EXTRACT_UNIT_MAX &&
                (memchr(w[j].p, '/', w[j].len) || count_letters(w[j], NULL) == w[j].len)) {
                snprintf(unit, sizeof(unit), "%.*s", (int)w[j].len, w[j].p);
                continue;
            }
            if (range.len)
                buf_addch(&range, ' ');
            buf_add(&range, w[j].p, w[j].len);
        }
        struct extract_range r;
        bool has_range = range.len && !extract_parse_range(buf_cstr(&range), &r);
        struct extract_measure m;
        bool bp = !extract_parse_measure(value, &m) && m.has_value2;
        if (has_range || unit_known || bp) {
            char *nm = span_dup(name);
            added = extract__lab_test(tests, nm, value, unit[0] ? unit : NULL,
                                      has_range ? buf_cstr(&range) : NULL, flag[0] ? flag : NULL,
                                      raw);
            free(nm);
        }
        buf_release(&range);
        free(value);
    }

    /* Qualitative results: "HBsAg  Negative  Negative". */
    for (size_t v = 1; v < nw && !added && nw <= 8; v++) {
        size_t ql;
        struct span rest = {w[v].p, (size_t)(copy + line.len - w[v].p)};
        if (!qualitative_at(rest, &ql))
            continue;
        struct span name = {w[0].p, (size_t)(w[v - 1].p + w[v - 1].len - w[0].p)};
        if (count_letters(name, NULL) < 2)
            break;
        char *nm = span_dup(name), *value = xstrndup(rest.p, ql);
        struct span after = extract__trim((struct span){rest.p + ql, rest.len - ql});
        char *range = after.len ? span_dup(after) : NULL;
        added = extract__lab_test(tests, nm, value, NULL, range, NULL, raw);
        free(range);
        free(value);
        free(nm);
    }
    free(raw);
    free(w);
    free(copy);
    return added;
}

json_t *extract__ocr_lab(const char *text, const struct extract_opts *o)
{
    static const char *const lab_words[] = {
        "diagnostic", "diagnostics", "laboratory", "laboratories", "labs", "lab", "pathology",
        "pathlabs", "path lab", "hospital", "hospitals", "clinic", "healthcare", "health care",
        "medical", "scans", "imaging", "diagnosis", "polyclinic", "nursing home",
    };
    struct rline *v;
    size_t n = read_lines(text, &v);
    json_t *r = json_object(), *tests = json_array(), *lab = NULL;
    int ref = extract_year_of(o->now_ms, o->tz_min);

    for (size_t i = 0; i < n && i < 8 && !lab; i++) {
        struct span s = strip_decor(v[i].s);
        if (starts_with_any(s, lab_skip, ARRAY_SIZE(lab_skip)) ||
            extract__find_nocase(s.p, s.len, "report") ||
            !has_any_word(s, lab_words, ARRAY_SIZE(lab_words)) || count_letters(s, NULL) < 3)
            continue;
        lab = extract__json_span(s);
    }
    json_object_set_new(r, "lab", lab ? lab : json_null());

    static const char *const date_labels[] = {"collected", "collection", "sample", "drawn",
                                              "reported", "report", "date"};
    struct extract_date d;
    struct span raw;
    bool dated = find_doc_date(v, n, ref, date_labels, ARRAY_SIZE(date_labels), &d, &raw);
    if (dated) {
        json_object_set_new(r, "date", json_string(d.iso));
        json_object_set_new(r, "date_raw", extract__json_span(raw));
    } else {
        json_object_set_new(r, "date", json_null());
    }

    for (size_t i = 0; i < n; i++)
        lab_line(v[i].s, tests);
    json_object_set_new(r, "tests", tests);
    free_lines(v, n);
    if (!lab && !dated && !json_array_size(tests)) {
        json_decref(r);
        return NULL;
    }
    return r;
}

/* ---- Whiteboards ---------------------------------------------------------- */

/* Drops a bullet, number, checkbox or TODO marker; returns whether there
 * was one. */
static bool strip_bullet(struct span *s)
{
    static const char *const marks[] = {
        "\xe2\x80\xa2", "\xc2\xb7", "\xe2\x98\x90", "\xe2\x98\x91", "\xe2\x98\x92",
        "\xe2\x9c\x93", "\xe2\x9c\x94", "\xe2\x86\x92", "\xe2\x96\xaa", "\xe2\x97\x8f",
        "[ ]", "[x]", "[X]", "[]", "->", "=>", "-", "*", "+", ">",
    };
    static const char *const words[] = {"todo:", "todo", "to do:", "action item:", "action:",
                                        "ai:", "ap:", "task:"};
    bool any = false;
    for (int round = 0; round < 3; round++) {
        bool hit = false;
        *s = extract__trim(*s);
        for (size_t i = 0; i < ARRAY_SIZE(marks) && !hit; i++) {
            size_t l = strlen(marks[i]);
            if (l <= s->len && !memcmp(s->p, marks[i], l)) {
                s->p += l;
                s->len -= l;
                hit = true;
            }
        }
        for (size_t i = 0; i < ARRAY_SIZE(words) && !hit; i++) {
            size_t l = strlen(words[i]);
            if (l <= s->len && !strncasecmp(s->p, words[i], l) &&
                (l == s->len || !is_alpha(s->p[l]))) {
                s->p += l;
                s->len -= l;
                hit = true;
            }
        }
        /* "1.", "2)", "a)" */
        size_t k = 0;
        while (k < s->len && k < 3 && is_digit(s->p[k]))
            k++;
        if (!k && s->len > 1 && is_alpha(s->p[0]) && s->p[1] == ')')
            k = 1;
        if (k && k + 1 < s->len && (s->p[k] == '.' || s->p[k] == ')') &&
            (is_space(s->p[k + 1]) || s->p[k] == ')')) {
            s->p += k + 1;
            s->len -= k + 1;
            hit = true;
        }
        any |= hit;
        if (!hit)
            break;
    }
    *s = extract__trim(*s);
    return any;
}

/* A person's name as written on a board: one or two words, each starting
 * with a capital letter or in Kannada script, not a day word. */
static bool namelike(struct span s)
{
    static const char *const not_names[] = {
        "today", "tomorrow", "eod", "eow", "eom", "asap", "monday", "tuesday", "wednesday",
        "thursday", "friday", "saturday", "sunday", "mon", "tue", "wed", "thu", "fri", "sat",
        "sun", "next", "week", "done", "wip", "todo", "tbd", "high", "low", "urgent", "due",
        "by", "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        "team", "all", "everyone", "note", "notes",
    };
    struct span *w;
    s = extract__trim(s);
    size_t n = extract__words(s, &w);
    bool ok = n >= 1 && n <= 2 && s.len <= 32;
    for (size_t i = 0; i < n && ok; i++) {
        bool kn = translit_has_kannada(w[i].p, w[i].len);
        ok = kn || (w[i].p[0] >= 'A' && w[i].p[0] <= 'Z');
        bool small = kn; /* "DB" and "API" are not people */
        for (size_t j = 0; j < w[i].len && ok && !kn; j++) {
            ok = is_alpha(w[i].p[j]) || w[i].p[j] == '.' || w[i].p[j] == '\'';
            small |= w[i].p[j] >= 'a' && w[i].p[j] <= 'z';
        }
        ok &= small;
        for (size_t j = 0; j < ARRAY_SIZE(not_names) && ok; j++)
            ok = !(strlen(not_names[j]) == w[i].len &&
                   !strncasecmp(w[i].p, not_names[j], w[i].len));
    }
    free(w);
    return ok;
}

/* Blanks len bytes at p in the line copy (a cut-out part). */
static void blank(char *p, size_t len)
{
    memset(p, ' ', len);
}

static json_t *board_item(struct span line, const struct extract_opts *o)
{
    static const char *const due_marks[] = {
        "due by", "due on", "due:", "due",   "by",          "before",
        "deadline:", "deadline", "till", "until", "on or before",
    };
    struct span s = line;
    bool bullet = strip_bullet(&s);
    if (!s.len || (s.p[s.len - 1] == ':' && !bullet))
        return NULL;
    char *c = span_dup(s);
    size_t len = s.len;
    char *owner = NULL, *due = NULL;

    /* Due: after a marker word, up to a bracket, comma or the end. */
    for (size_t i = 0; i < len && !due; i++) {
        if (i > 0 && is_alnum(c[i - 1]))
            continue;
        for (size_t m = 0; m < ARRAY_SIZE(due_marks) && !due; m++) {
            size_t l = strlen(due_marks[m]);
            if (i + l > len || strncasecmp(c + i, due_marks[m], l) ||
                (is_alpha(c[i + l - 1]) && i + l < len && is_alpha(c[i + l])))
                continue;
            size_t e = i + l;
            while (e < len && c[e] != ')' && c[e] != ',' && c[e] != ';' && c[e] != '(' &&
                   !(c[e] == '-' && e + 1 < len && c[e + 1] == ' ') && c[e] != '@')
                e++;
            char *cand = xstrndup(c + i + l, e - i - l);
            struct extract_date d;
            if (!extract_resolve_day(cand, o->now_ms, o->tz_min, true, &d)) {
                due = cand;
                size_t from = i;
                if (from > 0 && c[from - 1] == '(' && e < len && c[e] == ')') {
                    from--;
                    e++;
                }
                blank(c + from, e - from);
            } else {
                free(cand);
            }
        }
    }
    /* Due: a bracketed day, "(Fri)", "(28/11)". */
    for (char *p = strchr(c, '('); p && !due; p = strchr(p + 1, '(')) {
        char *q = strchr(p, ')');
        if (!q)
            break;
        char *cand = xstrndup(p + 1, (size_t)(q - p - 1));
        struct extract_date d;
        if (!extract_resolve_day(cand, o->now_ms, o->tz_min, true, &d)) {
            due = cand;
            blank(p, (size_t)(q - p + 1));
        } else {
            free(cand);
        }
    }

    /* Due: a bare day word, "call vendor tomorrow". */
    static const char *const day_words[] = {"tomorrow", "naale", "today", "tonight", "eod",
                                            "eow", "eom", "asap"};
    for (size_t i = 0; i < ARRAY_SIZE(day_words) && !due; i++) {
        size_t l = strlen(day_words[i]);
        for (size_t j = 0; j + l <= len && !due; j++) {
            if ((j > 0 && is_alnum(c[j - 1])) || (j + l < len && is_alnum(c[j + l])) ||
                strncasecmp(c + j, day_words[i], l))
                continue;
            due = xstrndup(c + j, l);
            blank(c + j, l);
        }
    }
    /* What the cuts left dangling: "Fix bug - Suresh - " */
    for (size_t e = len; e > 0 && strchr(" -:,;", c[e - 1]); e--)
        c[e - 1] = ' ';

    /* Owner: "@Name", "owner: Name", "Name:" first, "(Name)" or "- Name" last. */
    for (size_t i = 0; i < len && !owner; i++) {
        if (c[i] != '@' || i + 1 >= len || !(is_alpha(c[i + 1]) || (unsigned char)c[i + 1] >= 0x80))
            continue;
        size_t e = i + 1;
        while (e < len && !is_space(c[e]) && c[e] != ',' && c[e] != ')' && c[e] != ';')
            e++;
        owner = xstrndup(c + i + 1, e - i - 1);
        blank(c + i, e - i);
    }
    static const char *const owner_marks[] = {"owner:", "owner -", "owner", "assigned to",
                                              "assignee:", "who:"};
    for (size_t i = 0; i < len && !owner; i++) {
        if (i > 0 && is_alnum(c[i - 1]))
            continue;
        for (size_t m = 0; m < ARRAY_SIZE(owner_marks) && !owner; m++) {
            size_t l = strlen(owner_marks[m]);
            if (i + l > len || strncasecmp(c + i, owner_marks[m], l))
                continue;
            size_t b = i + l, e = b;
            while (e < len && c[e] != ',' && c[e] != ')' && c[e] != ';' && c[e] != '(')
                e++;
            struct span nm = extract__trim((struct span){c + b, e - b});
            if (nm.len && namelike(nm)) {
                owner = span_dup(nm);
                blank(c + i, e - i);
            }
        }
    }
    struct span t = extract__trim((struct span){c, len});
    if (!owner && t.len && t.p[t.len - 1] == ')') {
        const char *open = NULL;
        for (const char *p = t.p + t.len - 1; p > t.p; p--)
            if (*p == '(') {
                open = p;
                break;
            }
        struct span nm = open ? (struct span){open + 1, (size_t)(t.p + t.len - 1 - open - 1)}
                              : (struct span){NULL, 0};
        if (open && namelike(nm)) {
            owner = span_dup(extract__trim(nm));
            blank(c + (open - c), (size_t)(t.p + t.len - open));
        }
    }
    t = extract__trim((struct span){c, len});
    if (!owner && bullet) {
        static const char *const dashes[] = {" - ", " \xe2\x80\x93 ", " -> ", " \xe2\x86\x92 ",
                                             " => "};
        for (size_t d = 0; d < ARRAY_SIZE(dashes) && !owner; d++) {
            const char *last = NULL;
            size_t dl = strlen(dashes[d]);
            for (const char *p = t.p; p + dl <= t.p + t.len; p++)
                if (!memcmp(p, dashes[d], dl))
                    last = p;
            if (!last)
                continue;
            struct span nm = {last + dl, (size_t)(t.p + t.len - last - dl)};
            if (namelike(nm)) {
                owner = span_dup(extract__trim(nm));
                blank(c + (last - c), (size_t)(t.p + t.len - last));
            }
        }
    }
    t = extract__trim((struct span){c, len});
    if (!owner) {
        const char *colon = memchr(t.p, ':', t.len);
        if (colon && colon > t.p && namelike((struct span){t.p, (size_t)(colon - t.p)}) &&
            memchr(t.p, ' ', (size_t)(colon - t.p)) == NULL) {
            owner = xstrndup(t.p, (size_t)(colon - t.p));
            blank(c + (t.p - c), (size_t)(colon - t.p + 1));
        }
    }

    /* What is left is the task. */
    struct buf text = BUF_INIT;
    bool sp = false;
    for (size_t i = 0; i < len; i++) {
        if (is_space(c[i])) {
            sp = text.len > 0;
            continue;
        }
        if (sp)
            buf_addch(&text, ' ');
        sp = false;
        buf_addch(&text, c[i]);
    }
    while (text.len && strchr(" -:,;(", text.data[text.len - 1]))
        buf_setlen(&text, text.len - 1);
    json_t *item = NULL;
    if ((bullet || owner || due) && extract_keyable(buf_cstr(&text)) && count_letters(
            (struct span){buf_cstr(&text), text.len}, NULL) >= 3) {
        item = json_object();
        json_object_set_new(item, "text", json_string(buf_cstr(&text)));
        json_object_set_new(item, "owner",
                            owner && extract_keyable(owner) ? json_string(owner) : json_null());
        if (due)
            extract__set_due(item, due, o);
        else
            json_object_set_new(item, "due", json_null());
        json_object_set_new(item, "raw", extract__json_span(line));
    }
    buf_release(&text);
    free(owner);
    free(due);
    free(c);
    return item;
}

json_t *extract__ocr_whiteboard(const char *text, const struct extract_opts *o)
{
    struct span *ls;
    size_t n = extract__lines(text, &ls);
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *it = board_item(ls[i], o);
        if (it)
            json_array_append_new(items, it);
    }
    free(ls);
    if (!json_array_size(items)) {
        json_decref(items);
        return NULL;
    }
    json_t *r = json_object();
    json_object_set_new(r, "action_items", items);
    return r;
}

/* ---- Screenshots ---------------------------------------------------------- */

static const struct {
    const char *app;
    const char *words[4];
} apps[] = {
    {"WhatsApp", {"whatsapp", "last seen", "end-to-end encrypted", "typing..."}},
    {"Google Pay", {"google pay", "gpay", "g pay", NULL}},
    {"PhonePe", {"phonepe", NULL, NULL, NULL}},
    {"Paytm", {"paytm", NULL, NULL, NULL}},
    {"BHIM", {"bhim", NULL, NULL, NULL}},
    {"Instagram", {"instagram", NULL, NULL, NULL}},
    {"Telegram", {"telegram", NULL, NULL, NULL}},
    {"Gmail", {"gmail", NULL, NULL, NULL}},
    {"Slack", {"slack", NULL, NULL, NULL}},
    {"Swiggy", {"swiggy", NULL, NULL, NULL}},
    {"Zomato", {"zomato", NULL, NULL, NULL}},
    {"Uber", {"uber", NULL, NULL, NULL}},
    {"Ola", {"ola cabs", "olacabs", NULL, NULL}},
    {"Rapido", {"rapido", NULL, NULL, NULL}},
    {"Google Maps", {"google maps", NULL, NULL, NULL}},
    {"YouTube", {"youtube", NULL, NULL, NULL}},
    {"LinkedIn", {"linkedin", NULL, NULL, NULL}},
    {"Amazon", {"amazon", NULL, NULL, NULL}},
    {"Flipkart", {"flipkart", NULL, NULL, NULL}},
    {"IRCTC", {"irctc", NULL, NULL, NULL}},
    {"BookMyShow", {"bookmyshow", NULL, NULL, NULL}},
};

/* Adds a person's name to people unless present (by translit key). */
static void add_person(json_t *people, struct span s)
{
    s = extract__trim(s);
    while (s.len && strchr(".,:;!-", s.p[s.len - 1]))
        s.len--;
    /* A UPI id names its owner before the '@'. */
    const char *at = memchr(s.p, '@', s.len);
    if (at)
        s.len = (size_t)(at - s.p);
    s = extract__trim(s);
    if (!s.len || s.len > 48)
        return;
    char *name = span_dup(s);
    struct span *w;
    size_t nw = extract__words(s, &w);
    free(w);
    bool ok = nw <= 4 && extract_keyable(name);
    for (size_t i = 0; i < s.len && ok; i++)
        ok = !is_digit(s.p[i]);
    struct buf k = BUF_INIT, k2 = BUF_INIT;
    translit_key(name, strlen(name), &k);
    size_t i;
    json_t *p;
    json_array_foreach(people, i, p) {
        buf_reset(&k2);
        translit_key(json_string_value(p), strlen(json_string_value(p)), &k2);
        ok &= strcmp(buf_cstr(&k), buf_cstr(&k2)) != 0;
    }
    if (ok)
        json_array_append_new(people, json_string(name));
    buf_release(&k);
    buf_release(&k2);
    free(name);
}

/* A chat app's status line under the contact's name. */
static bool word_is_status(struct span s)
{
    return (s.len == 6 && !strncasecmp(s.p, "online", 6)) ||
           (s.len >= 9 && !strncasecmp(s.p, "last seen", 9)) ||
           (s.len >= 6 && !strncasecmp(s.p, "typing", 6));
}

json_t *extract__ocr_screenshot(const char *text, const struct extract_opts *o)
{
    const char *t = text ? text : "";
    size_t tl = strlen(t);
    const char *app = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(apps) && !app; i++)
        for (size_t j = 0; j < 4 && apps[i].words[j] && !app; j++)
            if (extract_has_word(t, tl, apps[i].words[j]) ||
                (strchr(apps[i].words[j], '.') && extract__find_nocase(t, tl, apps[i].words[j])))
                app = apps[i].app;

    struct span *ls;
    size_t n = extract__lines(t, &ls);
    json_t *people = json_array();
    static const char *const pay[] = {"paid to", "sent to", "received from", "payment to",
                                      "payment from", "transferred to", "to:", "from:",
                                      "money sent to", "you paid"};
    for (size_t i = 0; i < n; i++) {
        struct span s = ls[i];
        /* A chat header: the name above "online" / "last seen ..." / "typing...". */
        if (i > 0 && word_is_status(s)) {
            add_person(people, ls[i - 1]);
            continue;
        }
        for (size_t k = 0; k < ARRAY_SIZE(pay); k++) {
            const char *p = extract__find_nocase(s.p, s.len, pay[k]);
            if (!p || (p > s.p && is_alnum(p[-1])))
                continue;
            size_t l = strlen(pay[k]);
            struct span rest = {p + l, (size_t)(s.p + s.len - p - l)};
            /* The name ends where an amount or a date starts. */
            size_t e = 0;
            while (e < rest.len && !is_digit(rest.p[e]) &&
                   !(rest.len - e >= 3 && !memcmp(rest.p + e, "\xe2\x82\xb9", 3)))
                e++;
            rest.len = e;
            if (!strncasecmp(rest.p, " you", 4) || !rest.len)
                continue;
            add_person(people, rest);
            break;
        }
    }
    free(ls);
    (void)o;
    if (!app && !json_array_size(people)) {
        json_decref(people);
        return NULL;
    }
    json_t *r = json_object();
    json_object_set_new(r, "app", app ? json_string(app) : json_null());
    json_object_set_new(r, "people", people);
    json_object_set_new(r, "topics", json_array());
    return r;
}
