// SPDX-License-Identifier: Apache-2.0
// SEV-SNP guest ioctls: one function per request, each returning 0 or -errno.
#include "sev_guest_abi.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>

#if __has_include(<linux/sev-guest.h>)
#include <linux/sev-guest.h>
_Static_assert(sizeof(struct cca_snp_report_req) == sizeof(struct snp_report_req), "snp_report_req size");
_Static_assert(offsetof(struct cca_snp_report_req, vmpl) == offsetof(struct snp_report_req, vmpl), "vmpl offset");
_Static_assert(offsetof(struct cca_snp_report_req, rsvd) == offsetof(struct snp_report_req, rsvd), "rsvd offset");
_Static_assert(sizeof(struct cca_snp_report_resp) == sizeof(struct snp_report_resp), "snp_report_resp size");
_Static_assert(sizeof(struct cca_snp_derived_key_req) == sizeof(struct snp_derived_key_req), "key req size");
_Static_assert(offsetof(struct cca_snp_derived_key_req, guest_field_select) ==
                   offsetof(struct snp_derived_key_req, guest_field_select), "guest_field_select offset");
_Static_assert(offsetof(struct cca_snp_derived_key_req, vmpl) == offsetof(struct snp_derived_key_req, vmpl),
               "key vmpl offset");
_Static_assert(offsetof(struct cca_snp_derived_key_req, guest_svn) ==
                   offsetof(struct snp_derived_key_req, guest_svn), "guest_svn offset");
_Static_assert(offsetof(struct cca_snp_derived_key_req, tcb_version) ==
                   offsetof(struct snp_derived_key_req, tcb_version), "tcb_version offset");
_Static_assert(sizeof(struct cca_snp_derived_key_resp) == sizeof(struct snp_derived_key_resp), "key resp size");
_Static_assert(sizeof(struct cca_snp_ext_report_req) == sizeof(struct snp_ext_report_req), "ext req size");
_Static_assert(offsetof(struct cca_snp_ext_report_req, certs_address) ==
                   offsetof(struct snp_ext_report_req, certs_address), "certs_address offset");
_Static_assert(offsetof(struct cca_snp_ext_report_req, certs_len) ==
                   offsetof(struct snp_ext_report_req, certs_len), "certs_len offset");
_Static_assert(sizeof(struct snp_guest_request_ioctl) == 32, "snp_guest_request_ioctl size");
_Static_assert(SNP_GET_REPORT == 0xC0205300UL, "SNP_GET_REPORT");
_Static_assert(SNP_GET_DERIVED_KEY == 0xC0205301UL, "SNP_GET_DERIVED_KEY");
_Static_assert(SNP_GET_EXT_REPORT == 0xC0205302UL, "SNP_GET_EXT_REPORT");
#endif

_Static_assert(sizeof(struct cca_snp_report_req) == 96, "MSG_REPORT_REQ is 96 bytes");
_Static_assert(sizeof(struct cca_snp_derived_key_req) == 32, "MSG_KEY_REQ v1 is 32 bytes");
_Static_assert(sizeof(struct cca_snp_ext_report_req) == 112, "snp_ext_report_req is 112 bytes");

const unsigned long CCA_SNP_GET_REPORT = 0xC0205300UL;
const unsigned long CCA_SNP_GET_DERIVED_KEY = 0xC0205301UL;
const unsigned long CCA_SNP_GET_EXT_REPORT = 0xC0205302UL;
const uint32_t CCA_SNP_VMM_ERR_INVALID_LEN = 1;

/// The kernel's struct snp_guest_request_ioctl (32 bytes; msg_version then 7 bytes of padding).
struct cca_snp_guest_request_ioctl {
    uint8_t msg_version;
    uint64_t req_data;
    uint64_t resp_data;
    uint64_t exitinfo2;
};
_Static_assert(sizeof(struct cca_snp_guest_request_ioctl) == 32, "guest request ioctl is 32 bytes");
_Static_assert(offsetof(struct cca_snp_guest_request_ioctl, exitinfo2) == 24, "exitinfo2 at 24");

static int snp_request(int fd, unsigned long request, const void *req, void *resp, uint64_t *exitinfo2) {
    struct cca_snp_guest_request_ioctl guest;
    memset(&guest, 0, sizeof(guest));
    guest.msg_version = 1;
    guest.req_data = (uint64_t)(uintptr_t)req;
    guest.resp_data = (uint64_t)(uintptr_t)resp;
    int rc = ioctl(fd, request, &guest);
    if (exitinfo2) *exitinfo2 = guest.exitinfo2;
    return rc < 0 ? -errno : 0;
}

int cca_snp_get_report(int fd, const struct cca_snp_report_req *req, struct cca_snp_report_resp *resp,
                       uint64_t *exitinfo2) {
    return snp_request(fd, CCA_SNP_GET_REPORT, req, resp, exitinfo2);
}

int cca_snp_get_derived_key(int fd, const struct cca_snp_derived_key_req *req,
                            struct cca_snp_derived_key_resp *resp, uint64_t *exitinfo2) {
    return snp_request(fd, CCA_SNP_GET_DERIVED_KEY, req, resp, exitinfo2);
}

int cca_snp_get_ext_report(int fd, struct cca_snp_ext_report_req *req, struct cca_snp_report_resp *resp,
                           uint64_t *exitinfo2) {
    return snp_request(fd, CCA_SNP_GET_EXT_REPORT, req, resp, exitinfo2);
}
