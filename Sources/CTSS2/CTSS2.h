// SPDX-License-Identifier: Apache-2.0
// tpm2-tss headers (Debian 12: libtss2-dev), imported by the VTPM module only, for types: nothing links them.
#ifndef CTSS2_H
#define CTSS2_H
#include <tss2/tss2_common.h>
#include <tss2/tss2_tpm2_types.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>
#include <tss2/tss2_mu.h>
#endif
