// SPDX-License-Identifier: Apache-2.0
// Umbrella header for libsystemd (journal and sd_notify); imported only by SystemdSupport.
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
