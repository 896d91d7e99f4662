/*
 * virt.c - libvirt domains: XML, start, stop, destroy, accelerator probe.
 *
 * Domains are transient and stop on any guest reboot (on_reboot=destroy):
 * with direct kernel boot a reset would come back to the same kernel, so
 * the reboot method starts the new kernel itself, and a stopped domain is
 * an event the harness sees rather than a silent reset.
 */
#include <errno.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/xmlwriter.h>
#include <libxml/xpath.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "monotime.h"
#include "virt.h"

/* A kernel under KVM prints its banner within a second; a PVM-hung one never does. */
#define ACCEL_PROBE_TIMEOUT_NS (15 * NS_PER_S)

struct virt {
	virConnectPtr conn;
};

struct virt_domain {
	virDomainPtr dom;
};

static void libvirt_quiet(void *opaque, virErrorPtr error)
{
	/* Errors are reported through tb_err with context; no double printing. */
	(void)opaque;
	(void)error;
}

static const char *libvirt_message(void)
{
	virErrorPtr e = virGetLastError();

	return e && e->message ? e->message : "unknown libvirt error";
}

struct virt *virt_open(const char *uri, struct tb_err *err)
{
	struct virt *v;

	virSetErrorFunc(NULL, libvirt_quiet);
	v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->conn = virConnectOpen(uri);
	if (!v->conn) {
		tb_err_set(err, TB_EXIT_ENV,
			   "cannot connect to libvirt at %s: %s (is the lab up? 'twinbench lab up')",
			   uri, libvirt_message());
		free(v);
		return NULL;
	}
	return v;
}

void virt_close(struct virt *v)
{
	if (!v)
		return;
	virConnectClose(v->conn);
	free(v);
}

/* xmlTextWriter calls return < 0 on failure; collect them instead of checking each. */
#define W(call)                                                                                    \
	do {                                                                                       \
		if ((call) < 0)                                                                    \
			failed = true;                                                             \
	} while (0)

/* A virtio NIC on the guest's bridge or libvirt network. */
static void write_nic(xmlTextWriterPtr w, bool *fail, const struct guest_config *g, const char *mac)
{
	const char *kind = g->network ? "network" : "bridge";
	bool failed = false;

	W(xmlTextWriterStartElement(w, BAD_CAST "interface"));
	W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST kind));
	W(xmlTextWriterStartElement(w, BAD_CAST "source"));
	W(xmlTextWriterWriteAttribute(w, BAD_CAST kind,
				      BAD_CAST(g->network ? g->network : g->bridge)));
	W(xmlTextWriterEndElement(w));
	W(xmlTextWriterStartElement(w, BAD_CAST "mac"));
	W(xmlTextWriterWriteAttribute(w, BAD_CAST "address", BAD_CAST mac));
	W(xmlTextWriterEndElement(w));
	W(xmlTextWriterStartElement(w, BAD_CAST "model"));
	W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "virtio"));
	W(xmlTextWriterEndElement(w));
	W(xmlTextWriterEndElement(w));
	if (failed)
		*fail = true;
}

static void write_serial(xmlTextWriterPtr w, bool *fail, int index, int port, const char *file)
{
	bool failed = false;
	char buf[16];

	W(xmlTextWriterStartElement(w, BAD_CAST "serial"));
	W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST(file ? "file" : "tcp")));
	W(xmlTextWriterStartElement(w, BAD_CAST "source"));
	if (file) {
		W(xmlTextWriterWriteAttribute(w, BAD_CAST "path", BAD_CAST file));
	} else {
		snprintf(buf, sizeof(buf), "%d", port);
		W(xmlTextWriterWriteAttribute(w, BAD_CAST "mode", BAD_CAST "bind"));
		W(xmlTextWriterWriteAttribute(w, BAD_CAST "host", BAD_CAST "127.0.0.1"));
		W(xmlTextWriterWriteAttribute(w, BAD_CAST "service", BAD_CAST buf));
	}
	W(xmlTextWriterEndElement(w));
	if (!file) {
		W(xmlTextWriterStartElement(w, BAD_CAST "protocol"));
		W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "telnet"));
		W(xmlTextWriterEndElement(w));
	}
	W(xmlTextWriterStartElement(w, BAD_CAST "target"));
	snprintf(buf, sizeof(buf), "%d", index);
	W(xmlTextWriterWriteAttribute(w, BAD_CAST "port", BAD_CAST buf));
	W(xmlTextWriterEndElement(w));
	W(xmlTextWriterEndElement(w));
	if (failed)
		*fail = true;
}

