/*
 * topology.h: what one node is made of, through hwloc.
 *
 * Packages, NUMA nodes and their memory, cores, PUs, cache sizes, the CPU
 * model, the host name, and the PCI GPUs and NICs, read from the live
 * machine, from an hwloc XML file or buffer (a saved topology, e.g. the
 * database's hosts.hwloc_xml), or from an hwloc synthetic description
 * ("pack:2 core:8 pu:2"). The last two let every test run on any machine.
 *
 * The handle follows hwloc's life cycle: dml_topology_load() builds it,
 * accessors read it, dml_topology_free() releases it. The summary is a
 * plain struct filled once at load time.
 *
 * Memory: on a live machine hwloc reads the NUMA nodes' memory from sysfs,
 * which on some virtual machines is far below what the OS will give a
 * process (about 5 GB against 24 GB here); the summary carries both the
 * hwloc figure and /proc/meminfo's MemTotal and MemAvailable, and planning
 * uses mem_available_bytes. For XML and synthetic inputs there is no OS to
 * ask, and the two /proc figures are the hwloc one.
 */
#ifndef DML_PROBES_TOPOLOGY_H
#define DML_PROBES_TOPOLOGY_H

#include <stdbool.h>

#include <hwloc.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef enum dml_topology_source_kind {
    DML_TOPOLOGY_LIVE = 0,   /* this machine */
    DML_TOPOLOGY_XML_FILE,   /* text is a path to an hwloc XML file */
    DML_TOPOLOGY_XML_BUFFER, /* text is hwloc XML itself */
    DML_TOPOLOGY_SYNTHETIC,  /* text is an hwloc synthetic description */
} dml_topology_source_kind;

typedef struct dml_topology_source {
    dml_topology_source_kind kind; /* where the topology comes from */
    const char *text;              /* path, XML or description; NULL for live */
} dml_topology_source;

typedef enum dml_topology_pci_kind {
    DML_PCI_GPU = 0, /* PCI class 03xx (display / 3D controller) */
    DML_PCI_NIC = 1, /* PCI class 02xx (Ethernet, InfiniBand, ...) */
} dml_topology_pci_kind;

#define DML_TOPOLOGY_MAX_PCI 64

/* The largest topology XML file read: lstopo writes about 0.6 kB per PU
 * (296 kB for 512 PUs), so this is room for some 100,000 PUs. */
#define DML_TOPOLOGY_XML_MAX_BYTES (64u << 20)

/* The most PUs a described topology (--topology-xml, --synthetic) may
 * hold: hwloc's load time grows faster than linearly with the objects
 * (4,096 PUs load in about a second on a 2-core VM, 16,384 in a minute),
 * and the largest single machines have a few thousand. Counted from the
 * text before hwloc loads it (topology_size.c). */
#define DML_TOPOLOGY_PUS_MAX 4096

/* PUs a synthetic description asks for: the product of its levels'
 * arities, saturated at DML_TOPOLOGY_PUS_MAX + 1 (no overflow). */
uint64_t dml_topology_synthetic_pus(const char *desc);

/* PUs of a topology XML text: its objects of type "PU". */
uint64_t dml_topology_xml_pus(const char *xml, size_t len);

typedef struct dml_topology_pci_device {
    dml_topology_pci_kind kind; /* GPU or NIC */
    char busid[16];             /* "0000:18:00.0" */
    unsigned class_id;          /* PCI class and subclass, 0x0302 */
    unsigned vendor_id;         /* PCI vendor, 0x10de */
    unsigned device_id;         /* PCI device, 0x2330 */
    char name[128];    /* model: GPU OS device's GPUModel, else PCIDevice, else "" */
    char osdev[64];    /* OS device names, comma separated ("ib0,mlx5_0"), or "" */
    int package;       /* logical index of the local package, -1 if unknown */
    double link_Bps;   /* PCIe link bandwidth hwloc reports, B/s, 0 if unknown */
} dml_topology_pci_device;

