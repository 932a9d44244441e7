// SPDX-License-Identifier: Apache-2.0
// The AgentCore module (placeholder until its issue lands).

enum AgentCoreModule {}
