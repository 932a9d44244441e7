// SPDX-License-Identifier: Apache-2.0
// The EvidenceVerification module (placeholder until its issue lands).

enum EvidenceVerificationModule {}