static void write_disk(xmlTextWriterPtr w, bool *fail, const char *path, const char *format,
		       const char *dev, bool readonly)
{
	bool failed = false;

	W(xmlTextWriterStartElement(w, BAD_CAST "disk"));
	W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "file"));
	W(xmlTextWriterWriteAttribute(w, BAD_CAST "device", BAD_CAST "disk"));
	W(xmlTextWriterStartElement(w, BAD_CAST "driver"));
	W(xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST "qemu"));
	W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST format));
	W(xmlTextWriterEndElement(w));
	W(xmlTextWriterStartElement(w, BAD_CAST "source"));
	W(xmlTextWriterWriteAttribute(w, BAD_CAST "file", BAD_CAST path));
	W(xmlTextWriterEndElement(w));
	W(xmlTextWriterStartElement(w, BAD_CAST "target"));
	W(xmlTextWriterWriteAttribute(w, BAD_CAST "dev", BAD_CAST dev));
	W(xmlTextWriterWriteAttribute(w, BAD_CAST "bus", BAD_CAST "virtio"));
	W(xmlTextWriterEndElement(w));
	if (readonly)
		W(xmlTextWriterWriteElement(w, BAD_CAST "readonly", BAD_CAST ""));
	W(xmlTextWriterEndElement(w));
	if (failed)
		*fail = true;
}

