/*
 * test_topology.c: hwloc topology loading from the fixture XML files
 * (tests/fixtures/topology/README.md says how each was made), synthetic
 * descriptions and the live machine; error messages for bad inputs;
 * the XML export round trip; /proc/meminfo parsing.
 */
#include "tests/support/unit.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probes/topology.h"

#define FIX DML_FIXTURES "/topology/"
#define KiB 1024.0
#define MiB (1024.0 * 1024.0)
#define GiB (1024.0 * 1024.0 * 1024.0)

static dml_topology *load(dml_topology_source_kind kind, const char *text)
{
    dml_topology_source src = {kind, text};
    dml_topology *t = NULL;
    dml_error err;
    dml_error_clear(&err);
    dml_status s = dml_topology_load(&src, &t, &err);
    if (s != DML_OK)
        fail_msg("loading %s failed: %s", text ? text : "live", err.msg);
    assert_non_null(t);
    return t;
}

/* Capture what a call writes to stderr (hwloc must write nothing). */
typedef struct capture {
    int saved;
    char path[64];
} capture;

static void capture_begin(capture *c)
{
    snprintf(c->path, sizeof c->path, "/tmp/dml-topo-stderr-XXXXXX");
    int fd = mkstemp(c->path);
    assert_true(fd >= 0);
    fflush(stderr);
    c->saved = dup(2);
    dup2(fd, 2);
    close(fd);
}

static long capture_end(capture *c)
{
    fflush(stderr);
    dup2(c->saved, 2);
    close(c->saved);
    FILE *f = fopen(c->path, "r");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    unlink(c->path);
    return n;
}

static void this_vm_fixture_has_its_counts(void **state)
{
    (void)state;
    dml_topology *t = load(DML_TOPOLOGY_XML_FILE, FIX "this-vm.xml");
    const dml_topology_summary *s = dml_topology_get_summary(t);
    /* Figures of the VM the fixture was exported from (lscpu agrees). */
    assert_int_equal(s->source, DML_TOPOLOGY_XML_FILE);
    assert_false(dml_topology_is_live(t));
    assert_int_equal(s->packages, 1);
    assert_int_equal(s->numa_nodes, 1);
    assert_int_equal(s->cores, 2);
    assert_int_equal(s->pus, 2);
    assert_true(s->l1d_bytes == 32 * KiB);
    assert_true(s->l2_bytes == 512 * KiB);
    assert_true(s->l3_bytes == 8 * MiB);
    assert_int_equal(s->llc_level, 3);
    assert_true(s->llc_bytes == 8 * MiB);
    assert_int_equal(s->llc_count, 1);
    assert_true(s->llc_total_bytes == 8 * MiB);
    /* The sysfs figure (about 4.3 GiB) the issue warns about; for an XML
     * input there is no /proc to ask, so all three agree. */
    assert_true(s->hwloc_mem_bytes == 4657545216.0);
    assert_true(s->mem_total_bytes == s->hwloc_mem_bytes);
    assert_true(s->mem_available_bytes == s->hwloc_mem_bytes);
    assert_string_equal(s->cpu_model, "AMD EPYC");
    assert_string_equal(s->hostname, "vm");
    /* The virtio NIC is a NIC; the virtio disk is neither GPU nor NIC. */
    assert_int_equal(s->gpus, 0);
    assert_int_equal(s->nics, 1);
    assert_int_equal(s->pci_count, 1);
    assert_int_equal(s->pci[0].kind, DML_PCI_NIC);
    assert_string_equal(s->pci[0].busid, "0000:00:03.0");
    assert_int_equal(s->pci[0].class_id, 0x0200);
    assert_int_equal(s->pci[0].vendor_id, 0x1af4);
    assert_int_equal(s->pci[0].device_id, 0x1041);
    assert_string_equal(s->pci[0].osdev, "eth0");
    assert_int_equal(s->pci[0].package, -1); /* attached to the machine */
    dml_topology_free(t);
}

