// SPDX-License-Identifier: Apache-2.0
// Umbrella header for libcryptsetup; imported only by the Cryptsetup module.
#include <libcryptsetup.h>
