/*
 * topology.c: hwloc topology loading and summary (see topology.h).
 */
#include "topology.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/file.h"
#include "common/log.h"

struct dml_topology {
    hwloc_topology_t hw;          /* owned */
    dml_topology_summary summary; /* filled at load */
};

const char *dml_topology_pci_kind_name(dml_topology_pci_kind kind)
{
    return kind == DML_PCI_GPU ? "gpu" : "nic";
}

/* hwloc writes its parse diagnostics to stderr when these ask it to; they
 * would bypass common/log.h, so they stay off unless we are debugging. */
static void quiet_hwloc(void)
{
    if (dml_log_get_level() >= DML_LOG_DEBUG)
        return;
    setenv("HWLOC_XML_VERBOSE", "0", 1);
    setenv("HWLOC_SYNTHETIC_VERBOSE", "0", 1);
}

/*
 * hwloc loads its plugins when a topology is created and unloads them when
 * the last one is destroyed; the PCI plugin takes libpciaccess with it,
 * whose global state is never freed and, once unloaded, is reported as
 * leaked by LeakSanitizer (the CI runs the tests under it). Marking the
 * library non-deletable keeps it for the life of the process, which also
 * spares a reload at each topology.
 */
static void pin_pciaccess(void)
{
    void *h = dlopen("libpciaccess.so.0",
                     RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
    if (h)
        dlclose(h); /* RTLD_NODELETE outlives this handle */
}

static void copy_str(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

dml_status dml_topology_read_meminfo(const char *path, double *total_bytes,
                                     double *available_bytes, dml_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return dml_error_set(err, DML_EIO, path, 0, 0, NULL,
                             "cannot open: %s", strerror(errno));
    char line[256];
    double total = -1, avail = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long long kb;
        if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
            total = (double)kb * 1024.0;
        else if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            avail = (double)kb * 1024.0;
    }
    fclose(f);
    if (total < 0 || avail < 0)
        return dml_error_set(err, DML_EINPUT, path, 0, 0,
                             total < 0 ? "MemTotal" : "MemAvailable",
                             "line missing");
    *total_bytes = total;
    *available_bytes = avail;
    return DML_OK;
}

/* The first object of a cache type, or NULL. */
static hwloc_obj_t first_cache(hwloc_topology_t hw, hwloc_obj_type_t type)
{
    return hwloc_get_obj_by_type(hw, type, 0);
}

static void fill_caches(hwloc_topology_t hw, dml_topology_summary *s)
{
    hwloc_obj_t o;
    if ((o = first_cache(hw, HWLOC_OBJ_L1CACHE)))
        s->l1d_bytes = (double)o->attr->cache.size;
    if ((o = first_cache(hw, HWLOC_OBJ_L2CACHE)))
        s->l2_bytes = (double)o->attr->cache.size;
    if ((o = first_cache(hw, HWLOC_OBJ_L3CACHE)))
        s->l3_bytes = (double)o->attr->cache.size;

    /* Data/unified caches only: L1i is a type of its own in hwloc 2. */
    static const hwloc_obj_type_t levels[] = {
        HWLOC_OBJ_L1CACHE, HWLOC_OBJ_L2CACHE, HWLOC_OBJ_L3CACHE,
        HWLOC_OBJ_L4CACHE, HWLOC_OBJ_L5CACHE};
    for (int lvl = 5; lvl >= 1; lvl--) {
        int n = hwloc_get_nbobjs_by_type(hw, levels[lvl - 1]);
        if (n <= 0)
            continue;
        s->llc_level = lvl;
        s->llc_count = n;
        o = hwloc_get_obj_by_type(hw, levels[lvl - 1], 0);
        s->llc_bytes = (double)o->attr->cache.size;
        double sum = 0;
        for (int i = 0; i < n; i++)
            sum += (double)hwloc_get_obj_by_type(hw, levels[lvl - 1], (unsigned)i)
                       ->attr->cache.size;
        s->llc_total_bytes = sum;
        break;
    }
}

static int package_of(hwloc_topology_t hw, hwloc_obj_t io)
{
    hwloc_obj_t a = hwloc_get_non_io_ancestor_obj(hw, io);
    while (a && a->type != HWLOC_OBJ_PACKAGE)
        a = a->parent;
    return a ? (int)a->logical_index : -1;
}

/*
 * GPUs: a 3D controller (class 0302: NVIDIA data-centre parts), or any
 * display-class or accelerator-class device with a GPU or co-processor OS
 * device under it. Plain VGA devices (the BMC's ASPEED on most servers,
 * the emulated one on VMs) are not GPUs one can train on.
 */
static bool is_gpu(hwloc_obj_t pci, bool has_gpu_osdev)
{
    unsigned cls = pci->attr->pcidev.class_id;
    if (cls == 0x0302)
        return true;
    return ((cls >> 8) == 0x03 || (cls >> 8) == 0x12) && has_gpu_osdev;
}

static void fill_pci(hwloc_topology_t hw, dml_topology_summary *s)
{
    for (hwloc_obj_t o = hwloc_get_next_pcidev(hw, NULL); o;
         o = hwloc_get_next_pcidev(hw, o)) {
        bool gpu_osdev = false;
        const char *gpu_model = NULL;
        char osdevs[64] = "";
        for (hwloc_obj_t c = o->io_first_child; c; c = c->next_sibling) {
            if (c->type != HWLOC_OBJ_OS_DEVICE)
                continue;
            if (c->attr->osdev.type == HWLOC_OBJ_OSDEV_GPU ||
                c->attr->osdev.type == HWLOC_OBJ_OSDEV_COPROC) {
                gpu_osdev = true;
                if (!gpu_model)
                    gpu_model = hwloc_obj_get_info_by_name(c, "GPUModel");
            }
            if (c->name) {
                size_t len = strlen(osdevs);
                snprintf(osdevs + len, sizeof osdevs - len, "%s%s",
                         len ? "," : "", c->name);
            }
        }
        dml_topology_pci_kind kind;
        if (is_gpu(o, gpu_osdev))
            kind = DML_PCI_GPU;
        else if ((o->attr->pcidev.class_id >> 8) == 0x02)
            kind = DML_PCI_NIC;
        else
            continue;
        if (s->pci_count == DML_TOPOLOGY_MAX_PCI) {
            dml_log_warn("topology: more than %d GPUs and NICs, the rest "
                         "are not listed",
                         DML_TOPOLOGY_MAX_PCI);
            return;
        }
        dml_topology_pci_device *d = &s->pci[s->pci_count++];
        d->kind = kind;
        const struct hwloc_pcidev_attr_s *a = &o->attr->pcidev;
        snprintf(d->busid, sizeof d->busid, "%04x:%02x:%02x.%01x",
                 (unsigned)a->domain, (unsigned)a->bus, (unsigned)a->dev,
                 (unsigned)a->func);
        d->class_id = a->class_id;
        d->vendor_id = a->vendor_id;
        d->device_id = a->device_id;
        const char *name =
            gpu_model ? gpu_model : hwloc_obj_get_info_by_name(o, "PCIDevice");
        copy_str(d->name, sizeof d->name, name);
        copy_str(d->osdev, sizeof d->osdev, osdevs);
        d->package = package_of(hw, o);
        d->link_Bps = (double)a->linkspeed * 1e9; /* hwloc: GB/s */
        if (kind == DML_PCI_GPU)
            s->gpus++;
        else
            s->nics++;
    }
}

static void fill_summary(dml_topology *t)
{
    hwloc_topology_t hw = t->hw;
    dml_topology_summary *s = &t->summary;
    s->packages = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_PACKAGE);
    s->numa_nodes = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_NUMANODE);
    s->cores = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_CORE);
    s->pus = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_PU);
    if (s->cores <= 0) /* some VMs expose PUs without cores */
        s->cores = s->pus;
    fill_caches(hw, s);

    double mem = 0;
    for (int i = 0; i < s->numa_nodes; i++)
        mem += (double)hwloc_get_obj_by_type(hw, HWLOC_OBJ_NUMANODE,
                                             (unsigned)i)
                   ->attr->numanode.local_memory;
    s->hwloc_mem_bytes = mem;
    s->mem_total_bytes = s->mem_available_bytes = mem;

    hwloc_obj_t root = hwloc_get_root_obj(hw);
    hwloc_obj_t pkg = hwloc_get_obj_by_type(hw, HWLOC_OBJ_PACKAGE, 0);
    const char *model = pkg ? hwloc_obj_get_info_by_name(pkg, "CPUModel") : NULL;
    if (!model)
        model = hwloc_obj_get_info_by_name(root, "CPUModel");
    copy_str(s->cpu_model, sizeof s->cpu_model, model);
    copy_str(s->hostname, sizeof s->hostname,
             hwloc_obj_get_info_by_name(root, "HostName"));

    if (s->source == DML_TOPOLOGY_LIVE) {
        char host[256];
        if (gethostname(host, sizeof host) == 0) {
            host[sizeof host - 1] = '\0';
            copy_str(s->hostname, sizeof s->hostname, host);
        }
        dml_error merr;
        if (dml_topology_read_meminfo("/proc/meminfo", &s->mem_total_bytes,
                                      &s->mem_available_bytes,
                                      &merr) != DML_OK) {
            /* Not Linux, or /proc hidden: hwloc's figure is all there is. */
            char buf[1024];
            dml_log_warn("topology: %s; using hwloc's memory figure",
                         dml_error_format(&merr, buf, sizeof buf));
        }
    }
    fill_pci(hw, s);
}

