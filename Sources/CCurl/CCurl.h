// SPDX-License-Identifier: Apache-2.0
// Umbrella header for libcurl; imported only by the KBSClient transport.
#include <curl/curl.h>
