// SPDX-License-Identifier: Apache-2.0
// The Cryptsetup module (placeholder until its issue lands).

enum CryptsetupModule {}
