// SPDX-License-Identifier: Apache-2.0
// libcryptsetup's types and constants; imported only by the Cryptsetup module, which resolves the
// functions with dlopen/dlsym (Cryptsetup/Library.swift). The module map links nothing: a direct call
// to a crypt_* function from Swift fails to link, which keeps the one choke point.
#include <libcryptsetup.h>

// Shift macros Swift cannot import, re-exported as constants so their values come from the header.
static const uint32_t cca_activate_allow_discards = CRYPT_ACTIVATE_ALLOW_DISCARDS;
static const uint32_t cca_activate_ignore_persistent = CRYPT_ACTIVATE_IGNORE_PERSISTENT;
static const uint32_t cca_pbkdf_no_benchmark = CRYPT_PBKDF_NO_BENCHMARK;
