// SPDX-License-Identifier: Apache-2.0
// The TEEEvidence module (placeholder until its issue lands).

enum TEEEvidenceModule {}
