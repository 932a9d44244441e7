// SPDX-License-Identifier: Apache-2.0
// Umbrella header for libcurl; imported only by the HTTPClient transport (CurlTransport.swift).
//
// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call; these typed inline
// forwarders are the only C in this module.
#include <curl/curl.h>

static inline CURLcode cca_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode cca_curl_setopt_pointer(CURL *handle, CURLoption option, const void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode cca_curl_setopt_offset(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode cca_curl_setopt_write_callback(CURL *handle, CURLoption option,
                                                      size_t (*callback)(char *, size_t, size_t, void *)) {
    return curl_easy_setopt(handle, option, callback);
}

static inline CURLcode cca_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}