static void two_socket_fixture_has_its_counts(void **state)
{
    (void)state;
    dml_topology *t = load(DML_TOPOLOGY_XML_FILE, FIX "two-socket-32c.xml");
    const dml_topology_summary *s = dml_topology_get_summary(t);
    assert_int_equal(s->packages, 2);
    assert_int_equal(s->numa_nodes, 2);
    assert_int_equal(s->cores, 32);
    assert_int_equal(s->pus, 64);
    assert_true(s->l1d_bytes == 48 * KiB);
    assert_true(s->l2_bytes == 1 * MiB);
    assert_true(s->l3_bytes == 32 * MiB);
    assert_int_equal(s->llc_level, 3);
    assert_int_equal(s->llc_count, 2);
    assert_true(s->llc_total_bytes == 64 * MiB);
    assert_true(s->hwloc_mem_bytes == 2 * 64 * GiB);
    assert_int_equal(s->gpus, 0);
    assert_int_equal(s->nics, 0);
    assert_string_equal(s->hostname, "");
    dml_topology_free(t);
}

static void gpu_node_fixture_lists_gpus_and_nics(void **state)
{
    (void)state;
    dml_topology *t = load(DML_TOPOLOGY_XML_FILE, FIX "gpu-node-2x-h100.xml");
    const dml_topology_summary *s = dml_topology_get_summary(t);
    assert_int_equal(s->packages, 2);
    assert_int_equal(s->numa_nodes, 2);
    assert_int_equal(s->cores, 16);
    assert_int_equal(s->pus, 32);
    assert_true(s->hwloc_mem_bytes == 2 * 256 * GiB);
    assert_string_equal(s->cpu_model, "Intel(R) Xeon(R) Platinum 8480+");
    assert_string_equal(s->hostname, "gpu-node-01");
    assert_int_equal(s->gpus, 2);
    assert_int_equal(s->nics, 2);
    assert_int_equal(s->pci_count, 4);
    int gpus_seen = 0, nics_seen = 0;
    for (int i = 0; i < s->pci_count; i++) {
        const dml_topology_pci_device *d = &s->pci[i];
        if (d->kind == DML_PCI_GPU) {
            assert_int_equal(d->class_id, 0x0302);
            assert_int_equal(d->vendor_id, 0x10de);
            assert_int_equal(d->device_id, 0x2330);
            /* The CUDA OS device's model wins over the PCI name. */
            assert_string_equal(d->name, "NVIDIA H100 80GB HBM3");
            assert_string_equal(d->busid, gpus_seen == 0 ? "0000:18:00.0"
                                                         : "0000:98:00.0");
            assert_int_equal(d->package, gpus_seen);
            assert_string_equal(d->osdev, gpus_seen == 0 ? "cuda0" : "cuda1");
            gpus_seen++;
        } else {
            assert_int_equal(d->class_id, 0x0207); /* InfiniBand */
            assert_int_equal(d->vendor_id, 0x15b3);
            assert_string_equal(d->name, "MT28908 Family [ConnectX-6]");
            assert_string_equal(d->osdev,
                                nics_seen == 0 ? "ib0,mlx5_0" : "ib1,mlx5_1");
            assert_int_equal(d->package, nics_seen);
            /* pci_link_speed="31.507692" GB/s in the fixture (PCIe 4 x16). */
            assert_true(d->link_Bps > 31.5e9 && d->link_Bps < 31.51e9);
            nics_seen++;
        }
    }
    assert_int_equal(gpus_seen, 2);
    assert_int_equal(nics_seen, 2);
    dml_topology_free(t);
}

