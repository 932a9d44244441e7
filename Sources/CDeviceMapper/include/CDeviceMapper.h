// SPDX-License-Identifier: Apache-2.0
// The active dm-crypt table of a mapping, read from the kernel (DM_TABLE_STATUS), not from a header.
// Imported only by the Cryptsetup module.
#ifndef CCA_DEVICE_MAPPER_H
#define CCA_DEVICE_MAPPER_H

#include <stdint.h>

/// One dm-crypt target as the kernel reports it. The key itself is never returned: the table line is
/// parsed inside the shim and its buffer wiped (with DM_SECURE_DATA_FLAG, the kernel wipes its copy).
struct cca_crypt_table {
    char cipher[128];         ///< e.g. "aes-xts-plain64" (or "capi:..." as the kernel prints it)
    uint32_t key_bytes;       ///< from ":<size>:logon:..." (keyring) or the hex key's length / 2
    uint64_t start_sectors;   ///< target start within the mapping (0 for one target)
    uint64_t length_sectors;  ///< target length
    uint64_t iv_offset;       ///< IV offset (sectors)
    uint64_t device_offset;   ///< offset on the underlying device (512-byte sectors)
    uint32_t sector_size;     ///< from the "sector_size:N" option, else 512
    uint32_t allow_discards;  ///< 1 when the "allow_discards" option is set
    uint32_t target_count;    ///< targets in the table (must be 1)
};

/// Reads the active table of mapping `name` through /dev/mapper/control. 0, or -errno (-EINVAL when
/// the table is not a single crypt target or does not parse).
int cca_dm_crypt_table(const char *name, struct cca_crypt_table *out);

#endif
