// SPDX-License-Identifier: Apache-2.0
// The Broker module (placeholder until its issue lands).

enum BrokerModule {}