static void synthetic_strings_give_their_counts(void **state)
{
    (void)state;
    dml_topology *t = load(DML_TOPOLOGY_SYNTHETIC, "pack:2 core:8 pu:2");
    const dml_topology_summary *s = dml_topology_get_summary(t);
    assert_int_equal(s->source, DML_TOPOLOGY_SYNTHETIC);
    assert_int_equal(s->packages, 2);
    assert_int_equal(s->cores, 16);
    assert_int_equal(s->pus, 32);
    assert_int_equal(s->numa_nodes, 1); /* hwloc adds one when none is given */
    assert_int_equal(s->llc_level, 0);  /* no caches described */
    assert_true(s->llc_total_bytes == 0);
    dml_topology_free(t);

    t = load(DML_TOPOLOGY_SYNTHETIC,
             "pack:1 [numa(memory=17179869184)] l3:2(size=16777216) "
             "l2:4(size=1048576) l1d:1(size=32768) core:1 pu:2");
    s = dml_topology_get_summary(t);
    assert_int_equal(s->packages, 1);
    assert_int_equal(s->numa_nodes, 1);
    assert_int_equal(s->cores, 8);
    assert_int_equal(s->pus, 16);
    assert_int_equal(s->llc_level, 3);
    assert_int_equal(s->llc_count, 2);
    assert_true(s->llc_bytes == 16 * MiB);
    assert_true(s->llc_total_bytes == 32 * MiB);
    assert_true(s->l2_bytes == 1 * MiB);
    assert_true(s->l1d_bytes == 32 * KiB);
    assert_true(s->hwloc_mem_bytes == 16 * GiB);
    assert_true(s->mem_available_bytes == 16 * GiB);
    dml_topology_free(t);
}

/* A description's PUs are counted before hwloc loads it (issue 10: a
 * synthetic topology of 65,536 PUs took 35 s and 1.6 GB, more never
 * finished); beyond DML_TOPOLOGY_PUS_MAX it is refused at once. */
static void oversized_topologies_are_refused_before_loading(void **state)
{
    (void)state;
    static const struct {
        const char *desc;
        uint64_t pus;
    } counts[] = {
        {"pack:2 core:8 pu:2", 32},
        {"2 3 4", 24},
        {"pack:1 [numa(memory=17179869184)] l3:2(size=16777216) "
         "l2:4(size=1048576) l1d:1(size=32768) core:1 pu:2", 16},
        {"(memory=1000) pack:2 pu:2", 4},
        {"Package:2 [NUMANode] Core:2 PU:2", 8},
        {"pack:x", 1},
        {"pack:4 core:512 pu:2", 4096},
        {"pack:4 core:513 pu:2", DML_TOPOLOGY_PUS_MAX + 1},
        {"pack:1000 core:1000 pu:1000", DML_TOPOLOGY_PUS_MAX + 1},
        {"pack:99999999999999999999999 pu:2", DML_TOPOLOGY_PUS_MAX + 1},
        {"pack:4294967296 core:4294967296 pu:4294967296",
         DML_TOPOLOGY_PUS_MAX + 1},
    };
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        if (dml_topology_synthetic_pus(counts[i].desc) != counts[i].pus)
            fail_msg("\"%s\": %llu PUs counted, expected %llu",
                     counts[i].desc,
                     (unsigned long long)dml_topology_synthetic_pus(
                         counts[i].desc),
                     (unsigned long long)counts[i].pus);
    const char *too_big[] = {"pack:4 core:513 pu:2",
                             "pack:1000 core:1000 pu:1000"};
    for (size_t i = 0; i < 2; i++) {
        dml_topology_source src = {DML_TOPOLOGY_SYNTHETIC, too_big[i]};
        dml_topology *t = NULL;
        dml_error err;
        assert_int_equal(dml_topology_load(&src, &t, &err), DML_EINPUT);
        assert_null(t);
        assert_non_null(strstr(err.msg, "more than the 4096 PUs"));
    }
    const char xml[] = "<object type=\"PU\" os_index=\"0\"/>\n"
                       "<object type='PU' os_index='1'/>\n"
                       "<object type=\"Core\"/><info name=\"type=PU\"/>";
    assert_int_equal(dml_topology_xml_pus(xml, sizeof xml - 1), 2);
    /* an XML text of more PUs than the bound: refused before hwloc */
    size_t n = DML_TOPOLOGY_PUS_MAX + 1, one = strlen("<object type=\"PU\"/>");
    char *big = malloc(n * one + 64);
    assert_non_null(big);
    char *w = big + sprintf(big, "<topology>");
    for (size_t i = 0; i < n; i++)
        w += sprintf(w, "<object type=\"PU\"/>");
    sprintf(w, "</topology>");
    dml_topology_source src = {DML_TOPOLOGY_XML_BUFFER, big};
    dml_topology *t = NULL;
    dml_error err;
    assert_int_equal(dml_topology_load(&src, &t, &err), DML_EINPUT);
    assert_non_null(strstr(err.msg, "4097 PUs"));
    free(big);
}

