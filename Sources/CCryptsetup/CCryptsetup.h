// SPDX-License-Identifier: Apache-2.0
// Umbrella header for libcryptsetup; imported only by the Cryptsetup module.
#include <libcryptsetup.h>

// Shift macros Swift cannot import, re-exported as constants so their values come from the header.
static const uint32_t cca_activate_allow_discards = CRYPT_ACTIVATE_ALLOW_DISCARDS;
static const uint32_t cca_activate_ignore_persistent = CRYPT_ACTIVATE_IGNORE_PERSISTENT;
static const uint32_t cca_pbkdf_no_benchmark = CRYPT_PBKDF_NO_BENCHMARK;
