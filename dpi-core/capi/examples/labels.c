/*
 * labels: prints the label of every flow of a pcap file, through dpi's
 * C ABI (include/dpi.h).
 *
 *   cc -I dpi-core/capi/include labels.c target/release/libdpi.a -lpthread -ldl -lm -o labels
 *   ./labels corpus/samples/web.pcap [signature-file ...]
 *
 * One line per flow as it ends: transport, client, server, protocol,
 * application (- when none), confidence. The file is read with a tiny
 * reader of classic pcap (micro- or nanosecond stamps, either byte
 * order); pcapng is not read here. Exit status 0, 1 when the file
 * cannot be read, 2 for usage.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpi.h"

static uint32_t u32_at(const unsigned char *p, int swap) {
    uint32_t v;
    memcpy(&v, p, 4);
    if (swap) {
        v = ((v & 0xffu) << 24) | ((v & 0xff00u) << 8) | ((v >> 8) & 0xff00u) | (v >> 24);
    }
    return v;
}

static void address(char *out, size_t len, const DpiFlow *f, const uint8_t *ip, uint16_t port) {
    char text[INET6_ADDRSTRLEN];
    inet_ntop(f->ip_version == 6 ? AF_INET6 : AF_INET, ip, text, sizeof text);
    if (f->ip_version == 6) {
        snprintf(out, len, "[%s]:%u", text, port);
    } else {
        snprintf(out, len, "%s:%u", text, port);
    }
}

static void on_event(const DpiEvent *e, void *user) {
    unsigned long *ended = user;
    char client[64], server[64];
    if (e->kind != DPI_EVENT_KIND_ENDED) {
        return;
    }
    address(client, sizeof client, &e->flow, e->flow.client_ip, e->flow.client_port);
    address(server, sizeof server, &e->flow, e->flow.server_ip, e->flow.server_port);
    printf("%u %s %s %s %s %s\n", e->flow.transport, client, server, e->protocol,
           e->app ? e->app : "-", e->confidence);
    ++*ended;
}

int main(int argc, char **argv) {
    unsigned char header[24], rec[16];
    unsigned char *frame = NULL;
    unsigned long ended = 0;
    DpiClassifier *classifier;
    DpiMeter *meter;
    FILE *in;
    int swap, nanos, status = 0;
    uint32_t magic, link;

    if (argc < 2) {
        fprintf(stderr, "usage: labels CAPTURE.pcap [SIGNATURE-FILE ...]\n");
        return 2;
    }
    if (argc > 2) {
        char error[512];
        classifier = dpi_classifier_from_files((const char *const *)&argv[2], (size_t)(argc - 2),
                                               error, sizeof error);
        if (!classifier) {
            fprintf(stderr, "labels: %s\n", error);
            return 1;
        }
    } else {
        classifier = dpi_classifier_builtin();
    }
    meter = dpi_meter_new(classifier);
    /* The meter keeps the signatures it needs. */
    dpi_classifier_free(classifier);
    if (!meter) {
        fprintf(stderr, "labels: no meter\n");
        return 1;
    }

    in = fopen(argv[1], "rb");
    if (!in || fread(header, 1, sizeof header, in) != sizeof header) {
        fprintf(stderr, "labels: %s: cannot read a pcap header\n", argv[1]);
        dpi_meter_free(meter);
        if (in) fclose(in);
        return 1;
    }
    magic = u32_at(header, 0);
    swap = magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u;
    nanos = magic == 0xa1b23c4du || magic == 0x4d3cb2a1u;
    if (!swap && !nanos && magic != 0xa1b2c3d4u) {
        fprintf(stderr, "labels: %s: not a classic pcap file (magic %08" PRIx32 ")\n", argv[1], magic);
        dpi_meter_free(meter);
        fclose(in);
        return 1;
    }
    link = u32_at(header + 20, swap) & 0x0fffffffu;

    while (fread(rec, 1, sizeof rec, in) == sizeof rec) {
        uint64_t secs = u32_at(rec, swap), frac = u32_at(rec + 4, swap);
        uint32_t caplen = u32_at(rec + 8, swap), wirelen = u32_at(rec + 12, swap);
        unsigned char *bigger;
        if (caplen > 262144) {
            fprintf(stderr, "labels: %s: record of %" PRIu32 " bytes\n", argv[1], caplen);
            status = 1;
            break;
        }
        bigger = realloc(frame, caplen ? caplen : 1);
        if (!bigger) {
            status = 1;
            break;
        }
        frame = bigger;
        if (fread(frame, 1, caplen, in) != caplen) {
            fprintf(stderr, "labels: %s: the last record is cut short\n", argv[1]);
            status = 1;
            break;
        }
        if (dpi_meter_push(meter, link, secs * 1000000000u + (nanos ? frac : frac * 1000u), frame,
                           caplen, wirelen, on_event, &ended) != DPI_OK) {
            status = 1;
            break;
        }
    }
    dpi_meter_flush(meter, on_event, &ended);
    fprintf(stderr, "labels: %lu flow(s)\n", ended);
    dpi_meter_free(meter);
    free(frame);
    fclose(in);
    return status;
}
