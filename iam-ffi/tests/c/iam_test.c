/*
 * The C side of iam-ffi's tests: compiled with gcc against include/iam.h and the cdylib, and
 * run (also under valgrind) by tests/c_api.rs. Usage: iam_test SQLITE_PATH
 * Runs the whole cycle on the in-memory store and on SQLite, then the misuse cases.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iam.h"

static int passed = 0;
static int failed = 0;

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

static const char *CONFIG =
    "{\"master_key\": \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\","
    " \"issuer\": \"c-test\", \"audience\": \"c-test\","
    " \"password\": {\"memory_kib\": 64, \"iterations\": 1},"
    " \"worker_threads\": 2}";

static int str_eq(const char *a, const char *b) {
  return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Several threads verify and log in on one handle at once. */
struct worker {
  const iam_t *iam;
  const char *access_token;
  int failures;
};

static void *verify_worker(void *arg) {
  struct worker *w = arg;
  for (int i = 0; i < 20; i++) {
    iam_principal_t *p = NULL;
    if (iam_verify(w->iam, w->access_token, &p) != IAM_STATUS_OK) w->failures++;
    iam_principal_free(&p);
  }
  iam_tokens_t *t = NULL;
  if (iam_login(w->iam, "alice", "correct horse battery", NULL, &t) != IAM_STATUS_OK)
    w->failures++;
  iam_tokens_free(&t);
  return NULL;
}

