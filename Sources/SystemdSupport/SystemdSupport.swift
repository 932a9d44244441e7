// SPDX-License-Identifier: Apache-2.0
// The SystemdSupport module (placeholder until its issue lands).

enum SystemdSupportModule {}