static void missing_xml_is_bad_input_naming_the_file(void **state)
{
    (void)state;
    dml_topology_source src = {DML_TOPOLOGY_XML_FILE,
                               "/nonexistent/dir/file.xml"};
    dml_topology *t = (dml_topology *)&src; /* must be reset to NULL */
    dml_error err;
    char buf[1024];
    assert_int_equal(dml_topology_load(&src, &t, &err), DML_EINPUT);
    assert_null(t);
    assert_int_equal(err.status, DML_EINPUT);
    assert_string_equal(dml_error_format(&err, buf, sizeof buf),
                        "/nonexistent/dir/file.xml: cannot open topology "
                        "XML: No such file or directory");
}

static void malformed_synthetic_is_bad_input_quoting_it(void **state)
{
    (void)state;
    const char *bad[] = {"pack:x", "pack:2 foo:3", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dml_topology_source src = {DML_TOPOLOGY_SYNTHETIC, bad[i]};
        dml_topology *t = NULL;
        dml_error err;
        char want[128];
        capture c;
        capture_begin(&c);
        dml_status s = dml_topology_load(&src, &t, &err);
        long printed = capture_end(&c);
        assert_int_equal(s, DML_EINPUT);
        assert_null(t);
        snprintf(want, sizeof want,
                 "synthetic topology \"%s\": invalid description", bad[i]);
        assert_string_equal(err.msg, want);
        /* hwloc's own diagnostics stay off stderr. */
        assert_int_equal(printed, 0);
    }
}

static void malformed_xml_is_bad_input_and_quiet(void **state)
{
    (void)state;
    char path[] = "/tmp/dml-topo-bad-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *junk = "<?xml version=\"1.0\"?>\n<topology version=\"2.0\">\n"
                       "  <object type=\"Machine\"\n";
    assert_int_equal(write(fd, junk, strlen(junk)), (ssize_t)strlen(junk));
    close(fd);

    dml_topology_source src = {DML_TOPOLOGY_XML_FILE, path};
    dml_topology *t = NULL;
    dml_error err;
    capture c;
    capture_begin(&c);
    dml_status s = dml_topology_load(&src, &t, &err);
    long printed = capture_end(&c);
    unlink(path);
    assert_int_equal(s, DML_EINPUT);
    assert_null(t);
    assert_string_equal(err.file, path);
    assert_string_equal(err.msg, "not a valid hwloc XML topology");
    assert_int_equal(printed, 0);

    /* The same through a buffer (the database's hosts.hwloc_xml). */
    src = (dml_topology_source){DML_TOPOLOGY_XML_BUFFER, "not xml at all"};
    assert_int_equal(dml_topology_load(&src, &t, &err), DML_EINPUT);
    assert_string_equal(err.msg, "topology XML buffer (14 bytes): not a "
                                 "valid hwloc XML topology");
}