/*
 * Point hw at src. An XML file is read here (common/file: a FIFO or a
 * device is refused rather than left to hang hwloc's own open) and handed
 * to hwloc as a buffer, *xml_text, which the caller frees after
 * hwloc_topology_load.
 */
static dml_status set_source(hwloc_topology_t hw,
                             const dml_topology_source *src, char **xml_text,
                             dml_error *err)
{
    *xml_text = NULL;
    switch (src->kind) {
    case DML_TOPOLOGY_LIVE:
        return DML_OK;
    case DML_TOPOLOGY_XML_FILE: {
        const char *path = src->text ? src->text : "";
        if (access(path, R_OK) != 0)
            return dml_error_set(err, DML_EINPUT, path, 0, 0, NULL,
                                 "cannot open topology XML: %s",
                                 strerror(errno));
        size_t len = 0;
        DML_CHECK(dml_file_read_all(path, DML_TOPOLOGY_XML_MAX_BYTES,
                                    xml_text, &len, err));
        uint64_t pus = dml_topology_xml_pus(*xml_text, len);
        if (pus > DML_TOPOLOGY_PUS_MAX)
            return dml_error_set(err, DML_EINPUT, path, 0, 0, NULL,
                                 "topology of %llu PUs, more than the %d "
                                 "dml describes",
                                 (unsigned long long)pus,
                                 DML_TOPOLOGY_PUS_MAX);
        if (hwloc_topology_set_xmlbuffer(hw, *xml_text, (int)len + 1) != 0)
            return dml_error_set(err, DML_EINPUT, path, 0, 0, NULL,
                                 "not a valid hwloc XML topology");
        return DML_OK;
    }
    case DML_TOPOLOGY_XML_BUFFER: {
        const char *xml = src->text ? src->text : "";
        uint64_t pus = dml_topology_xml_pus(xml, strlen(xml));
        if (pus > DML_TOPOLOGY_PUS_MAX)
            return dml_error_msg(err, DML_EINPUT,
                                 "topology XML buffer: %llu PUs, more than "
                                 "the %d dml describes",
                                 (unsigned long long)pus,
                                 DML_TOPOLOGY_PUS_MAX);
        if (hwloc_topology_set_xmlbuffer(hw, xml, (int)strlen(xml) + 1) != 0)
            return dml_error_msg(err, DML_EINPUT,
                                 "topology XML buffer (%zu bytes): not a "
                                 "valid hwloc XML topology",
                                 strlen(xml));
        return DML_OK;
    }
    case DML_TOPOLOGY_SYNTHETIC: {
        const char *desc = src->text ? src->text : "";
        uint64_t pus = dml_topology_synthetic_pus(desc);
        if (pus > DML_TOPOLOGY_PUS_MAX)
            return dml_error_msg(err, DML_EINPUT,
                                 "synthetic topology \"%s\": more than the "
                                 "%d PUs dml describes",
                                 desc, DML_TOPOLOGY_PUS_MAX);
        if (hwloc_topology_set_synthetic(hw, desc) != 0)
            return dml_error_msg(err, DML_EINPUT,
                                 "synthetic topology \"%s\": invalid "
                                 "description",
                                 desc);
        return DML_OK;
    }
    }
    return dml_error_msg(err, DML_EINPUT, "unknown topology source kind %d",
                         (int)src->kind);
}

