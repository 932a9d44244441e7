// SPDX-License-Identifier: Apache-2.0
// The LUKSBinding module (placeholder until its issue lands).

enum LUKSBindingModule {}
