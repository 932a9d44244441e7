// SPDX-License-Identifier: Apache-2.0
// The TDX guest ioctl TDX_CMD_GET_REPORT0, returning 0 or -errno.
#include "tdx_guest_abi.h"

#include <errno.h>
#include <sys/ioctl.h>

_Static_assert(sizeof(struct cca_tdx_report_req) == 1088, "tdx_report_req is 1088 bytes");

const unsigned long CCA_TDX_CMD_GET_REPORT0 = 0xC4405401UL;

int cca_tdx_get_report0(int fd, struct cca_tdx_report_req *req) {
    return ioctl(fd, CCA_TDX_CMD_GET_REPORT0, req) < 0 ? -errno : 0;
}