static const char *source_name(const dml_topology_source *src, char *buf,
                               size_t size)
{
    switch (src->kind) {
    case DML_TOPOLOGY_LIVE:
        return "this machine";
    case DML_TOPOLOGY_XML_FILE:
        snprintf(buf, size, "%s", src->text ? src->text : "");
        return buf;
    case DML_TOPOLOGY_XML_BUFFER:
        return "topology XML buffer";
    case DML_TOPOLOGY_SYNTHETIC:
        snprintf(buf, size, "synthetic topology \"%s\"",
                 src->text ? src->text : "");
        return buf;
    }
    return "topology";
}

dml_status dml_topology_load(const dml_topology_source *src,
                             dml_topology **out, dml_error *err)
{
    static const dml_topology_source live = {DML_TOPOLOGY_LIVE, NULL};
    if (!src)
        src = &live;
    *out = NULL;
    quiet_hwloc();

    dml_topology *t = calloc(1, sizeof *t);
    if (!t)
        return dml_error_msg(err, DML_ENOMEM, "out of memory for topology");
    t->summary.source = src->kind;
    if (hwloc_topology_init(&t->hw) != 0) {
        free(t);
        return dml_error_msg(err, DML_ERUNTIME, "hwloc_topology_init: %s",
                             strerror(errno));
    }
    pin_pciaccess();
    hwloc_topology_set_io_types_filter(t->hw,
                                       HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
    char *xml_text = NULL;
    dml_status st = set_source(t->hw, src, &xml_text, err);
    if (st != DML_OK) {
        free(xml_text);
        dml_topology_free(t);
        return st;
    }
    int loaded = hwloc_topology_load(t->hw);
    int e = errno;
    free(xml_text);
    if (loaded != 0) {
        char name[600];
        const char *what = source_name(src, name, sizeof name);
        dml_topology_free(t);
        if (src->kind == DML_TOPOLOGY_LIVE)
            return dml_error_msg(err, DML_ERUNTIME,
                                 "hwloc cannot discover this machine: %s",
                                 strerror(e));
        if (src->kind == DML_TOPOLOGY_XML_FILE)
            return dml_error_set(err, DML_EINPUT, what, 0, 0, NULL,
                                 "not a usable hwloc XML topology: %s",
                                 strerror(e));
        return dml_error_msg(err, DML_EINPUT, "%s: not usable: %s", what,
                             strerror(e));
    }
    fill_summary(t);
    *out = t;
    return DML_OK;
}

void dml_topology_free(dml_topology *topo)
{
    if (!topo)
        return;
    if (topo->hw)
        hwloc_topology_destroy(topo->hw);
    free(topo);
}

const dml_topology_summary *dml_topology_get_summary(const dml_topology *topo)
{
    return &topo->summary;
}

hwloc_topology_t dml_topology_hwloc(const dml_topology *topo)
{
    return topo->hw;
}

bool dml_topology_is_live(const dml_topology *topo)
{
    return topo->summary.source == DML_TOPOLOGY_LIVE;
}

int dml_topology_online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

dml_status dml_topology_export_xml(const dml_topology *topo, char **xml,
                                   dml_error *err)
{
    *xml = NULL;
    char *buf = NULL;
    int len = 0;
    if (hwloc_topology_export_xmlbuffer(topo->hw, &buf, &len, 0) != 0)
        return dml_error_msg(err, DML_ERUNTIME,
                             "hwloc cannot export the topology as XML: %s",
                             strerror(errno));
    /* hwloc's buffer must go back through hwloc_free_xmlbuffer; callers
     * get a plain malloc'd copy they free like every other string. */
    char *copy = malloc((size_t)len + 1);
    if (!copy) {
        hwloc_free_xmlbuffer(topo->hw, buf);
        return dml_error_msg(err, DML_ENOMEM, "out of memory for XML");
    }
    memcpy(copy, buf, (size_t)len);
    copy[len] = '\0';
    hwloc_free_xmlbuffer(topo->hw, buf);
    *xml = copy;
    return DML_OK;
}
