/*
 * The C side of iam-ffi's tests: compiled with gcc against include/iam.h and the cdylib, and
 * run (also under valgrind) by tests/c_api.rs.
 * Usage: iam_test SQLITE_PATH OIDC_SQLITE_PATH CLIENT_ID ID_TOKEN JWT_ACCESS_TOKEN
 *                 CLIENT_SECRET CC_TOKEN CC_RESOURCE
 * Runs the whole cycle and the admin functions (admin_test.c) on the in-memory store and on
 * SQLite, verifies the tokens of an OpenID Connect sign-in made in OIDC_SQLITE_PATH (an ID
 * token and an RFC 9068 JWT access token of CLIENT_ID, and a client-credentials token bound to
 * CC_RESOURCE; resource_server_test.c), then the misuse cases.
 */
#define _POSIX_C_SOURCE 200809L /* sleep() */

#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

int passed = 0;
int failed = 0;

const char *const CONFIG =
    "{\"master_key\": \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\","
    " \"issuer\": \"c-test\", \"audience\": \"c-test\","
    " \"password\": {\"memory_kib\": 64, \"iterations\": 1},"
    " \"worker_threads\": 2,"
    " \"elevation\": {\"breakglass\": {\"step_up\": \"none\", \"approver_role\": \"admin\","
    " \"max_duration_secs\": 600}}}";

/* Who asks, through `actor_token`: a user's access token is authorized like any other caller
 * (the refusal names its reason), an admin's may act, and a service token is the wrong kind of
 * token for self-service that needs a login session. NULL is the embedding application. */
static void run_actor_tokens(iam_t *iam, const char *alice, const char *billing,
                             const char *admin_token, const char *bob_token,
                             const char *service_token) {
  const char *admin_roles[] = {"admin"};
  char *id = NULL;
  /* bob holds no admin role: creating accounts or setting others' passwords is refused. */
  CHECK_STATUS(iam_create_account(iam, "mallory", "mallory's password", admin_roles, 1,
                                  bob_token, &id),
               IAM_STATUS_NOT_PERMITTED);
  CHECK(id == NULL);
  CHECK(strstr(iam_last_error(), "\"admin\" is required") != NULL);
  CHECK_STATUS(iam_find_account(iam, "mallory", &id), IAM_STATUS_NOT_FOUND);
  CHECK_STATUS(iam_set_password(iam, alice, "bob chose this one", bob_token),
               IAM_STATUS_NOT_PERMITTED);
  /* A forged or garbage actor token is refused before anything is decided. */
  CHECK_STATUS(iam_create_account(iam, "mallory", "mallory's password", NULL, 0,
                                  "v4.public.garbage", &id),
               IAM_STATUS_TOKEN_INVALID);
  /* The admin's token may. */
  CHECK_STATUS(iam_create_account(iam, "dave", "dave's long password", NULL, 0, admin_token, &id),
               IAM_STATUS_OK);
  CHECK(id != NULL && strncmp(id, "acc_", 4) == 0);
  iam_string_free(&id);
  /* TOTP enrolment needs a login session, even the service account's own. */
  char *secret = NULL;
  char *uri = NULL;
  CHECK_STATUS(iam_enrol_totp(iam, billing, service_token, &secret, &uri),
               IAM_STATUS_WRONG_TOKEN_KIND);
  CHECK(secret == NULL && uri == NULL);
  /* alice's password is unchanged by the refused call above. */
  iam_tokens_t *tokens = NULL;
  CHECK_STATUS(iam_login(iam, "alice", "correct horse battery", NULL, &tokens), IAM_STATUS_OK);
  iam_tokens_free(&tokens);
}

/* Sensitive self-service (an API token carrying roles) needs a sign-in within
 * `recent_authentication_secs`; a session older than that is refused with its own status. */
