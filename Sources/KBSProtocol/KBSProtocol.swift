// SPDX-License-Identifier: Apache-2.0
// The KBSProtocol module (placeholder until its issue lands).

enum KBSProtocolModule {}
