// SPDX-License-Identifier: Apache-2.0
// The KBSClient module (placeholder until its issue lands).

enum KBSClientModule {}