typedef struct dml_topology_summary {
    dml_topology_source_kind source; /* where it was loaded from */
    char hostname[256];   /* live: gethostname(); else hwloc's HostName; or "" */
    char cpu_model[128];  /* hwloc "CPUModel" of the first package, or "" */
    int packages;         /* sockets */
    int numa_nodes;       /* NUMA nodes */
    int cores;            /* physical cores */
    int pus;              /* hardware threads */
    double l1d_bytes;     /* size of one L1 data cache, B, 0 if absent */
    double l2_bytes;      /* size of one L2 cache, B, 0 if absent */
    double l3_bytes;      /* size of one L3 cache, B, 0 if absent */
    int llc_level;        /* level of the last-level data cache (1..5), 0 if none */
    double llc_bytes;     /* size of one last-level cache, B */
    int llc_count;        /* instances of the last-level cache */
    double llc_total_bytes;  /* llc_bytes summed over all instances, B */
    double hwloc_mem_bytes;  /* sum of the NUMA nodes' local memory per hwloc, B */
    double mem_total_bytes;  /* live: /proc/meminfo MemTotal; else hwloc figure, B */
    double mem_available_bytes; /* live: MemAvailable; else hwloc figure, B */
    int gpus;             /* PCI GPUs (entries of pci[] of kind GPU) */
    int nics;             /* PCI NICs (entries of pci[] of kind NIC) */
    int pci_count;        /* entries used in pci[] */
    dml_topology_pci_device pci[DML_TOPOLOGY_MAX_PCI]; /* GPUs and NICs */
} dml_topology_summary;

typedef struct dml_topology dml_topology;

/*
 * Load a topology. src NULL means the live machine. I/O discovery is on
 * (important PCI devices and OS devices). A missing or unreadable XML file,
 * one that is not a regular file (a FIFO) or larger than
 * DML_TOPOLOGY_XML_MAX_BYTES, malformed XML and a malformed synthetic
 * description are DML_EINPUT with a message naming the input; so is a
 * description of more than DML_TOPOLOGY_PUS_MAX PUs, refused before hwloc
 * loads it. hwloc's own diagnostics are kept off stderr.
 * On success *out is owned by the caller (dml_topology_free).
 */
dml_status dml_topology_load(const dml_topology_source *src,
                             dml_topology **out, dml_error *err);

void dml_topology_free(dml_topology *topo);

/* The summary filled at load time; valid until dml_topology_free. */
const dml_topology_summary *dml_topology_get_summary(const dml_topology *topo);

/* The underlying hwloc topology, for binding threads (membw). */
hwloc_topology_t dml_topology_hwloc(const dml_topology *topo);

/* True when the topology describes the machine this process runs on, so
 * that binding threads to its cores means something. */
bool dml_topology_is_live(const dml_topology *topo);

/* CPUs online on this machine (at least 1): the thread count to use when
 * no topology was loaded. */
int dml_topology_online_cpus(void);

/*
 * The topology as hwloc XML (v2), NUL-terminated, for the database's
 * hosts.hwloc_xml; loading it back with DML_TOPOLOGY_XML_BUFFER gives the
 * same counts. The caller frees *xml with free().
 */
dml_status dml_topology_export_xml(const dml_topology *topo, char **xml,
                                   dml_error *err);

/*
 * Read MemTotal and MemAvailable (bytes) from a meminfo-format file
 * ("/proc/meminfo"); split out so that the parsing can be tested on a
 * fixture. DML_EIO when the file cannot be read, DML_EINPUT when either
 * line is missing.
 */
dml_status dml_topology_read_meminfo(const char *path, double *total_bytes,
                                     double *available_bytes, dml_error *err);

/* "gpu" or "nic". */
const char *dml_topology_pci_kind_name(dml_topology_pci_kind kind);

#endif
