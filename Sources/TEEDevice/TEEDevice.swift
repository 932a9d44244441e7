// SPDX-License-Identifier: Apache-2.0
// The TEEDevice module (placeholder until its issue lands).

enum TEEDeviceModule {}