char *virt_domain_xml(const struct guest_config *g, struct tb_err *err)
{
	xmlBufferPtr buf = xmlBufferCreate();
	xmlTextWriterPtr w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;
	bool failed = false;
	char num[32];
	char *xml = NULL;

	if (!w) {
		tb_err_set(err, TB_EXIT_ENV, "out of memory building domain XML");
		goto out;
	}
	xmlTextWriterSetIndent(w, 1);
	W(xmlTextWriterStartDocument(w, NULL, NULL, NULL));
	W(xmlTextWriterStartElement(w, BAD_CAST "domain"));
	W(xmlTextWriterWriteAttribute(w, BAD_CAST "type",
				      BAD_CAST(strcmp(g->accel, "kvm") ? "qemu" : "kvm")));
	W(xmlTextWriterWriteElement(w, BAD_CAST "name", BAD_CAST g->name));
	W(xmlTextWriterStartElement(w, BAD_CAST "memory"));
	W(xmlTextWriterWriteAttribute(w, BAD_CAST "unit", BAD_CAST "MiB"));
	snprintf(num, sizeof(num), "%d", g->memory_mib);
	W(xmlTextWriterWriteString(w, BAD_CAST num));
	W(xmlTextWriterEndElement(w));
	snprintf(num, sizeof(num), "%d", g->vcpus);
	W(xmlTextWriterWriteElement(w, BAD_CAST "vcpu", BAD_CAST num));

	W(xmlTextWriterStartElement(w, BAD_CAST "os"));
	W(xmlTextWriterStartElement(w, BAD_CAST "type"));
	W(xmlTextWriterWriteAttribute(w, BAD_CAST "arch", BAD_CAST "x86_64"));
	/* q35: memory-mapped PCI config space, one access per read (FINDINGS.md). */
	W(xmlTextWriterWriteAttribute(w, BAD_CAST "machine", BAD_CAST "q35"));
	W(xmlTextWriterWriteString(w, BAD_CAST "hvm"));
	W(xmlTextWriterEndElement(w));
	W(xmlTextWriterWriteElement(w, BAD_CAST "kernel", BAD_CAST g->kernel));
	if (g->initrd)
		W(xmlTextWriterWriteElement(w, BAD_CAST "initrd", BAD_CAST g->initrd));
	W(xmlTextWriterWriteElement(w, BAD_CAST "cmdline", BAD_CAST g->cmdline));
	W(xmlTextWriterEndElement(w));

	W(xmlTextWriterStartElement(w, BAD_CAST "features"));
	W(xmlTextWriterWriteElement(w, BAD_CAST "acpi", BAD_CAST ""));
	W(xmlTextWriterWriteElement(w, BAD_CAST "apic", BAD_CAST ""));
	W(xmlTextWriterEndElement(w));
	W(xmlTextWriterWriteElement(w, BAD_CAST "on_poweroff", BAD_CAST "destroy"));
	W(xmlTextWriterWriteElement(w, BAD_CAST "on_reboot", BAD_CAST "destroy"));
	W(xmlTextWriterWriteElement(w, BAD_CAST "on_crash", BAD_CAST "destroy"));

	W(xmlTextWriterStartElement(w, BAD_CAST "devices"));
	if (g->disk)
		write_disk(w, &failed, g->disk, "qcow2", "vda", false);
	if (g->payload)
		write_disk(w, &failed, g->payload, "raw", "vdb", true);
	if (g->bridge || g->network) {
		write_nic(w, &failed, g, g->mac);
		if (g->mac2)
			write_nic(w, &failed, g, g->mac2);
	}
	if (g->serial_file) {
		write_serial(w, &failed, 0, 0, g->serial_file);
	} else {
		write_serial(w, &failed, 0, g->console_port[0], NULL);
		write_serial(w, &failed, 1, g->console_port[1], NULL);
	}
	W(xmlTextWriterStartElement(w, BAD_CAST "memballoon"));
	W(xmlTextWriterWriteAttribute(w, BAD_CAST "model", BAD_CAST "none"));
	W(xmlTextWriterEndElement(w));
	W(xmlTextWriterEndElement(w)); /* devices */
	W(xmlTextWriterEndElement(w)); /* domain */
	W(xmlTextWriterEndDocument(w));
	xmlFreeTextWriter(w);
	w = NULL;
	if (failed) {
		tb_err_set(err, TB_EXIT_USAGE,
			   "cannot build domain XML for %s (a value is not valid UTF-8?)", g->name);
		goto out;
	}
	xml = strdup((const char *)xmlBufferContent(buf));
out:
	if (w)
		xmlFreeTextWriter(w);
	if (buf)
		xmlBufferFree(buf);
	return xml;
}

int virt_start(struct virt *v, const char *xml, struct virt_domain **dom, struct tb_err *err)
{
	struct virt_domain *d = calloc(1, sizeof(*d));
	const char *msg;
	bool taken;

	*dom = NULL;
	if (!d)
		return tb_err_set(err, TB_EXIT_ENV, "cannot start the guest: out of memory");
	d->dom = virDomainCreateXML(v->conn, xml, 0);
	if (d->dom) {
		*dom = d;
		return 0;
	}
	free(d);
	msg = libvirt_message();
	taken = strstr(msg, "Address already in use") != NULL;
	tb_err_set(err, TB_EXIT_ENV, "cannot start the guest: %s%s", msg,
		   taken ? " (a console port was taken between its choice and QEMU's bind)" : "");
	return taken ? -EADDRINUSE : -1;
}

bool virt_lost(struct virt *v)
{
	return virConnectIsAlive(v->conn) != 1;
}

bool virt_is_running(struct virt_domain *d)
{
	return d && virDomainIsActive(d->dom) == 1;
}

bool virt_is_gone(struct virt_domain *d)
{
	int active = virDomainIsActive(d->dom);

	return active == 0 || (active < 0 && virGetLastErrorCode() == VIR_ERR_NO_DOMAIN);
}

int virt_wait_stopped(struct virt_domain *d, int64_t deadline_ns)
{
	/* libvirt's lifecycle events need an event loop thread; 5 ms polling is plenty. */
	while (virt_is_running(d)) {
		if (monotime_now() >= deadline_ns)
			return -ETIMEDOUT;
		monotime_sleep_until(monotime_now() + 5 * NS_PER_MS);
	}
	return 0;
}

