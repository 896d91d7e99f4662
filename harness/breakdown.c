/* breakdown.c - a twin handoff's breakdown from its agents' lines (see breakdown.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "breakdown.h"
#include "console.h"
#include "kvline.h"

#define PREFIX	    "twinbench-agent: handoff "
#define REST_PREFIX "twinbench-b: takeover steps "

int breakdown_parse_line(const char *line, struct breakdown_side *side)
{
	const char *p = strstr(line, PREFIX);
	char which;

	if (p) {
		p += strlen(PREFIX);
		which = *p;
		if ((which != 'a' && which != 'b') || p[1] != ' ')
			return 0;
		p += 2;
	} else {
		p = strstr(line, REST_PREFIX);
		if (!p)
			return 0;
		p += strlen(REST_PREFIX);
		which = 't';
	}
	memset(side, 0, sizeof(*side));
	side->nsteps = kv_parse(p, side->name[0], sizeof(side->name[0]), side->ns,
				BREAKDOWN_MAX_STEPS);
	if (side->nsteps < 0) {
		side->nsteps = 0;
		return -1;
	}
	return side->nsteps ? which : -1;
}

void breakdown_collect(struct console *const con[2], struct repetition *rep)
{
	struct {
		int64_t t_ns;
		struct handoff_breakdown bd;
	} found[RESULTS_MAX_ROUNDS];
	int n = 0;

	for (int c = 0; c < 2; c++) {
		struct breakdown_side a = { 0 };
		bool have_a = false;
		int last = -1; /* the handoff this console's last "b" line closed */
		struct console_match m;

		for (size_t i = 0; con[c] && console_line(con[c], i, &m) == 0; i++) {
			struct breakdown_side side;
			int which = breakdown_parse_line(m.text, &side);

			if (which == 'a') {
				a = side;
				have_a = true;
			} else if (which == 'b' && have_a && n < RESULTS_MAX_ROUNDS) {
				found[n].t_ns = m.t_ns;
				found[n].bd.a = a;
				found[n].bd.b = side;
				found[n].bd.rest.nsteps = 0;
				last = n++;
				have_a = false;
			} else if (which == 't' && last >= 0) {
				/* B printed it, on its console, after its own steps. */
				found[last].bd.rest = side;
				last = -1;
			}
		}
	}
	/* In the order they came: a chain's second handoff prints on the other console. */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && found[j].t_ns < found[j - 1].t_ns; j--) {
			__typeof__(found[0]) tmp = found[j];

			found[j] = found[j - 1];
			found[j - 1] = tmp;
		}
	for (int i = 0; i < n; i++)
		rep->breakdowns[i] = found[i].bd;
	rep->nbreakdowns = n;
}

int64_t breakdown_step(const struct breakdown_side *side, const char *name)
{
	for (int i = 0; i < side->nsteps; i++)
		if (!strcmp(side->name[i], name))
			return side->ns[i];
	return -1;
}

void breakdown_format(const struct breakdown_side *side, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 1; i < side->nsteps && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s %.2f", i > 1 ? ", " : "",
					 side->name[i],
					 (double)(side->ns[i] - side->ns[i - 1]) / 1e6);
}

int64_t breakdown_total(const struct breakdown_side *side)
{
	return side->nsteps > 1 ? side->ns[side->nsteps - 1] - side->ns[0] : 0;
}