static void exported_xml_loads_back_with_the_same_counts(void **state)
{
    (void)state;
    dml_topology *t = load(DML_TOPOLOGY_XML_FILE, FIX "gpu-node-2x-h100.xml");
    char *xml = NULL;
    dml_error err;
    assert_int_equal(dml_topology_export_xml(t, &xml, &err), DML_OK);
    assert_non_null(xml);
    assert_non_null(strstr(xml, "<topology"));
    dml_topology *back = load(DML_TOPOLOGY_XML_BUFFER, xml);
    const dml_topology_summary *a = dml_topology_get_summary(t);
    const dml_topology_summary *b = dml_topology_get_summary(back);
    assert_int_equal(b->source, DML_TOPOLOGY_XML_BUFFER);
    assert_int_equal(a->packages, b->packages);
    assert_int_equal(a->numa_nodes, b->numa_nodes);
    assert_int_equal(a->cores, b->cores);
    assert_int_equal(a->pus, b->pus);
    assert_true(a->llc_total_bytes == b->llc_total_bytes);
    assert_true(a->hwloc_mem_bytes == b->hwloc_mem_bytes);
    assert_int_equal(b->gpus, 2);
    assert_int_equal(b->nics, 2);
    assert_string_equal(a->cpu_model, b->cpu_model);
    assert_string_equal(a->hostname, b->hostname);
    free(xml);
    dml_topology_free(back);
    dml_topology_free(t);
}

static void live_machine_reports_os_memory(void **state)
{
    (void)state;
    dml_topology *t = NULL;
    dml_error err;
    assert_int_equal(dml_topology_load(NULL, &t, &err), DML_OK);
    const dml_topology_summary *s = dml_topology_get_summary(t);
    assert_true(dml_topology_is_live(t));
    assert_true(s->cores >= 1);
    assert_true(s->pus >= s->cores);
    assert_true(s->packages >= 1);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    /* hwloc lists the PUs this process may use: no more than are online. */
    assert_true(s->pus <= online);
    /* The OS figures, not hwloc's: MemTotal is what /proc/meminfo says. */
    double total = 0, avail = 0;
    assert_int_equal(dml_topology_read_meminfo("/proc/meminfo", &total,
                                               &avail, &err),
                     DML_OK);
    assert_true(s->mem_total_bytes == total);
    assert_true(s->mem_available_bytes > 0);
    assert_true(s->mem_available_bytes <= s->mem_total_bytes);
    assert_true(s->hwloc_mem_bytes > 0);
    char host[256];
    assert_int_equal(gethostname(host, sizeof host), 0);
    assert_string_equal(s->hostname, host);
    assert_true(s->llc_bytes > 0); /* every machine we run on has caches */
    dml_topology_free(t);
}

static void meminfo_parser_reads_kib_lines(void **state)
{
    (void)state;
    char path[] = "/tmp/dml-meminfo-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "MemTotal:       24567892 kB\n"
                       "MemFree:        23000000 kB\n"
                       "MemAvailable:   23456789 kB\n"
                       "Buffers:            1234 kB\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    double total = 0, avail = 0;
    dml_error err;
    assert_int_equal(dml_topology_read_meminfo(path, &total, &avail, &err),
                     DML_OK);
    assert_true(total == 24567892.0 * 1024);
    assert_true(avail == 23456789.0 * 1024);

    /* An old kernel without MemAvailable is reported, not guessed. */
    FILE *f = fopen(path, "w");
    fputs("MemTotal: 1000 kB\nMemFree: 10 kB\n", f);
    fclose(f);
    assert_int_equal(dml_topology_read_meminfo(path, &total, &avail, &err),
                     DML_EINPUT);
    assert_string_equal(err.field, "MemAvailable");
    unlink(path);
    assert_int_equal(dml_topology_read_meminfo(path, &total, &avail, &err),
                     DML_EIO);
}

DML_TEST_MAIN(
    cmocka_unit_test(this_vm_fixture_has_its_counts),
    cmocka_unit_test(two_socket_fixture_has_its_counts),
    cmocka_unit_test(gpu_node_fixture_lists_gpus_and_nics),
    cmocka_unit_test(synthetic_strings_give_their_counts),
    cmocka_unit_test(oversized_topologies_are_refused_before_loading),
    cmocka_unit_test(missing_xml_is_bad_input_naming_the_file),
    cmocka_unit_test(malformed_synthetic_is_bad_input_quoting_it),
    cmocka_unit_test(malformed_xml_is_bad_input_and_quiet),
    cmocka_unit_test(exported_xml_loads_back_with_the_same_counts),
    cmocka_unit_test(live_machine_reports_os_memory),
    cmocka_unit_test(meminfo_parser_reads_kib_lines))
