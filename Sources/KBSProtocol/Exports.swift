// SPDX-License-Identifier: Apache-2.0
// KBSProtocol re-exports the JSON value type its messages are made of.

@_exported import CanonicalJSON
