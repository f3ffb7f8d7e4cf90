/*
 * What the files of iam-ffi's C test program share: the check macros and their counters, the
 * configuration every handle is opened with, small string helpers, and each file's entry points
 * (called by main in iam_test.c).
 */
#ifndef IAM_TEST_CHECK_H
#define IAM_TEST_CHECK_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "iam.h"

extern int passed;
extern int failed;

#define CHECK(cond)                                                                  \
  do {                                                                               \
    if (cond) {                                                                      \
      passed++;                                                                      \
    } else {                                                                         \
      failed++;                                                                      \
      fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n", __FILE__,       \
              __LINE__, #cond, iam_last_error());                                    \
    }                                                                                \
  } while (0)

#define CHECK_STATUS(call, expected)                                                 \
  do {                                                                               \
    iam_status got_ = (call);                                                        \
    if (got_ == (expected)) {                                                        \
      passed++;                                                                      \
    } else {                                                                         \
      failed++;                                                                      \
      fprintf(stderr, "%s:%d: %s returned %s, expected %s (last error: %s)\n",       \
              __FILE__, __LINE__, #call, iam_status_name(got_),                      \
              iam_status_name(expected), iam_last_error());                          \
    }                                                                                \
  } while (0)

/* The configuration of the handles (issuer and audience "c-test"; cheap password hashing). */
extern const char *const CONFIG;

static inline int str_eq(const char *a, const char *b) {
  return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static inline int contains(const char *haystack, const char *needle) {
  return haystack != NULL && strstr(haystack, needle) != NULL;
}

/* How often `needle` occurs in `haystack` (0 for NULL). */
static inline size_t occurrences(const char *haystack, const char *needle) {
  size_t n = 0;
  for (const char *at = haystack; at != NULL && (at = strstr(at, needle)) != NULL; at++) n++;
  return n;
}

/* admin_test.c: the functions of an admin tool, on a handle whose database may hold other
 * accounts already. */
void run_admin(iam_t *iam);
/* admin_test.c: deletion carried out by the sweeper, on a handle of its own. */
void run_deletion(void);
/* admin_test.c: NULL pointers and invalid UTF-8 for the admin functions. */
void run_admin_misuse(void);
/* passkey_test.c: the passkeys configuration, the starts of the ceremonies, and the refusals. */
void run_passkeys(void);
/* resource_server_test.c: OAuth tokens of the OpenID Connect database, as a resource server
 * sees them. */
void run_resource_server(const char *db, const char *client_id, const char *client_secret,
                         const char *jwt_access_token, const char *cc_token,
                         const char *cc_resource);

#endif