static void run_recent_authentication(void) {
  iam_t *iam = NULL;
  CHECK_STATUS(iam_open_memory("{\"master_key\": \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\","
                               " \"recent_authentication_secs\": 0}",
                               &iam),
               IAM_STATUS_INVALID_CONFIG);
  CHECK(strstr(iam_last_error(), "recent_authentication_secs") != NULL);
  CHECK_STATUS(iam_open_memory("{\"master_key\": \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\","
                               " \"password\": {\"memory_kib\": 64, \"iterations\": 1},"
                               " \"recent_authentication_secs\": 1,"
                               " \"api_tokens_survive_password_reset\": true}",
                               &iam),
               IAM_STATUS_OK);
  if (iam == NULL) return;
  const char *roles[] = {"admin"};
  char *erin = NULL;
  CHECK_STATUS(iam_create_account(iam, "erin", "erin's long password", roles, 1, NULL, &erin),
               IAM_STATUS_OK);
  iam_tokens_t *tokens = NULL;
  CHECK_STATUS(iam_login(iam, "erin", "erin's long password", NULL, &tokens), IAM_STATUS_OK);
  sleep(2);
  char *secret = NULL;
  char *token_id = NULL;
  int64_t in_an_hour = (int64_t)time(NULL) + 3600;
  CHECK_STATUS(iam_create_api_token(iam, iam_tokens_access_token(tokens), "deploys", roles, 1,
                                    in_an_hour, &secret, &token_id),
               IAM_STATUS_RECENT_AUTHENTICATION_REQUIRED);
  CHECK(secret == NULL && token_id == NULL);
  CHECK(strstr(iam_last_error(), "within 1 s") != NULL);
  CHECK(str_eq(iam_status_name(IAM_STATUS_RECENT_AUTHENTICATION_REQUIRED),
               "IAM_STATUS_RECENT_AUTHENTICATION_REQUIRED"));
  /* A token carrying no role needs a session, not a recent one. */
  CHECK_STATUS(iam_create_api_token(iam, iam_tokens_access_token(tokens), "read-only", NULL, 0,
                                    in_an_hour, &secret, &token_id),
               IAM_STATUS_OK);
  iam_string_free(&secret);
  iam_string_free(&token_id);
  iam_tokens_free(&tokens);
  iam_string_free(&erin);
  iam_free(&iam);
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

/* Elevation: "ops" opens with bob's password; "breakglass" (see CONFIG) needs an admin's
 * approval. Ending the elevation revokes the session's tokens, the elevated one included. */
static void run_elevation(iam_t *iam, const char *alice, const char *bob, const char *admin_token,
                          const iam_tokens_t *bob_tokens) {
  CHECK_STATUS(iam_grant_elevatable_role(iam, bob, "ops", NULL), IAM_STATUS_OK);
  CHECK_STATUS(iam_grant_elevatable_role(iam, bob, "ops", NULL), IAM_STATUS_OK); /* idempotent */
  CHECK_STATUS(iam_grant_elevatable_role(iam, bob, "Not A Role", NULL),
               IAM_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(iam_grant_elevatable_role(iam, "acc_unknown", "ops", NULL), IAM_STATUS_NOT_FOUND);

  const char *bob_access = iam_tokens_access_token(bob_tokens);
  iam_elevation_t *elev = NULL;
  iam_principal_t *who = NULL;
  CHECK_STATUS(iam_elevate(iam, bob_access, "ops", 0, NULL, NULL, &elev),
               IAM_STATUS_STEP_UP_REQUIRED);
  CHECK(elev == NULL);
  CHECK_STATUS(iam_elevate(iam, bob_access, "ops", 0, "wrong password!", NULL, &elev),
               IAM_STATUS_BAD_CREDENTIALS);
  CHECK(elev == NULL);
  CHECK_STATUS(iam_elevate(iam, bob_access, "root", 0, "bob's new password", NULL, &elev),
               IAM_STATUS_ELEVATION_NOT_ALLOWED);
  CHECK_STATUS(iam_elevate(iam, bob_access, "ops", 100000, "bob's new password", NULL, &elev),
               IAM_STATUS_INVALID_ARGUMENT);
  CHECK(elev == NULL);

  CHECK_STATUS(iam_elevate(iam, bob_access, "ops", 600, "bob's new password", NULL, &elev),
               IAM_STATUS_OK);
  CHECK(elev != NULL);
  CHECK(!iam_elevation_is_pending(elev));
  CHECK(str_eq(iam_elevation_role(elev), "ops"));
  CHECK(iam_elevation_request_id(elev) == NULL);
  CHECK(iam_elevation_request_expires_at(elev) == 0);
  CHECK(iam_elevation_since(elev) > 0);
  CHECK(iam_elevation_until(elev) - iam_elevation_since(elev) == 600);
  const char *elevated = iam_elevation_access_token(elev);
  CHECK(elevated != NULL && strncmp(elevated, "v4.public.", 10) == 0);

  /* The elevated token carries the role; the session's earlier token does not. */
  CHECK_STATUS(iam_verify(iam, elevated, &who), IAM_STATUS_OK);
  CHECK(iam_principal_has_role(who, "ops"));
  CHECK(str_eq(iam_principal_account_id(who), bob));
  CHECK(str_eq(iam_principal_session_id(who), iam_tokens_session_id(bob_tokens)));
  CHECK(iam_principal_expires_at(who) <= iam_elevation_until(elev));
  iam_principal_free(&who);
  CHECK_STATUS(iam_verify(iam, bob_access, &who), IAM_STATUS_OK);
  CHECK(!iam_principal_has_role(who, "ops"));
  iam_principal_free(&who);

  /* Ending it: the old elevated token is refused at once. */
  CHECK_STATUS(iam_end_elevation(iam, elevated, "ops"), IAM_STATUS_OK);
  CHECK_STATUS(iam_verify(iam, elevated, &who), IAM_STATUS_REVOKED);
  CHECK(who == NULL);
  CHECK_STATUS(iam_end_elevation(iam, elevated, "ops"), IAM_STATUS_REVOKED);
  iam_elevation_free(&elev);
  CHECK(elev == NULL);
  iam_elevation_free(&elev);

  /* Approval: bob asks, a non-admin cannot approve, alice approves once. */
  CHECK_STATUS(iam_grant_elevatable_role(iam, bob, "breakglass", NULL), IAM_STATUS_OK);
  iam_tokens_t *bob2 = NULL;
  CHECK_STATUS(iam_login(iam, "bob", "bob's new password", NULL, &bob2), IAM_STATUS_OK);
  CHECK_STATUS(iam_elevate(iam, iam_tokens_access_token(bob2), "breakglass", 0, NULL, NULL, &elev),
               IAM_STATUS_OK);
  CHECK(iam_elevation_is_pending(elev));
  CHECK(iam_elevation_access_token(elev) == NULL);
  CHECK(iam_elevation_until(elev) == 0);
  CHECK(iam_elevation_request_expires_at(elev) > 0);
  const char *request = iam_elevation_request_id(elev);
  CHECK(request != NULL && strncmp(request, "elr_", 4) == 0);
  int64_t until = -1;
  CHECK_STATUS(iam_approve_elevation(iam, iam_tokens_access_token(bob2), request, &until),
               IAM_STATUS_SELF_APPROVAL);
  CHECK(until == 0);
  CHECK_STATUS(iam_approve_elevation(iam, admin_token, request, &until), IAM_STATUS_OK);
  CHECK(until > 0);
  CHECK_STATUS(iam_approve_elevation(iam, admin_token, request, NULL),
               IAM_STATUS_ELEVATION_REQUEST_CLOSED);
  CHECK_STATUS(iam_deny_elevation(iam, admin_token, request), IAM_STATUS_ELEVATION_REQUEST_CLOSED);
  CHECK_STATUS(iam_approve_elevation(iam, admin_token, "elr_unknown", NULL),
               IAM_STATUS_ELEVATION_REQUEST_CLOSED);
  iam_elevation_free(&elev);
  /* The approved role arrives with the session's next refresh. */
  iam_tokens_t *bob3 = NULL;
  CHECK_STATUS(iam_refresh(iam, iam_tokens_refresh_token(bob2), &bob3), IAM_STATUS_OK);
  CHECK_STATUS(iam_verify(iam, iam_tokens_access_token(bob3), &who), IAM_STATUS_OK);
  CHECK(iam_principal_has_role(who, "breakglass"));
  iam_principal_free(&who);

  /* A denied request is closed; nobody approves their own. */
  CHECK_STATUS(iam_elevate(iam, iam_tokens_access_token(bob3), "breakglass", 60, NULL, NULL, &elev),
               IAM_STATUS_OK);
  CHECK(iam_elevation_is_pending(elev));
  CHECK_STATUS(iam_deny_elevation(iam, admin_token, iam_elevation_request_id(elev)),
               IAM_STATUS_OK);
  CHECK_STATUS(iam_approve_elevation(iam, admin_token, iam_elevation_request_id(elev), NULL),
               IAM_STATUS_ELEVATION_REQUEST_CLOSED);
  iam_elevation_free(&elev);
  CHECK_STATUS(iam_grant_elevatable_role(iam, alice, "breakglass", NULL), IAM_STATUS_OK);
  CHECK_STATUS(iam_elevate(iam, admin_token, "breakglass", 0, NULL, NULL, &elev), IAM_STATUS_OK);
  CHECK_STATUS(iam_approve_elevation(iam, admin_token, iam_elevation_request_id(elev), NULL),
               IAM_STATUS_SELF_APPROVAL);
  iam_elevation_free(&elev);

  /* Taking the elevatable role away revokes tokens carrying it. */
  CHECK_STATUS(iam_revoke_elevatable_role(iam, bob, "breakglass", NULL), IAM_STATUS_OK);
  CHECK_STATUS(iam_verify(iam, iam_tokens_access_token(bob3), &who), IAM_STATUS_REVOKED);
  CHECK(who == NULL);
  CHECK_STATUS(iam_revoke_elevatable_role(iam, bob, "breakglass", NULL), IAM_STATUS_OK);
  iam_tokens_free(&bob3);
  iam_tokens_free(&bob2);
}

/* Personal API tokens: create, verify, revoke, refused after revocation. */
static void run_api_tokens(iam_t *iam, const char *alice, const char *admin_token) {
  char *carol = NULL;
  iam_tokens_t *carol_tokens = NULL;
  CHECK_STATUS(iam_create_account(iam, "carol", "carol's long password", NULL, 0, NULL, &carol),
               IAM_STATUS_OK);
  CHECK_STATUS(iam_login(iam, "carol", "carol's long password", NULL, &carol_tokens),
               IAM_STATUS_OK);
  const char *carol_token = iam_tokens_access_token(carol_tokens);
  const char *scopes[] = {"admin"};
  const char *not_held[] = {"root"};
  long long in_an_hour = (long long)time(NULL) + 3600;
  char *pat = NULL;
  char *pat_id = NULL;
  CHECK_STATUS(iam_create_api_token(iam, admin_token, "deploys", scopes, 1, in_an_hour, &pat,
                                    &pat_id),
               IAM_STATUS_OK);
  CHECK(pat != NULL && strncmp(pat, "iam_pat_", 8) == 0);
  CHECK(pat_id != NULL && strncmp(pat_id, "pat_", 4) == 0);

  iam_principal_t *who = NULL;
  CHECK_STATUS(iam_verify_api_token(iam, pat, &who), IAM_STATUS_OK);
  CHECK(str_eq(iam_principal_account_id(who), alice));
  CHECK(str_eq(iam_principal_token_id(who), pat_id));
  CHECK(iam_principal_has_role(who, "admin"));
  CHECK(iam_principal_roles_len(who) == 1);
  CHECK(str_eq(iam_principal_amr(who, 0), "api_token"));
  CHECK(iam_principal_expires_at(who) == in_an_hour);
  iam_principal_free(&who);
  /* An API token is not an access token, and vice versa. */
  CHECK_STATUS(iam_verify(iam, pat, &who), IAM_STATUS_TOKEN_INVALID);
  CHECK_STATUS(iam_verify_api_token(iam, admin_token, &who), IAM_STATUS_TOKEN_INVALID);
  CHECK_STATUS(iam_verify_api_token(iam, "iam_pat_unknown", &who), IAM_STATUS_TOKEN_INVALID);
  CHECK(who == NULL);

  /* Refusals: a scope not held, a past expiry, an empty label. */
  char *other = NULL;
  char *other_id = NULL;
  CHECK_STATUS(iam_create_api_token(iam, admin_token, "x", not_held, 1, in_an_hour, &other,
                                    &other_id),
               IAM_STATUS_NOT_PERMITTED);
  CHECK_STATUS(iam_create_api_token(iam, admin_token, "x", NULL, 0, 1000, &other, &other_id),
               IAM_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(iam_create_api_token(iam, admin_token, "", NULL, 0, in_an_hour, &other, &other_id),
               IAM_STATUS_INVALID_ARGUMENT);
  CHECK(other == NULL && other_id == NULL);

  /* Only the owner (or an admin) revokes; then the token is refused. */
  CHECK_STATUS(iam_revoke_api_token(iam, carol_token, pat_id), IAM_STATUS_NOT_PERMITTED);
  CHECK_STATUS(iam_revoke_api_token(iam, admin_token, "pat_unknown"), IAM_STATUS_NOT_FOUND);
  CHECK_STATUS(iam_revoke_api_token(iam, admin_token, pat_id), IAM_STATUS_OK);
  CHECK_STATUS(iam_verify_api_token(iam, pat, &who), IAM_STATUS_REVOKED);
  CHECK(who == NULL);
  CHECK_STATUS(iam_revoke_api_token(iam, admin_token, pat_id), IAM_STATUS_OK);
  iam_string_free(&pat);
  iam_string_free(&pat_id);
  CHECK(pat == NULL && pat_id == NULL);
  iam_tokens_free(&carol_tokens);
  iam_string_free(&carol);
}

static void run_cycle(iam_t *iam) {
  const char *admin_roles[] = {"admin"};
  char *alice = NULL;
  CHECK_STATUS(iam_create_account(iam, "alice", "correct horse battery", admin_roles, 1, NULL,
                                  &alice),
               IAM_STATUS_OK);
  CHECK(alice != NULL && strncmp(alice, "acc_", 4) == 0);

  char *bob = NULL;
  CHECK_STATUS(iam_create_account(iam, "bob", "bob's long password", NULL, 0, NULL, &bob),
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
  CHECK_STATUS(iam_revoke_session(iam, iam_tokens_session_id(tokens), NULL), IAM_STATUS_OK);
  CHECK_STATUS(iam_verify(iam, iam_tokens_access_token(tokens), &who), IAM_STATUS_REVOKED);
  CHECK(who == NULL);
  CHECK(iam_refresh(iam, iam_tokens_refresh_token(tokens), &next) != IAM_STATUS_OK);
  CHECK(next == NULL);
  CHECK_STATUS(iam_revoke_session(iam, iam_tokens_session_id(tokens), NULL), IAM_STATUS_OK);
  CHECK_STATUS(iam_revoke_session(iam, "ses_unknown", NULL), IAM_STATUS_NOT_FOUND);
  iam_tokens_free(&tokens);

  /* Passwords. */
  CHECK_STATUS(iam_set_password(iam, bob, "bob's new password", NULL), IAM_STATUS_OK);
  CHECK_STATUS(iam_login(iam, "bob", "bob's long password", NULL, &tokens),
               IAM_STATUS_BAD_CREDENTIALS);
  CHECK_STATUS(iam_login(iam, "bob", "bob's new password", NULL, &tokens), IAM_STATUS_OK);
  iam_tokens_t *bob_tokens = tokens;
  tokens = NULL;

  /* TOTP enrolment (confirmation with a real code is covered by the Python tests). */
  char *secret = NULL;
  char *uri = NULL;
  CHECK_STATUS(iam_enrol_totp(iam, bob, NULL, &secret, &uri), IAM_STATUS_OK);
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
  CHECK_STATUS(iam_create_account(iam, "billing", NULL, NULL, 0, NULL, &billing),
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

  /* A service token is the wrong kind of token to elevate or to create API tokens with. */
  iam_elevation_t *elev = NULL;
  CHECK_STATUS(iam_elevate(iam, service_token, "ops", 0, NULL, NULL, &elev),
               IAM_STATUS_WRONG_TOKEN_KIND);
  CHECK(elev == NULL);
  char *pat = NULL;
  char *pat_id = NULL;
  CHECK_STATUS(iam_create_api_token(iam, service_token, "label", NULL, 0, time(NULL) + 3600, &pat,
                                    &pat_id),
               IAM_STATUS_WRONG_TOKEN_KIND);
  CHECK(pat == NULL && pat_id == NULL);

  run_actor_tokens(iam, alice, billing, admin_token, iam_tokens_access_token(bob_tokens),
                   service_token);

  CHECK_STATUS(iam_revoke_service_token(iam, admin_token, billing), IAM_STATUS_OK);
  CHECK_STATUS(iam_verify(iam, service_token, &who), IAM_STATUS_REVOKED);
  CHECK_STATUS(iam_fetch_db_credentials(iam, service_token, billing, &creds), IAM_STATUS_REVOKED);
  iam_string_free(&service_token);

  run_elevation(iam, alice, bob, admin_token, bob_tokens);
  run_api_tokens(iam, alice, admin_token);

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

/* An OpenID Connect sign-in's tokens: the ID token verifies for its client only and hands out
 * its claims as an owned JSON string; the JWT access token verifies through iam_verify like a
 * PASETO one; neither passes for the other. */
static void run_oidc(const char *db, const char *client_id, const char *id_token,
                     const char *access_token) {
  iam_t *iam = NULL;
  CHECK_STATUS(iam_open_sqlite(db, CONFIG, &iam), IAM_STATUS_OK);
  if (iam == NULL) return;

  char *claims = NULL;
  CHECK_STATUS(iam_verify_id_token(iam, id_token, client_id, &claims), IAM_STATUS_OK);
  CHECK(claims != NULL && strstr(claims, "\"nonce\":\"c-nonce\"") != NULL);
  CHECK(claims != NULL && strstr(claims, "\"iss\":\"c-test\"") != NULL);
  iam_string_free(&claims);
  CHECK(claims == NULL);

  /* Another client, an access token, garbage: refused, and the out-parameter stays NULL. */
  CHECK_STATUS(iam_verify_id_token(iam, id_token, "another-client", &claims),
               IAM_STATUS_TOKEN_INVALID);
  CHECK(claims == NULL);
  CHECK_STATUS(iam_verify_id_token(iam, access_token, client_id, &claims),
               IAM_STATUS_TOKEN_INVALID);
  CHECK_STATUS(iam_verify_id_token(iam, "a.b.c", client_id, &claims), IAM_STATUS_TOKEN_INVALID);
  CHECK(claims == NULL);
  CHECK_STATUS(iam_verify_id_token(iam, NULL, client_id, &claims), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_verify_id_token(iam, id_token, NULL, &claims), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_verify_id_token(iam, id_token, client_id, NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_verify_id_token(NULL, id_token, client_id, &claims),
               IAM_STATUS_NULL_PARAMETER);

  /* The JWT access token: audience c-test, so it verifies here; the ID token does not. */
  iam_principal_t *who = NULL;
  CHECK_STATUS(iam_verify(iam, access_token, &who), IAM_STATUS_OK);
  CHECK(who != NULL && iam_principal_account_id(who) != NULL &&
        strncmp(iam_principal_account_id(who), "acc_", 4) == 0);
  iam_principal_free(&who);
  CHECK_STATUS(iam_verify(iam, id_token, &who), IAM_STATUS_TOKEN_INVALID);
  CHECK(who == NULL);
  iam_free(&iam);
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

  /* The new functions check their pointers and strings too. */
  iam_elevation_t *elev = NULL;
  char *secret = NULL;
  char *token_id = NULL;
  int64_t until = 7;
  CHECK_STATUS(iam_elevate(NULL, "t", "ops", 0, NULL, NULL, &elev), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_elevate(iam, NULL, "ops", 0, NULL, NULL, &elev), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_elevate(iam, "t", NULL, 0, NULL, NULL, &elev), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_elevate(iam, "t", "ops", 0, NULL, NULL, NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_elevate(iam, "\xff", "ops", 0, NULL, NULL, &elev), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_elevate(iam, "t", "o\xffps", 0, NULL, NULL, &elev), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_elevate(iam, "t", "ops", 0, "pa\xffss", NULL, &elev), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_elevate(iam, "t", "ops", 0, NULL, "12\xff", &elev), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_elevate(iam, "v4.public.garbage", "ops", 0, "x", NULL, &elev),
               IAM_STATUS_TOKEN_INVALID);
  CHECK(elev == NULL);
  CHECK_STATUS(iam_end_elevation(NULL, "t", "ops"), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_end_elevation(iam, NULL, "ops"), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_end_elevation(iam, "t", NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_end_elevation(iam, "t", "\xc3\x28"), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_approve_elevation(NULL, "t", "elr_x", &until), IAM_STATUS_NULL_PARAMETER);
  CHECK(until == 0);
  CHECK_STATUS(iam_approve_elevation(iam, NULL, "elr_x", NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_approve_elevation(iam, "t", NULL, NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_approve_elevation(iam, "t", "elr_\xff", NULL), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_deny_elevation(NULL, "t", "elr_x"), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_deny_elevation(iam, "t", NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_deny_elevation(iam, "\xff", "elr_x"), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_grant_elevatable_role(NULL, "acc_x", "ops", NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_grant_elevatable_role(iam, NULL, "ops", NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_grant_elevatable_role(iam, "acc_x", NULL, NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_grant_elevatable_role(iam, "acc_x", "\xff", NULL), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_grant_elevatable_role(iam, "acc_x", "ops", "\xff"), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_revoke_elevatable_role(iam, NULL, "ops", NULL), IAM_STATUS_NULL_PARAMETER);

  /* Out-parameters are NULL after a failure, whatever they held before. */
  secret = (char *)"not yet";
  token_id = (char *)"not yet";
  const char *one_scope[] = {"ok"};
  const char *null_scope[] = {NULL};
  const char *bad_scope[] = {"\xff"};
  CHECK_STATUS(iam_create_api_token(iam, "t", NULL, NULL, 0, 0, &secret, &token_id),
               IAM_STATUS_NULL_PARAMETER);
  CHECK(secret == NULL && token_id == NULL);
  CHECK_STATUS(iam_create_api_token(NULL, "t", "l", NULL, 0, 0, &secret, &token_id),
               IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_create_api_token(iam, NULL, "l", NULL, 0, 0, &secret, &token_id),
               IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_create_api_token(iam, "t", "l", NULL, 1, 0, &secret, &token_id),
               IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_create_api_token(iam, "t", "l", null_scope, 1, 0, &secret, &token_id),
               IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_create_api_token(iam, "t", "l", one_scope, 1, 0, NULL, &token_id),
               IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_create_api_token(iam, "t", "l", one_scope, 1, 0, &secret, NULL),
               IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_create_api_token(iam, "t", "l\xff", NULL, 0, 0, &secret, &token_id),
               IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_create_api_token(iam, "t", "l", bad_scope, 1, 0, &secret, &token_id),
               IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_create_api_token(iam, "v4.public.garbage", "l", one_scope, 1, 0, &secret,
                                    &token_id),
               IAM_STATUS_TOKEN_INVALID);
  CHECK(secret == NULL && token_id == NULL);
  CHECK_STATUS(iam_revoke_api_token(NULL, "t", "pat_x"), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_revoke_api_token(iam, NULL, "pat_x"), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_revoke_api_token(iam, "t", NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_revoke_api_token(iam, "t", "pat_\xff"), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_verify_api_token(NULL, "iam_pat_x", &who), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_verify_api_token(iam, NULL, &who), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_verify_api_token(iam, "iam_pat_x", NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_verify_api_token(iam, "iam_pat_\xff", &who), IAM_STATUS_INVALID_UTF8);
  CHECK(who == NULL);

  /* Elevation policies in the configuration are checked like the rest of it. */
  iam_t *other = NULL;
  CHECK_STATUS(iam_open_memory("{\"master_key\": \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\","
                               " \"elevation\": {\"ops\": {\"step_up\": \"fingerprint\"}}}",
                               &other),
               IAM_STATUS_INVALID_CONFIG);
  CHECK_STATUS(iam_open_memory("{\"master_key\": \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\","
                               " \"default_elevation\": {\"max_duration\": 60}}",
                               &other),
               IAM_STATUS_INVALID_CONFIG);
  CHECK_STATUS(iam_open_memory("{\"master_key\": \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\","
                               " \"elevation\": {\"Bad Role\": {}}}",
                               &other),
               IAM_STATUS_INVALID_CONFIG);
  CHECK(other == NULL);

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
  CHECK(!iam_elevation_is_pending(NULL));
  CHECK(iam_elevation_role(NULL) == NULL);
  CHECK(iam_elevation_access_token(NULL) == NULL);
  CHECK(iam_elevation_request_id(NULL) == NULL);
  CHECK(iam_elevation_since(NULL) == 0);
  CHECK(iam_elevation_until(NULL) == 0);
  CHECK(iam_elevation_request_expires_at(NULL) == 0);
  iam_elevation_free(NULL);
  iam_string_free(NULL);
  iam_free(NULL);

  /* Status names. */
  CHECK(str_eq(iam_status_name(IAM_STATUS_OK), "IAM_STATUS_OK"));
  CHECK(str_eq(iam_status_name(IAM_STATUS_REVOKED), "IAM_STATUS_REVOKED"));
  CHECK(str_eq(iam_status_name(IAM_STATUS_WRONG_TOKEN_KIND), "IAM_STATUS_WRONG_TOKEN_KIND"));
  CHECK(str_eq(iam_status_name(41), "IAM_STATUS_ELEVATION_REQUEST_CLOSED"));
  CHECK(str_eq(iam_status_name(IAM_STATUS_PASSWORD_LOGIN_NOT_ALLOWED),
               "IAM_STATUS_PASSWORD_LOGIN_NOT_ALLOWED"));
  CHECK(str_eq(iam_status_name(24), "IAM_STATUS_REVOCATION_UNAVAILABLE"));
  CHECK(str_eq(iam_status_name(12345), "IAM_STATUS_UNKNOWN"));
  CHECK(strlen(iam_version()) > 0);

  /* Freeing the handle twice through the same variable is harmless. */
  iam_free(&iam);
  CHECK(iam == NULL);
  iam_free(&iam);
}

int main(int argc, char **argv) {
  if (argc != 9) {
    fprintf(stderr,
            "usage: %s SQLITE_PATH OIDC_SQLITE_PATH CLIENT_ID ID_TOKEN JWT_ACCESS_TOKEN"
            " CLIENT_SECRET CC_TOKEN CC_RESOURCE\n",
            argv[0]);
    return 2;
  }
  iam_t *iam = NULL;
  CHECK_STATUS(iam_open_memory(CONFIG, &iam), IAM_STATUS_OK);
  if (iam != NULL) {
    run_cycle(iam);
    run_admin(iam);
  }
  iam_free(&iam);

  CHECK_STATUS(iam_open_sqlite(argv[1], CONFIG, &iam), IAM_STATUS_OK);
  if (iam != NULL) {
    run_cycle(iam);
    run_admin(iam);
  }
  iam_free(&iam);

  /* The SQLite database keeps its state across handles. */
  CHECK_STATUS(iam_open_sqlite(argv[1], CONFIG, &iam), IAM_STATUS_OK);
  iam_tokens_t *tokens = NULL;
  CHECK_STATUS(iam_login(iam, "alice", "correct horse battery", NULL, &tokens), IAM_STATUS_OK);
  iam_tokens_free(&tokens);
  iam_free(&iam);

  run_oidc(argv[2], argv[3], argv[4], argv[5]);
  run_resource_server(argv[2], argv[3], argv[6], argv[5], argv[7], argv[8]);
  run_recent_authentication();
  run_passkeys();
  run_deletion();
  run_misuse();
  run_admin_misuse();

  printf("C API: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
