// SPDX-License-Identifier: Apache-2.0
// Placeholder until this module's tests land.

import Testing