/* One HMP command's answer, under a "== command ==" heading, to @f. */
static int dump_monitor(struct virt_domain *d, FILE *f, const char *cmd, struct tb_err *err)
{
	char *out = NULL;
	int rc;

	if (virDomainQemuMonitorCommand(d->dom, cmd, &out,
					VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP) != 0)
		return tb_err_set(err, TB_EXIT_ENV, "%s: %s", cmd, libvirt_message());
	rc = fprintf(f, "== %s ==\n%s\n", cmd, out) < 0 ? -1 : 0;
	free(out);
	if (rc != 0)
		return tb_err_set(err, TB_EXIT_ENV, "%s: cannot write: %s", cmd, strerror(errno));
	return 0;
}

/*
 * The state of each virtio NIC's queues ("info virtio-queue-status"): the
 * device's view of the rings, to tell a kick the device never saw from an
 * interrupt the guest never took.  The devices come from "info virtio",
 * one "PATH [virtio-net]" line each.
 */
static int dump_virtio_nets(struct virt_domain *d, FILE *f, struct tb_err *err)
{
	char *list = NULL, *save = NULL, cmd[256];
	int rc = 0;

	if (virDomainQemuMonitorCommand(d->dom, "info virtio", &list,
					VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP) != 0)
		return tb_err_set(err, TB_EXIT_ENV, "info virtio: %s", libvirt_message());
	for (char *line = strtok_r(list, "\n", &save); line && rc == 0;
	     line = strtok_r(NULL, "\n", &save)) {
		char path[200];

		if (!strstr(line, "[virtio-net]") || sscanf(line, " %199s", path) != 1)
			continue;
		snprintf(cmd, sizeof(cmd), "info virtio-status %s", path);
		rc = dump_monitor(d, f, cmd, err);
		/* Queues 0 and 1 are the first receive and transmit queues. */
		for (int q = 0; rc == 0 && q < 2; q++) {
			snprintf(cmd, sizeof(cmd), "info virtio-queue-status %s %d", path, q);
			rc = dump_monitor(d, f, cmd, err);
		}
	}
	free(list);
	return rc;
}

int virt_inject_nmi(struct virt_domain *d, struct tb_err *err)
{
	if (virDomainInjectNMI(d->dom, 0) != 0)
		return tb_err_set(err, TB_EXIT_ENV, "cannot inject an NMI: %s", libvirt_message());
	return 0;
}

int virt_inject_mce(struct virt_domain *d, int cpu, struct tb_err *err)
{
	char cmd[96], *out = NULL;
	int rc = 0;

	/*
	 * Bank 0, MCi_STATUS VAL|UC|EN|PCC (and ADDRV|MISCV clear), MCG_STATUS
	 * RIPV|MCIP: uncorrected, the context cannot go on.  HMP only: QMP has
	 * no such command.  QEMU answers with text only when it refuses.
	 */
	snprintf(cmd, sizeof(cmd), "mce %d 0 0xb200000000000000 0x5 0 0", cpu);
	if (virDomainQemuMonitorCommand(d->dom, cmd, &out, VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP) !=
	    0)
		return tb_err_set(err, TB_EXIT_ENV, "cannot inject a machine check (%s): %s", cmd,
				  libvirt_message());
	if (out && out[strspn(out, " \r\n")])
		rc = tb_err_set(err, TB_EXIT_ENV, "cannot inject a machine check (%s): QEMU says "
				"%.*s", cmd, (int)strcspn(out, "\r\n"), out);
	free(out);
	return rc;
}

