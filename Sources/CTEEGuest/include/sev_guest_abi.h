// SPDX-License-Identifier: Apache-2.0
// The /dev/sev-guest ABI (Linux UAPI <linux/sev-guest.h>), redeclared with fixed names and checked
// against the kernel header by _Static_assert in sev_guest.c.
#ifndef CCA_SEV_GUEST_ABI_H
#define CCA_SEV_GUEST_ABI_H
#include <stdint.h>

/// MSG_REPORT_REQ (96 bytes): user_data @0, vmpl @0x40, rsvd (KEY_SEL in bits 1:0 of @0x44) @0x44.
struct cca_snp_report_req {
    uint8_t user_data[64];
    uint32_t vmpl;
    uint8_t rsvd[28];
};

/// The response buffer: MSG_REPORT_RSP (status @0, report_size @4, report @0x20).
struct cca_snp_report_resp {
    uint8_t data[4000];
};

/// MSG_KEY_REQ v1 (32 bytes).
struct cca_snp_derived_key_req {
    uint32_t root_key_select;
    uint32_t rsvd;
    uint64_t guest_field_select;
    uint32_t vmpl;
    uint32_t guest_svn;
    uint64_t tcb_version;
};

/// MSG_KEY_RSP (status @0, key @0x20).
struct cca_snp_derived_key_resp {
    uint8_t data[64];
};

/// SNP_GET_EXT_REPORT request (112 bytes with tail padding).
struct cca_snp_ext_report_req {
    struct cca_snp_report_req data;
    uint64_t certs_address;
    uint32_t certs_len;
};

/// Request numbers. `_IOWR('S', nr, struct snp_guest_request_ioctl /* 32 B */)`:
/// dir 3 << 30 | size 32 << 16 | 'S' (0x53) << 8 | nr.
extern const unsigned long CCA_SNP_GET_REPORT;       // _IOWR('S', 0, 32 B) = 0xC0205300
extern const unsigned long CCA_SNP_GET_DERIVED_KEY;  // _IOWR('S', 1, 32 B) = 0xC0205301
extern const unsigned long CCA_SNP_GET_EXT_REPORT;   // _IOWR('S', 2, 32 B) = 0xC0205302

/// The kernel's "certificate buffer too small" host error (vmm_error 1 = SNP_GUEST_VMM_ERR_INVALID_LEN).
extern const uint32_t CCA_SNP_VMM_ERR_INVALID_LEN;

/// SNP_GET_REPORT. Returns 0 or -errno; `*exitinfo2` = (vmm_error << 32) | fw_error as the kernel left it.
int cca_snp_get_report(int fd, const struct cca_snp_report_req *req, struct cca_snp_report_resp *resp,
                       uint64_t *exitinfo2);

/// SNP_GET_DERIVED_KEY. Returns 0 or -errno; `*exitinfo2` as above.
int cca_snp_get_derived_key(int fd, const struct cca_snp_derived_key_req *req,
                            struct cca_snp_derived_key_resp *resp, uint64_t *exitinfo2);

/// SNP_GET_EXT_REPORT. `req->certs_address` points at a page-aligned buffer of `req->certs_len` bytes;
/// on -EIO with vmm_error INVALID_LEN the kernel wrote the needed size into `req->certs_len`.
int cca_snp_get_ext_report(int fd, struct cca_snp_ext_report_req *req, struct cca_snp_report_resp *resp,
                           uint64_t *exitinfo2);

#endif