static void run_cycle(iam_t *iam) {
  const char *admin_roles[] = {"admin"};
  char *alice = NULL;
  CHECK_STATUS(iam_create_account(iam, "alice", "correct horse battery", admin_roles, 1, NULL,
                                  &alice),
               IAM_STATUS_OK);
  CHECK(alice != NULL && strncmp(alice, "acc_", 4) == 0);

  char *bob = NULL;
  CHECK_STATUS(iam_create_account(iam, "bob", "bob's long password", NULL, 0, alice, &bob),
               IAM_STATUS_OK);
  char *again = NULL;
  CHECK_STATUS(iam_create_account(iam, "bob", "another password", NULL, 0, NULL, &again),
               IAM_STATUS_USERNAME_TAKEN);
  CHECK(again == NULL);
  CHECK(strlen(iam_last_error()) > 0);
  CHECK_STATUS(iam_create_account(iam, "Bad Name!", "whatever password", NULL, 0, NULL, &again),
               IAM_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(iam_create_account(iam, "carol", "short", NULL, 0, NULL, &again),
               IAM_STATUS_INVALID_ARGUMENT);

  char *found = NULL;
  CHECK_STATUS(iam_find_account(iam, "alice", &found), IAM_STATUS_OK);
  CHECK(str_eq(found, alice));
  iam_string_free(&found);
  CHECK(found == NULL);
  CHECK_STATUS(iam_find_account(iam, "nobody", &found), IAM_STATUS_NOT_FOUND);
  CHECK(found == NULL);

  /* Login: a wrong password says nothing about which part was wrong. */
  iam_tokens_t *tokens = NULL;
  CHECK_STATUS(iam_login(iam, "alice", "wrong password!", NULL, &tokens),
               IAM_STATUS_BAD_CREDENTIALS);
  CHECK(tokens == NULL);
  CHECK(str_eq(iam_last_error(), "denied: invalid credentials"));
  CHECK_STATUS(iam_login(iam, "nobody", "wrong password!", NULL, &tokens),
               IAM_STATUS_BAD_CREDENTIALS);
  CHECK_STATUS(iam_login(iam, "alice", "correct horse battery", NULL, &tokens), IAM_STATUS_OK);
  CHECK(strlen(iam_last_error()) == 0);
  CHECK(tokens != NULL);
  CHECK(strncmp(iam_tokens_access_token(tokens), "v4.public.", 10) == 0);
  CHECK(strlen(iam_tokens_refresh_token(tokens)) > 20);
  CHECK(iam_tokens_expires_in(tokens) > 0);

  /* Verify: the principal's fields. */
  iam_principal_t *who = NULL;
  CHECK_STATUS(iam_verify(iam, iam_tokens_access_token(tokens), &who), IAM_STATUS_OK);
  CHECK(str_eq(iam_principal_account_id(who), alice));
  CHECK(str_eq(iam_principal_session_id(who), iam_tokens_session_id(tokens)));
  CHECK(iam_principal_token_id(who) != NULL);
  CHECK(iam_principal_kind(who) == IAM_ACCOUNT_KIND_HUMAN);
  CHECK(iam_principal_roles_len(who) == 1);
  CHECK(str_eq(iam_principal_role(who, 0), "admin"));
  CHECK(iam_principal_role(who, 1) == NULL);
  CHECK(iam_principal_has_role(who, "admin"));
  CHECK(!iam_principal_has_role(who, "root"));
  CHECK(iam_principal_amr_len(who) >= 1);
  CHECK(str_eq(iam_principal_amr(who, 0), "pwd"));
  CHECK(iam_principal_expires_at(who) > iam_principal_issued_at(who));
  CHECK(iam_principal_auth_time(who) > 0);
  iam_principal_free(&who);
  CHECK(who == NULL);
  iam_principal_free(&who); /* a second free through the same variable is harmless */

  CHECK_STATUS(iam_verify(iam, "v4.public.garbage", &who), IAM_STATUS_TOKEN_INVALID);
  CHECK(who == NULL);

  /* Several threads at once on one handle. */
  struct worker workers[4];
  pthread_t threads[4];
  for (int i = 0; i < 4; i++) {
    workers[i].iam = iam;
    workers[i].access_token = iam_tokens_access_token(tokens);
    workers[i].failures = 0;
    CHECK(pthread_create(&threads[i], NULL, verify_worker, &workers[i]) == 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(threads[i], NULL);
    CHECK(workers[i].failures == 0);
  }

  /* Refresh rotates; presenting the old refresh token again revokes the session. */
  iam_tokens_t *next = NULL;
  CHECK_STATUS(iam_refresh(iam, iam_tokens_refresh_token(tokens), &next), IAM_STATUS_OK);
  CHECK(!str_eq(iam_tokens_refresh_token(next), iam_tokens_refresh_token(tokens)));
  CHECK(str_eq(iam_tokens_session_id(next), iam_tokens_session_id(tokens)));
  CHECK_STATUS(iam_verify(iam, iam_tokens_access_token(next), &who), IAM_STATUS_OK);
  iam_principal_free(&who);
  iam_tokens_t *reused = NULL;
  CHECK_STATUS(iam_refresh(iam, iam_tokens_refresh_token(tokens), &reused),
               IAM_STATUS_REFRESH_TOKEN_REUSED);
  CHECK(reused == NULL);
  CHECK_STATUS(iam_verify(iam, iam_tokens_access_token(next), &who), IAM_STATUS_REVOKED);
  CHECK_STATUS(iam_refresh(iam, "not-a-refresh-token", &reused),
               IAM_STATUS_REFRESH_TOKEN_INVALID);
  iam_tokens_free(&next);
  iam_tokens_free(&tokens);
  CHECK(tokens == NULL);
  iam_tokens_free(&tokens);

  /* Revoke a session; its tokens stop working at once (use after revoke). */
  CHECK_STATUS(iam_login(iam, "alice", "correct horse battery", NULL, &tokens), IAM_STATUS_OK);
  CHECK_STATUS(iam_verify(iam, iam_tokens_access_token(tokens), &who), IAM_STATUS_OK);
  iam_principal_free(&who);
  CHECK_STATUS(iam_revoke_session(iam, iam_tokens_session_id(tokens), alice), IAM_STATUS_OK);
  CHECK_STATUS(iam_verify(iam, iam_tokens_access_token(tokens), &who), IAM_STATUS_REVOKED);
  CHECK(who == NULL);
  CHECK(iam_refresh(iam, iam_tokens_refresh_token(tokens), &next) != IAM_STATUS_OK);
  CHECK(next == NULL);
  CHECK_STATUS(iam_revoke_session(iam, iam_tokens_session_id(tokens), NULL), IAM_STATUS_OK);
  CHECK_STATUS(iam_revoke_session(iam, "ses_unknown", NULL), IAM_STATUS_NOT_FOUND);
  iam_tokens_free(&tokens);

  /* Passwords. */
  CHECK_STATUS(iam_set_password(iam, bob, "bob's new password", alice), IAM_STATUS_OK);
  CHECK_STATUS(iam_login(iam, "bob", "bob's long password", NULL, &tokens),
               IAM_STATUS_BAD_CREDENTIALS);
  CHECK_STATUS(iam_login(iam, "bob", "bob's new password", NULL, &tokens), IAM_STATUS_OK);
  iam_tokens_t *bob_tokens = tokens;
  tokens = NULL;

  /* TOTP enrolment (confirmation with a real code is covered by the Python tests). */
  char *secret = NULL;
  char *uri = NULL;
  CHECK_STATUS(iam_enrol_totp(iam, bob, bob, &secret, &uri), IAM_STATUS_OK);
  CHECK(secret != NULL && strlen(secret) == 32);
  CHECK(uri != NULL && strncmp(uri, "otpauth://totp/", 15) == 0);
  iam_string_free(&secret);
  iam_string_free(&uri);
  iam_string_free(&uri);
  CHECK(secret == NULL && uri == NULL);
  CHECK_STATUS(iam_confirm_totp(iam, bob, "12ab", NULL), IAM_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(iam_confirm_totp(iam, alice, "123456", NULL), IAM_STATUS_INVALID_STATE);

  /* Service accounts: one live token, database credentials. */
  char *billing = NULL;
  CHECK_STATUS(iam_create_account(iam, "billing", NULL, NULL, 0, alice, &billing),
               IAM_STATUS_OK);
  CHECK_STATUS(iam_login(iam, "alice", "correct horse battery", NULL, &tokens), IAM_STATUS_OK);
  const char *admin_token = iam_tokens_access_token(tokens);
  char *service_token = NULL;
  int64_t expires_at = 0;
  CHECK_STATUS(
      iam_issue_service_token(iam, admin_token, billing, &service_token, &expires_at),
      IAM_STATUS_OK);
  CHECK(expires_at > 0);
  CHECK_STATUS(iam_verify(iam, service_token, &who), IAM_STATUS_OK);
  CHECK(iam_principal_kind(who) == IAM_ACCOUNT_KIND_SYSTEM);
  CHECK(str_eq(iam_principal_account_id(who), billing));
  iam_principal_free(&who);
  CHECK_STATUS(iam_issue_service_token(iam, iam_tokens_access_token(bob_tokens), billing,
                                       &secret, NULL),
               IAM_STATUS_NOT_PERMITTED);
  CHECK(secret == NULL);

  CHECK_STATUS(iam_store_db_credentials(iam, admin_token, billing, "db.internal", 5432,
                                        "billing", "billing_rw", "s3cret-db-pass"),
               IAM_STATUS_OK);
  iam_db_credentials_t *creds = NULL;
  CHECK_STATUS(iam_fetch_db_credentials(iam, service_token, billing, &creds), IAM_STATUS_OK);
  CHECK(str_eq(iam_db_credentials_host(creds), "db.internal"));
  CHECK(iam_db_credentials_port(creds) == 5432);
  CHECK(str_eq(iam_db_credentials_database(creds), "billing"));
  CHECK(str_eq(iam_db_credentials_user(creds), "billing_rw"));
  CHECK(str_eq(iam_db_credentials_password(creds), "s3cret-db-pass"));
  iam_db_credentials_free(&creds);
  CHECK(creds == NULL);
  iam_db_credentials_free(&creds);
  CHECK_STATUS(iam_fetch_db_credentials(iam, iam_tokens_access_token(bob_tokens), billing, &creds),
               IAM_STATUS_NOT_PERMITTED);
  CHECK(creds == NULL);

  CHECK_STATUS(iam_revoke_service_token(iam, admin_token, billing), IAM_STATUS_OK);
  CHECK_STATUS(iam_verify(iam, service_token, &who), IAM_STATUS_REVOKED);
  CHECK_STATUS(iam_fetch_db_credentials(iam, service_token, billing, &creds), IAM_STATUS_REVOKED);
  iam_string_free(&service_token);

  /* The audit chain holds every event above and verifies. */
  uint64_t events = 0;
  CHECK_STATUS(iam_verify_audit_chain(iam, &events), IAM_STATUS_OK);
  CHECK(events > 10);

  iam_tokens_free(&tokens);
  iam_tokens_free(&bob_tokens);
  iam_string_free(&billing);
  iam_string_free(&bob);
  iam_string_free(&alice);
}

static void run_misuse(void) {
  iam_t *iam = NULL;
  /* NULL pointers are a status, never a crash. */
  CHECK_STATUS(iam_open_memory(NULL, &iam), IAM_STATUS_NULL_PARAMETER);
  CHECK(strstr(iam_last_error(), "config_json") != NULL);
  CHECK_STATUS(iam_open_memory(CONFIG, NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_open_memory("{\"master_key\": \"short\"}", &iam), IAM_STATUS_INVALID_CONFIG);
  CHECK_STATUS(iam_open_memory("not json", &iam), IAM_STATUS_INVALID_CONFIG);
  CHECK_STATUS(iam_open_memory("{\"master_key\": \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\","
                               " \"unknown_field\": 1}",
                               &iam),
               IAM_STATUS_INVALID_CONFIG);
  CHECK(iam == NULL);
  /* Invalid UTF-8 is a status too. */
  CHECK_STATUS(iam_open_memory("{\"master_key\": \"\xff\xfe\"}", &iam), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_open_sqlite("/nonexistent-dir/x/iam.db", CONFIG, &iam), IAM_STATUS_STORE);
  CHECK(iam == NULL);

  CHECK_STATUS(iam_open_memory(CONFIG, &iam), IAM_STATUS_OK);
  char *id = NULL;
  iam_tokens_t *tokens = NULL;
  iam_principal_t *who = NULL;
  uint64_t n = 0;
  CHECK_STATUS(iam_create_account(NULL, "dave", "dave's password", NULL, 0, NULL, &id),
               IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_create_account(iam, NULL, "dave's password", NULL, 0, NULL, &id),
               IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_create_account(iam, "dave", "dave's password", NULL, 0, NULL, NULL),
               IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_create_account(iam, "dave", "dave's password", NULL, 2, NULL, &id),
               IAM_STATUS_NULL_PARAMETER);
  const char *bad_roles[] = {"ok", NULL};
  CHECK_STATUS(iam_create_account(iam, "dave", "dave's password", bad_roles, 2, NULL, &id),
               IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_create_account(iam, "d\xc3\x28ve", "dave's password", NULL, 0, NULL, &id),
               IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_create_account(iam, "dave", "pass\xffword!", NULL, 0, NULL, &id),
               IAM_STATUS_INVALID_UTF8);
  CHECK(id == NULL);
  CHECK_STATUS(iam_login(iam, NULL, "x", NULL, &tokens), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_login(iam, "dave", "x", NULL, NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_login(iam, "dave", "\xff", NULL, &tokens), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_verify(iam, NULL, &who), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_verify(iam, "\xff\xff", &who), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_refresh(iam, NULL, &tokens), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_revoke_session(NULL, "ses_x", NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_verify_audit_chain(iam, NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_verify_audit_chain(NULL, &n), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_enrol_totp(iam, "acc_x", NULL, NULL, NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_fetch_db_credentials(iam, NULL, "acc_x", NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK(tokens == NULL && who == NULL);

  /* Getters and free functions accept NULL. */
  CHECK(iam_tokens_access_token(NULL) == NULL);
  CHECK(iam_tokens_expires_in(NULL) == 0);
  CHECK(iam_principal_account_id(NULL) == NULL);
  CHECK(iam_principal_kind(NULL) == IAM_ACCOUNT_KIND_UNKNOWN);
  CHECK(iam_principal_roles_len(NULL) == 0);
  CHECK(!iam_principal_has_role(NULL, "admin"));
  CHECK(iam_db_credentials_password(NULL) == NULL);
  iam_tokens_free(NULL);
  iam_principal_free(NULL);
  iam_db_credentials_free(NULL);
  iam_string_free(NULL);
  iam_free(NULL);

  /* Status names. */
  CHECK(str_eq(iam_status_name(IAM_STATUS_OK), "IAM_STATUS_OK"));
  CHECK(str_eq(iam_status_name(IAM_STATUS_REVOKED), "IAM_STATUS_REVOKED"));
  CHECK(str_eq(iam_status_name(12345), "IAM_STATUS_UNKNOWN"));
  CHECK(strlen(iam_version()) > 0);

  /* Freeing the handle twice through the same variable is harmless. */
  iam_free(&iam);
  CHECK(iam == NULL);
  iam_free(&iam);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s SQLITE_PATH\n", argv[0]);
    return 2;
  }
  iam_t *iam = NULL;
  CHECK_STATUS(iam_open_memory(CONFIG, &iam), IAM_STATUS_OK);
  if (iam != NULL) run_cycle(iam);
  iam_free(&iam);

  CHECK_STATUS(iam_open_sqlite(argv[1], CONFIG, &iam), IAM_STATUS_OK);
  if (iam != NULL) run_cycle(iam);
  iam_free(&iam);

  /* The SQLite database keeps its state across handles. */
  CHECK_STATUS(iam_open_sqlite(argv[1], CONFIG, &iam), IAM_STATUS_OK);
  iam_tokens_t *tokens = NULL;
  CHECK_STATUS(iam_login(iam, "alice", "correct horse battery", NULL, &tokens), IAM_STATUS_OK);
  iam_tokens_free(&tokens);
  iam_free(&iam);

  run_misuse();

  printf("C API: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
