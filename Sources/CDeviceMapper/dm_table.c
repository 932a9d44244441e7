// SPDX-License-Identifier: Apache-2.0
// DM_TABLE_STATUS for one dm-crypt mapping: what the kernel actually runs, to compare with the header.
#include "CDeviceMapper.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static void wipe(void *p, size_t n) {
    volatile unsigned char *v = p;
    while (n--) *v++ = 0;
}

// Parses "<cipher> <key> <iv_offset> <device> <offset> [<#opt> <opt>...]" into out (no key kept).
static int parse_crypt_params(char *params, struct cca_crypt_table *out) {
    char *save = NULL;
    char *cipher = strtok_r(params, " ", &save);
    char *key = strtok_r(NULL, " ", &save);
    char *iv = strtok_r(NULL, " ", &save);
    char *device = strtok_r(NULL, " ", &save);
    char *offset = strtok_r(NULL, " ", &save);
    if (!cipher || !key || !iv || !device || !offset || strlen(cipher) >= sizeof(out->cipher)) return -EINVAL;
    snprintf(out->cipher, sizeof(out->cipher), "%s", cipher);
    if (key[0] == ':') {
        out->key_bytes = (uint32_t)strtoul(key + 1, NULL, 10);  // ":<size>:<type>:<description>"
    } else {
        out->key_bytes = (uint32_t)(strlen(key) / 2);
    }
    wipe(key, strlen(key));
    out->iv_offset = strtoull(iv, NULL, 10);
    out->device_offset = strtoull(offset, NULL, 10);
    out->sector_size = 512;
    char *count = strtok_r(NULL, " ", &save);
    if (count) {
        long options = strtol(count, NULL, 10);
        for (long i = 0; i < options; i++) {
            char *option = strtok_r(NULL, " ", &save);
            if (!option) return -EINVAL;
            if (strcmp(option, "allow_discards") == 0) out->allow_discards = 1;
            if (strncmp(option, "sector_size:", 12) == 0) out->sector_size = (uint32_t)strtoul(option + 12, NULL, 10);
        }
    }
    return 0;
}

int cca_dm_crypt_table(const char *name, struct cca_crypt_table *out) {
    memset(out, 0, sizeof(*out));
    if (strlen(name) >= DM_NAME_LEN) return -ENAMETOOLONG;
    int fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
    if (fd < 0) return -errno;
    size_t size = 16384;
    struct dm_ioctl *io = calloc(1, size);
    if (!io) {
        close(fd);
        return -ENOMEM;
    }
    io->version[0] = DM_VERSION_MAJOR;
    io->version[1] = 0;
    io->version[2] = 0;
    io->data_size = (uint32_t)size;
    io->data_start = sizeof(struct dm_ioctl);
    io->flags = DM_STATUS_TABLE_FLAG | DM_SECURE_DATA_FLAG;
    snprintf(io->name, sizeof(io->name), "%s", name);
    int rc = ioctl(fd, DM_TABLE_STATUS, io) == 0 ? 0 : -errno;
    close(fd);
    if (rc == 0 && (io->flags & DM_BUFFER_FULL_FLAG)) rc = -ENOSPC;
    if (rc == 0) {
        out->target_count = io->target_count;
        if (io->target_count != 1) {
            rc = -EINVAL;
        } else {
            struct dm_target_spec *spec = (struct dm_target_spec *)((char *)io + io->data_start);
            char *params = (char *)(spec + 1);
            params[size - io->data_start - sizeof(*spec) - 1] = 0;
            out->start_sectors = spec->sector_start;
            out->length_sectors = spec->length;
            rc = strncmp(spec->target_type, "crypt", DM_MAX_TYPE_NAME) == 0 ? parse_crypt_params(params, out) : -EINVAL;
        }
    }
    wipe(io, size);
    free(io);
    return rc;
}