int virt_cpu_state(struct virt_domain *d, const char *path, struct tb_err *err)
{
	int vcpus = virDomainGetVcpusFlags(d->dom, VIR_DOMAIN_VCPU_LIVE);
	/* TCG's vCPUs run while the monitor reads them: pause for one picture. */
	bool paused = virDomainSuspend(d->dom) == 0;
	FILE *f = fopen(path, "w");
	char cmd[32];
	int rc;

	if (!f) {
		rc = tb_err_set(err, TB_EXIT_ENV, "cannot write %s: %s", path, strerror(errno));
		goto out;
	}
	if (fprintf(f, "guest %s while read\n", paused ? "paused" : "running") < 0)
		rc = tb_err_set(err, TB_EXIT_ENV, "cannot write %s: %s", path, strerror(errno));
	else
		rc = dump_monitor(d, f, "info registers -a", err);
	/* What could still interrupt each CPU: its local APIC, the 8259s, the I/O APIC. */
	for (int cpu = 0; rc == 0 && cpu < vcpus; cpu++) {
		snprintf(cmd, sizeof(cmd), "info lapic %d", cpu);
		rc = dump_monitor(d, f, cmd, err);
	}
	if (rc == 0)
		rc = dump_monitor(d, f, "info pic", err);
	if (rc == 0)
		rc = dump_virtio_nets(d, f, err);
	if (fclose(f) != 0 && rc == 0)
		rc = tb_err_set(err, TB_EXIT_ENV, "cannot write %s: %s", path, strerror(errno));
out:
	if (paused && virDomainResume(d->dom) != 0 && rc == 0)
		rc = tb_err_set(err, TB_EXIT_ENV, "cannot resume the guest: %s", libvirt_message());
	return rc;
}

/*
 * @xml with its TCP serial ports (and the console that mirrors ttyS0) moved
 * to @ports; malloc'd, NULL on error.
 */
static char *xml_with_ports(const char *xml, const int ports[2])
{
	xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL, XML_PARSE_NONET);
	xmlXPathContextPtr ctx = doc ? xmlXPathNewContext(doc) : NULL;
	xmlChar *out = NULL;
	char *copy = NULL;
	int len = 0;

	for (int i = 0; ctx && i < 3; i++) {
		char expr[160], port[16];
		xmlXPathObjectPtr obj;

		/* i = 2: libvirt's <console>, which repeats ttyS0's source. */
		snprintf(expr, sizeof(expr),
			 i < 2 ? "/domain/devices/serial[@type='tcp'][target/@port='%d']/source"
			       : "/domain/devices/console[@type='tcp']/source",
			 i);
		snprintf(port, sizeof(port), "%d", ports[i < 2 ? i : 0]);
		obj = xmlXPathEvalExpression(BAD_CAST expr, ctx);
		for (int k = 0; obj && obj->nodesetval && k < obj->nodesetval->nodeNr; k++)
			xmlSetProp(obj->nodesetval->nodeTab[k], BAD_CAST "service", BAD_CAST port);
		xmlXPathFreeObject(obj);
	}
	if (ctx)
		xmlDocDumpMemory(doc, &out, &len);
	if (out)
		copy = strndup((const char *)out, (size_t)len);
	xmlFree(out);
	xmlXPathFreeContext(ctx);
	xmlFreeDoc(doc);
	return copy;
}

/* The figures of libvirt's statistics worth keeping: time, downtime, what was sent. */
static const char *const migration_figures[] = {
	VIR_DOMAIN_JOB_DOWNTIME,	  VIR_DOMAIN_JOB_DOWNTIME_NET,
	VIR_DOMAIN_JOB_TIME_ELAPSED,	  VIR_DOMAIN_JOB_SETUP_TIME,
	VIR_DOMAIN_JOB_DATA_TOTAL,	  VIR_DOMAIN_JOB_MEMORY_TOTAL,
	VIR_DOMAIN_JOB_MEMORY_PROCESSED,  VIR_DOMAIN_JOB_MEMORY_CONSTANT,
	VIR_DOMAIN_JOB_MEMORY_NORMAL,	  VIR_DOMAIN_JOB_MEMORY_ITERATION,
	VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE, VIR_DOMAIN_JOB_MEMORY_BPS,
};

static void migration_add(struct tool_stats *st, const char *key, long long value)
{
	if (st->n == TOOL_STATS_MAX_KEYS)
		return;
	snprintf(st->key[st->n], sizeof(st->key[0]), "%s", key);
	st->value[st->n++] = value;
}

