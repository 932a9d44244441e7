// SPDX-License-Identifier: Apache-2.0
// libsystemd's declarations (journal and sd_notify); imported only by SystemdSupport, which resolves the
// two functions it calls with dlopen/dlsym (SystemdLibrary.swift). The module map links nothing.
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
