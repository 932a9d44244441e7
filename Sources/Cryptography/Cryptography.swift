// SPDX-License-Identifier: Apache-2.0
// The Cryptography module (placeholder until its issue lands).

enum CryptographyModule {}