/* The completed migration job's figures, as libvirt keeps them on the destination. */
static void migration_stats(virDomainPtr dom, struct tool_stats *st)
{
	virTypedParameterPtr params = NULL;
	int type, nparams = 0;

	if (virDomainGetJobStats(dom, &type, &params, &nparams, VIR_DOMAIN_JOB_STATS_COMPLETED) != 0)
		return;
	for (size_t f = 0; f < sizeof(migration_figures) / sizeof(migration_figures[0]); f++) {
		unsigned long long v;

		if (virTypedParamsGetULLong(params, nparams, migration_figures[f], &v) == 1)
			migration_add(st, migration_figures[f], (long long)v);
	}
	virTypedParamsFree(params, nparams);
}

/* Aborts a migration still running at its deadline: libvirt's call has no bound of its own. */
struct migrate_watch {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	virDomainPtr dom;
	int64_t deadline_ns;
	bool done, aborted;
};

static void *migrate_watchdog(void *arg)
{
	struct migrate_watch *w = arg;
	struct timespec ts = monotime_timespec(w->deadline_ns);

	pthread_mutex_lock(&w->lock);
	while (!w->done && pthread_cond_timedwait(&w->cond, &w->lock, &ts) != ETIMEDOUT)
		;
	if (!w->done) {
		w->aborted = true;
		virDomainAbortJob(w->dom);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* virDomainMigrate3(), aborted if it runs past @deadline_ns; *@aborted then. */
static virDomainPtr migrate_bounded(virDomainPtr dom, virConnectPtr dst,
				    virTypedParameterPtr params, int nparams, unsigned flags,
				    int64_t deadline_ns, bool *aborted)
{
	struct migrate_watch w = { .dom = dom, .deadline_ns = deadline_ns };
	pthread_condattr_t attr;
	pthread_t watchdog;
	virDomainPtr moved;
	bool watching;

	pthread_mutex_init(&w.lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&w.cond, &attr);
	pthread_condattr_destroy(&attr);
	watching = pthread_create(&watchdog, NULL, migrate_watchdog, &w) == 0;
	moved = virDomainMigrate3(dom, dst, params, (unsigned)nparams, flags);
	if (watching) {
		pthread_mutex_lock(&w.lock);
		w.done = true;
		pthread_cond_signal(&w.cond);
		pthread_mutex_unlock(&w.lock);
		pthread_join(watchdog, NULL);
	}
	*aborted = w.aborted;
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
	return moved;
}

int virt_migrate(struct virt_domain *d, struct virt *dst, const int ports[2],
		 int64_t max_downtime_ms, int64_t deadline_ns, struct virt_domain **moved,
		 struct tool_stats *stats, struct tb_err *err)
{
	bool aborted = false;
	virTypedParameterPtr params = NULL;
	int nparams = 0, maxparams = 0, rc = -1;
	unsigned long long limit = 0;
	char *xml = virDomainGetXMLDesc(d->dom, VIR_DOMAIN_XML_MIGRATABLE), *dxml = NULL;
	struct virt_domain *m = calloc(1, sizeof(*m));

	*moved = NULL;
	memset(stats, 0, sizeof(*stats));
	snprintf(stats->name, sizeof(stats->name), "libvirt-migration");
	dxml = xml ? xml_with_ports(xml, ports) : NULL;
	if (!m || !dxml) {
		tb_err_set(err, TB_EXIT_ENV, "cannot migrate the guest: %s",
			   xml ? "out of memory" : libvirt_message());
		goto out;
	}
	if (max_downtime_ms > 0 &&
	    virDomainMigrateSetMaxDowntime(d->dom, (unsigned long long)max_downtime_ms, 0) != 0) {
		tb_err_set(err, TB_EXIT_ENV, "cannot set the migration's downtime limit: %s",
			   libvirt_message());
		goto out;
	}
	if (virDomainMigrateGetMaxDowntime(d->dom, &limit, 0) == 0)
		migration_add(stats, "max_downtime", (long long)limit);
	/*
	 * Unsafe only by libvirt's rule (writeback cache, storage it does not
	 * know as shared): both lab hosts see the same disk file, and QEMU
	 * flushes it before the destination takes it.
	 */
	if (virTypedParamsAddString(&params, &nparams, &maxparams, VIR_MIGRATE_PARAM_DEST_XML,
				    dxml) < 0 ||
	    virTypedParamsAddString(&params, &nparams, &maxparams, VIR_MIGRATE_PARAM_URI,
				    "tcp://127.0.0.1") < 0 ||
	    virTypedParamsAddString(&params, &nparams, &maxparams,
				    VIR_MIGRATE_PARAM_LISTEN_ADDRESS, "127.0.0.1") < 0) {
		tb_err_set(err, TB_EXIT_ENV, "cannot migrate the guest: %s", libvirt_message());
		goto out;
	}
	m->dom = migrate_bounded(d->dom, dst->conn, params, nparams,
				 VIR_MIGRATE_LIVE | VIR_MIGRATE_UNSAFE, deadline_ns, &aborted);
	if (!m->dom) {
		tb_err_set(err, TB_EXIT_CHECK, "live migration %s: %s",
			   aborted ? "did not finish in time and was aborted" : "failed",
			   libvirt_message());
		goto out;
	}
	migration_stats(m->dom, stats);
	*moved = m;
	m = NULL;
	rc = 0;
out:
	virTypedParamsFree(params, nparams);
	free(m);
	free(xml);
	free(dxml);
	return rc;
}

void virt_destroy(struct virt_domain *d)
{
	if (!d)
		return;
	if (virDomainIsActive(d->dom) == 1)
		virDomainDestroy(d->dom);
	virDomainFree(d->dom);
	free(d);
}

/* Destroy domains named "tb-<pid>-…" whose pid is @pid, or (pid 0) is dead. */
static void destroy_by_owner(struct virt *v, int owner)
{
	virDomainPtr *doms = NULL;
	int n = virConnectListAllDomains(v->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);

	for (int i = 0; i < n; i++) {
		const char *name = virDomainGetName(doms[i]);
		int pid;

		if (name && sscanf(name, "tb-%d-", &pid) == 1 &&
		    (owner ? pid == owner
			   : pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH)) {
			if (!owner)
				fprintf(stderr, "twinbench: destroying %s, left by a run that died\n",
					name);
			virDomainDestroy(doms[i]);
		}
		virDomainFree(doms[i]);
	}
	free(doms);
}

void virt_reap_orphans(struct virt *v)
{
	destroy_by_owner(v, 0);
}

void virt_destroy_owned(struct virt *v, int pid)
{
	destroy_by_owner(v, pid);
}

int virt_console_port(struct virt *v, const char *name, int index, struct tb_err *err)
{
	virDomainPtr dom = virDomainLookupByName(v->conn, name);
	xmlXPathContextPtr ctx = NULL;
	xmlXPathObjectPtr obj = NULL;
	xmlDocPtr doc = NULL;
	char *xml = NULL, expr[128];
	int port = -1;

	if (!dom)
		return tb_err_set(err, TB_EXIT_USAGE,
				  "no running guest named '%s' (see 'twinbench lab status')", name);
	xml = virDomainGetXMLDesc(dom, 0);
	doc = xml ? xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL, XML_PARSE_NONET) : NULL;
	ctx = doc ? xmlXPathNewContext(doc) : NULL;
	snprintf(expr, sizeof(expr),
		 "string(/domain/devices/serial[@type='tcp'][target/@port='%d']/source/@service)",
		 index);
	obj = ctx ? xmlXPathEvalExpression(BAD_CAST expr, ctx) : NULL;
	if (obj && obj->type == XPATH_STRING && obj->stringval && obj->stringval[0])
		port = atoi((const char *)obj->stringval);
	else
		tb_err_set(err, TB_EXIT_USAGE, "guest '%s' has no telnet console ttyS%d", name,
			   index);
	xmlXPathFreeObject(obj);
	xmlXPathFreeContext(ctx);
	xmlFreeDoc(doc);
	free(xml);
	virDomainFree(dom);
	return port;
}

static void format_version(unsigned long v, char *out, size_t len)
{
	snprintf(out, len, "%lu.%lu.%lu", v / 1000000, v / 1000 % 1000, v % 1000);
}

void virt_versions(struct virt *v, char *libvirt, size_t llen, char *hypervisor, size_t hlen)
{
	unsigned long lv = 0, hv = 0;

	snprintf(libvirt, llen, "unknown");
	snprintf(hypervisor, hlen, "unknown");
	if (virConnectGetLibVersion(v->conn, &lv) == 0)
		format_version(lv, libvirt, llen);
	if (virConnectGetVersion(v->conn, &hv) == 0)
		format_version(hv, hypervisor, hlen);
}

bool virt_tcg_racy(struct virt *v)
{
	unsigned long hv = 0;

	/* libvirt's encoding: major * 1000000 + minor * 1000 + micro. */
	return virConnectGetVersion(v->conn, &hv) == 0 && hv > 0 && hv < 8001000;
}

/* Boot @kernel under KVM with ttyS0 to a file; true if its banner appears. */
static bool kvm_boots(struct virt *v, const char *kernel, const char *workdir)
{
	char log[4096], name[64], *xml;
	struct guest_config g = {
		.name = name,
		.accel = "kvm",
		.kernel = kernel,
		.cmdline = "console=ttyS0 panic=-1",
		.memory_mib = 256,
		.vcpus = 1,
		.serial_file = log,
	};
	struct virt_domain *d;
	struct tb_err err;
	bool booted = false;
	int64_t deadline;
	int rc;

	snprintf(name, sizeof(name), "tb-%d-accel-probe", getpid());
	snprintf(log, sizeof(log), "%s/accel-probe.log", workdir);
	unlink(log);
	xml = virt_domain_xml(&g, &err);
	rc = xml ? virt_start(v, xml, &d, &err) : -1;
	free(xml);
	if (rc != 0)
		return false;
	deadline = monotime_now() + ACCEL_PROBE_TIMEOUT_NS;
	while (!booted && monotime_now() < deadline) {
		char buf[8192] = "";
		FILE *f = fopen(log, "r");

		if (f) {
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);

			buf[n] = '\0';
			fclose(f);
		}
		booted = strstr(buf, "Linux version") != NULL;
		if (!booted)
			monotime_sleep_until(monotime_now() + 50 * NS_PER_MS);
	}
	virt_destroy(d);
	unlink(log);
	return booted;
}

int virt_choose_accel(struct virt *v, const char *want, const char *kernel, const char *workdir,
		      const char *cache_path, char *accel, size_t len, struct tb_err *err)
{
	FILE *f;

	if (!strcmp(want, "tcg") || !strcmp(want, "kvm")) {
		if (!strcmp(want, "kvm") && access("/dev/kvm", R_OK | W_OK) != 0)
			return tb_err_set(err, TB_EXIT_ENV,
					  "--accel kvm: /dev/kvm is not usable here (%s); use "
					  "--accel tcg or auto",
					  strerror(errno));
		snprintf(accel, len, "%s", want);
		return 0;
	}
	if (strcmp(want, "auto"))
		return tb_err_set(err, TB_EXIT_USAGE, "--accel: expected kvm, tcg or auto, got '%s'",
				  want);
	if (cache_path && (f = fopen(cache_path, "r"))) {
		bool ok = fgets(accel, (int)len, f) != NULL;

		fclose(f);
		accel[strcspn(accel, "\n")] = '\0';
		if (ok && (!strcmp(accel, "kvm") || !strcmp(accel, "tcg")))
			return 0;
	}
	if (access("/dev/kvm", R_OK | W_OK) == 0 && kvm_boots(v, kernel, workdir))
		snprintf(accel, len, "kvm");
	else
		snprintf(accel, len, "tcg");
	if (cache_path && (f = fopen(cache_path, "w"))) {
		fprintf(f, "%s\n", accel);
		fclose(f);
	}
	return 0;
}
