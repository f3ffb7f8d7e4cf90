/*
 * The functions of an admin tool, from C: accounts (describe, list page by page, disable,
 * enable, delete), roles, sessions, API-token lists, elevation requests, organizations, the
 * OAuth client registry and introspection, signing keys and the audit log; and what each
 * principal says (credential kind, scopes, organization, elevation, audience). Every
 * refusal is checked beside its success. JSON answers are checked by their text.
 */
#define _POSIX_C_SOURCE 200809L /* sleep() */

#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

/* Copies the first string value of `"field":"..."` in `json` into `out` (at most `size - 1`
 * bytes); returns whether there was one. */
static int json_string(const char *json, const char *field, char *out, size_t size) {
  char key[64];
  snprintf(key, sizeof key, "\"%s\":\"", field);
  const char *start = json == NULL ? NULL : strstr(json, key);
  if (start == NULL || size == 0) return 0;
  start += strlen(key);
  const char *end = strchr(start, '"');
  if (end == NULL || (size_t)(end - start) >= size) return 0;
  memcpy(out, start, (size_t)(end - start));
  out[end - start] = '\0';
  return 1;
}

/* An account and a login session of it. */
struct user {
  char *id;
  iam_tokens_t *tokens;
};

static struct user make_user(iam_t *iam, const char *name, const char *role) {
  struct user u = {NULL, NULL};
  const char *roles[] = {role};
  CHECK_STATUS(iam_create_account(iam, name, "a long enough password", roles, role ? 1 : 0, NULL,
                                  &u.id),
               IAM_STATUS_OK);
  CHECK_STATUS(iam_login(iam, name, "a long enough password", NULL, &u.tokens), IAM_STATUS_OK);
  return u;
}

/* Logs the user in again (after their sessions were revoked). */
static void relogin(iam_t *iam, struct user *u, const char *name) {
  iam_tokens_free(&u->tokens);
  CHECK_STATUS(iam_login(iam, name, "a long enough password", NULL, &u->tokens), IAM_STATUS_OK);
}

static const char *token_of(const struct user *u) { return iam_tokens_access_token(u->tokens); }

static void free_user(struct user *u) {
  iam_tokens_free(&u->tokens);
  iam_string_free(&u->id);
}

/* A session's principal: not delegated, not scope-limited (its roles are its scopes), for iam's
 * own audience. */
static void check_session_principal(iam_t *iam, const struct user *ada) {
  iam_principal_t *who = NULL;
  CHECK_STATUS(iam_verify(iam, token_of(ada), &who), IAM_STATUS_OK);
  CHECK(iam_principal_credential(who) == IAM_CREDENTIAL_KIND_SESSION);
  CHECK(iam_principal_scopes_len(who) == 0);
  CHECK(iam_principal_scope(who, 0) == NULL);
  CHECK(iam_principal_has_scope(who, "admin"));
  CHECK(!iam_principal_has_scope(who, "root"));
  CHECK(iam_principal_client_id(who) == NULL);
  CHECK(iam_principal_actor(who) == NULL);
  CHECK(iam_principal_org_id(who) == NULL && iam_principal_org_role(who) == NULL);
  CHECK(iam_principal_elevated_roles_len(who) == 0);
  CHECK(iam_principal_elevated_role(who, 0) == NULL);
  CHECK(iam_principal_elevated_until(who) == 0);
  CHECK(iam_principal_audience_len(who) == 1);
  CHECK(str_eq(iam_principal_audience(who, 0), "c-test"));
  CHECK(iam_principal_audience(who, 1) == NULL);
  iam_principal_free(&who);
  /* A token minted for iam is not one for another resource server. */
  CHECK_STATUS(iam_verify_for(iam, token_of(ada), "https://elsewhere.example", &who),
               IAM_STATUS_TOKEN_INVALID);
  CHECK(who == NULL);
  CHECK_STATUS(iam_verify_for(iam, token_of(ada), "c-test", &who), IAM_STATUS_OK);
  iam_principal_free(&who);
}

static void check_accounts(iam_t *iam, const struct user *ada, const struct user *ben) {
  char *json = NULL;
  CHECK_STATUS(iam_get_account(iam, ben->id, NULL, &json), IAM_STATUS_OK);
  CHECK(contains(json, "\"username\":\"ben\""));
  CHECK(contains(json, "\"disabled\":false"));
  CHECK(contains(json, "\"kind\":\"human\""));
  CHECK(!contains(json, "password\":\"")); /* never a hash or a secret */
  iam_string_free(&json);
  CHECK_STATUS(iam_get_account(iam, ben->id, token_of(ben), &json), IAM_STATUS_OK);
  iam_string_free(&json);
  CHECK_STATUS(iam_get_account(iam, ada->id, token_of(ben), &json), IAM_STATUS_NOT_PERMITTED);
  CHECK(json == NULL);
  CHECK_STATUS(iam_get_account(iam, "acc_unknown", NULL, &json), IAM_STATUS_NOT_FOUND);
  CHECK(json == NULL);

  /* Pages of one account each follow one another by id. */
  char first[64] = "";
  char second[64] = "";
  CHECK_STATUS(iam_list_accounts(iam, NULL, 1, token_of(ada), &json), IAM_STATUS_OK);
  CHECK(occurrences(json, "\"username\":") == 1);
  CHECK(json_string(json, "id", first, sizeof first));
  iam_string_free(&json);
  CHECK_STATUS(iam_list_accounts(iam, first, 1, NULL, &json), IAM_STATUS_OK);
  CHECK(json_string(json, "id", second, sizeof second));
  CHECK(strcmp(first, second) < 0);
  iam_string_free(&json);
  CHECK_STATUS(iam_list_accounts(iam, NULL, 0, NULL, &json), IAM_STATUS_OK);
  CHECK(contains(json, ada->id) && contains(json, ben->id));
  iam_string_free(&json);
  CHECK_STATUS(iam_list_accounts(iam, NULL, 0, token_of(ben), &json), IAM_STATUS_NOT_PERMITTED);
  CHECK(json == NULL);
}

static void check_roles(iam_t *iam, const struct user *ada, struct user *ben) {
  char *json = NULL;
  iam_principal_t *who = NULL;
  CHECK_STATUS(iam_grant_role(iam, ben->id, "auditor", token_of(ben)), IAM_STATUS_NOT_PERMITTED);
  CHECK_STATUS(iam_grant_role(iam, ben->id, "Not A Role", NULL), IAM_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(iam_grant_role(iam, "acc_unknown", "auditor", NULL), IAM_STATUS_NOT_FOUND);
  CHECK_STATUS(iam_grant_role(iam, ben->id, "auditor", token_of(ada)), IAM_STATUS_OK);
  CHECK_STATUS(iam_grant_role(iam, ben->id, "auditor", NULL), IAM_STATUS_OK); /* idempotent */
  CHECK_STATUS(iam_get_account(iam, ben->id, NULL, &json), IAM_STATUS_OK);
  CHECK(contains(json, "\"roles\":[\"auditor\"]"));
  iam_string_free(&json);
  relogin(iam, ben, "ben");
  CHECK_STATUS(iam_verify(iam, token_of(ben), &who), IAM_STATUS_OK);
  CHECK(iam_principal_has_role(who, "auditor"));
  iam_principal_free(&who);
  /* Revoking it voids the tokens that carry it at once. */
  CHECK_STATUS(iam_revoke_role(iam, ben->id, "auditor", token_of(ben)), IAM_STATUS_NOT_PERMITTED);
  CHECK_STATUS(iam_revoke_role(iam, ben->id, "auditor", NULL), IAM_STATUS_OK);
  CHECK_STATUS(iam_verify(iam, token_of(ben), &who), IAM_STATUS_REVOKED);
  CHECK_STATUS(iam_revoke_role(iam, ben->id, "auditor", token_of(ada)), IAM_STATUS_OK);
  relogin(iam, ben, "ben");
  CHECK_STATUS(iam_verify(iam, token_of(ben), &who), IAM_STATUS_OK);
  CHECK(!iam_principal_has_role(who, "auditor"));
  iam_principal_free(&who);
}

static void check_sessions(iam_t *iam, const struct user *ada, struct user *ben) {
  char *json = NULL;
  iam_principal_t *who = NULL;
  CHECK_STATUS(iam_list_sessions(iam, ben->id, NULL, &json), IAM_STATUS_OK);
  CHECK(contains(json, iam_tokens_session_id(ben->tokens)));
  CHECK(contains(json, "\"revoked_at\":null"));
  iam_string_free(&json);
  CHECK_STATUS(iam_list_sessions(iam, ben->id, token_of(ben), &json), IAM_STATUS_OK);
  iam_string_free(&json);
  CHECK_STATUS(iam_list_sessions(iam, ada->id, token_of(ben), &json), IAM_STATUS_NOT_PERMITTED);
  CHECK(json == NULL);

  uint64_t revoked = 99;
  CHECK_STATUS(iam_revoke_all_sessions(iam, ada->id, token_of(ben), &revoked),
               IAM_STATUS_NOT_PERMITTED);
  CHECK(revoked == 0);
  CHECK_STATUS(iam_revoke_all_sessions(iam, ben->id, token_of(ada), &revoked), IAM_STATUS_OK);
  CHECK(revoked >= 1);
  CHECK_STATUS(iam_verify(iam, token_of(ben), &who), IAM_STATUS_REVOKED);
  CHECK(who == NULL);
  CHECK_STATUS(iam_revoke_all_sessions(iam, ben->id, NULL, NULL), IAM_STATUS_OK);
  CHECK_STATUS(iam_revoke_all_sessions(iam, "acc_unknown", NULL, &revoked), IAM_STATUS_NOT_FOUND);
  relogin(iam, ben, "ben");
}

static void check_api_tokens(iam_t *iam, const struct user *ada, const struct user *ben) {
  char *secret = NULL;
  char *token_id = NULL;
  char *json = NULL;
  const char *scopes[] = {"admin"};
  long long in_an_hour = (long long)time(NULL) + 3600;
  CHECK_STATUS(iam_create_api_token(iam, token_of(ada), "reports", scopes, 1, in_an_hour,
                                    &secret, &token_id),
               IAM_STATUS_OK);
  /* An API token's principal is limited to its scopes. */
  iam_principal_t *who = NULL;
  CHECK_STATUS(iam_verify_api_token(iam, secret, &who), IAM_STATUS_OK);
  CHECK(iam_principal_credential(who) == IAM_CREDENTIAL_KIND_API_TOKEN);
  CHECK(iam_principal_scopes_len(who) == 1);
  CHECK(str_eq(iam_principal_scope(who, 0), "admin"));
  CHECK(iam_principal_has_scope(who, "admin"));
  CHECK(!iam_principal_has_scope(who, "reports"));
  iam_principal_free(&who);

  CHECK_STATUS(iam_list_api_tokens(iam, ada->id, NULL, &json), IAM_STATUS_OK);
  CHECK(contains(json, token_id));
  CHECK(contains(json, "\"label\":\"reports\""));
  CHECK(contains(json, "\"revoked_at\":null"));
  CHECK(!contains(json, "iam_pat_")); /* never the secret */
  iam_string_free(&json);
  CHECK_STATUS(iam_list_api_tokens(iam, ada->id, token_of(ben), &json), IAM_STATUS_NOT_PERMITTED);
  CHECK(json == NULL);
  CHECK_STATUS(iam_list_api_tokens(iam, ben->id, token_of(ben), &json), IAM_STATUS_OK);
  CHECK(str_eq(json, "[]"));
  iam_string_free(&json);
  CHECK_STATUS(iam_revoke_api_token(iam, token_of(ada), token_id), IAM_STATUS_OK);
  CHECK_STATUS(iam_list_api_tokens(iam, ada->id, token_of(ada), &json), IAM_STATUS_OK);
  CHECK(contains(json, token_id) && !contains(json, "\"revoked_at\":null"));
  iam_string_free(&json);
  iam_string_free(&secret);
  iam_string_free(&token_id);
}

/* Elevation: an elevated token names its elevated roles and when they end; pending requests are
 * listed for whoever may answer them. */
static void check_elevation(iam_t *iam, const struct user *ada, const struct user *ben,
                            const char *service_token) {
  iam_elevation_t *elev = NULL;
  iam_principal_t *who = NULL;
  char *json = NULL;
  CHECK_STATUS(iam_grant_elevatable_role(iam, ben->id, "ops", NULL), IAM_STATUS_OK);
  CHECK_STATUS(iam_elevate(iam, token_of(ben), "ops", 300, "a long enough password", NULL, &elev),
               IAM_STATUS_OK);
  CHECK_STATUS(iam_verify(iam, iam_elevation_access_token(elev), &who), IAM_STATUS_OK);
  CHECK(iam_principal_elevated_roles_len(who) == 1);
  CHECK(str_eq(iam_principal_elevated_role(who, 0), "ops"));
  CHECK(iam_principal_has_role(who, "ops"));
  CHECK(iam_principal_elevated_until(who) == iam_elevation_until(elev));
  iam_principal_free(&who);
  iam_elevation_free(&elev);

  CHECK_STATUS(iam_grant_elevatable_role(iam, ben->id, "breakglass", NULL), IAM_STATUS_OK);
  CHECK_STATUS(iam_elevate(iam, token_of(ben), "breakglass", 0, NULL, NULL, &elev),
               IAM_STATUS_OK);
  CHECK(iam_elevation_is_pending(elev));
  const char *request = iam_elevation_request_id(elev);
  CHECK_STATUS(iam_list_elevation_requests(iam, token_of(ada), &json), IAM_STATUS_OK);
  CHECK(contains(json, request));
  CHECK(contains(json, "\"role\":\"breakglass\""));
  CHECK(contains(json, ben->id));
  iam_string_free(&json);
  /* ben cannot answer his own request, so it is not listed for him. */
  CHECK_STATUS(iam_list_elevation_requests(iam, token_of(ben), &json), IAM_STATUS_OK);
  CHECK(!contains(json, request));
  iam_string_free(&json);
  CHECK_STATUS(iam_list_elevation_requests(iam, service_token, &json),
               IAM_STATUS_WRONG_TOKEN_KIND);
  CHECK(json == NULL);
  CHECK_STATUS(iam_deny_elevation(iam, token_of(ada), request), IAM_STATUS_OK);
  CHECK_STATUS(iam_list_elevation_requests(iam, token_of(ada), &json), IAM_STATUS_OK);
  CHECK(!contains(json, request));
  iam_string_free(&json);
  iam_elevation_free(&elev);
}

static void check_organizations(iam_t *iam, const struct user *ada, const struct user *ben,
                                const struct user *cy, const struct user *dee) {
  char *org = NULL;
  char *json = NULL;
  char *scoped = NULL;
  bool pending = false;
  iam_principal_t *who = NULL;
  CHECK_STATUS(iam_create_organization(iam, token_of(ben), "acme", &org), IAM_STATUS_OK);
  CHECK(org != NULL && strncmp(org, "org_", 4) == 0);
  char *again = NULL;
  CHECK_STATUS(iam_create_organization(iam, token_of(ada), "acme", &again),
               IAM_STATUS_INVALID_STATE);
  CHECK_STATUS(iam_create_organization(iam, token_of(ada), "Not Valid!", &again),
               IAM_STATUS_INVALID_ARGUMENT);
  CHECK(again == NULL);
  CHECK_STATUS(iam_get_organization(iam, org, &json), IAM_STATUS_OK);
  CHECK(contains(json, "\"name\":\"acme\"") && contains(json, org));
  iam_string_free(&json);
  CHECK_STATUS(iam_get_organization(iam, "org_unknown", &json), IAM_STATUS_NOT_FOUND);
  CHECK(json == NULL);

  /* An owner's invitation waits for the invited account's answer. */
  CHECK_STATUS(iam_set_membership(iam, token_of(ben), org, cy->id, "member", &pending),
               IAM_STATUS_OK);
  CHECK(pending);
  CHECK_STATUS(iam_list_members(iam, org, NULL, &json), IAM_STATUS_OK);
  CHECK(contains(json, cy->id) && contains(json, "\"pending\":true"));
  CHECK(contains(json, ben->id) && contains(json, "\"role\":\"owner\""));
  iam_string_free(&json);
  CHECK_STATUS(iam_org_token(iam, token_of(cy), org, &scoped), IAM_STATUS_NOT_PERMITTED);
  CHECK(scoped == NULL);
  CHECK_STATUS(iam_answer_invitation(iam, token_of(cy), org, true), IAM_STATUS_OK);
  CHECK_STATUS(iam_org_token(iam, token_of(cy), org, &scoped), IAM_STATUS_OK);
  CHECK_STATUS(iam_verify(iam, scoped, &who), IAM_STATUS_OK);
  CHECK(iam_principal_credential(who) == IAM_CREDENTIAL_KIND_ORG_TOKEN);
  CHECK(str_eq(iam_principal_org_id(who), org));
  CHECK(str_eq(iam_principal_org_role(who), "member"));
  CHECK(str_eq(iam_principal_account_id(who), cy->id));
  iam_principal_free(&who);
  /* An organization token cannot mint another. */
  char *nested = NULL;
  CHECK_STATUS(iam_org_token(iam, scoped, org, &nested), IAM_STATUS_WRONG_TOKEN_KIND);
  CHECK(nested == NULL);

  CHECK_STATUS(iam_list_memberships(iam, cy->id, token_of(cy), &json), IAM_STATUS_OK);
  CHECK(contains(json, org) && contains(json, "\"pending\":false"));
  iam_string_free(&json);
  CHECK_STATUS(iam_list_memberships(iam, ben->id, token_of(cy), &json), IAM_STATUS_NOT_PERMITTED);
  CHECK(json == NULL);

  /* Outsiders learn nothing of the organization and cannot manage it; an admin's addition
   * takes effect at once, so there is no invitation to answer. */
  CHECK_STATUS(iam_list_members(iam, org, token_of(dee), &json), IAM_STATUS_NOT_FOUND);
  CHECK(json == NULL);
  CHECK_STATUS(iam_set_membership(iam, token_of(dee), org, dee->id, "owner", &pending),
               IAM_STATUS_NOT_PERMITTED);
  CHECK_STATUS(iam_set_membership(iam, token_of(ada), org, dee->id, "member", &pending),
               IAM_STATUS_OK);
  CHECK(!pending);
  CHECK_STATUS(iam_answer_invitation(iam, token_of(dee), org, true), IAM_STATUS_NOT_FOUND);
  CHECK_STATUS(iam_list_members(iam, org, token_of(dee), &json), IAM_STATUS_OK);
  CHECK(contains(json, dee->id));
  iam_string_free(&json);
  CHECK_STATUS(iam_set_membership(iam, token_of(ada), "org_unknown", dee->id, "member", NULL),
               IAM_STATUS_NOT_FOUND);
  CHECK_STATUS(iam_set_membership(iam, token_of(ada), org, dee->id, "Bad Role", NULL),
               IAM_STATUS_INVALID_ARGUMENT);

  /* Removal voids the member's organization tokens at once; a declined invitation is gone. */
  CHECK_STATUS(iam_remove_member(iam, token_of(cy), org, dee->id), IAM_STATUS_NOT_PERMITTED);
  CHECK_STATUS(iam_remove_member(iam, token_of(ben), org, cy->id), IAM_STATUS_OK);
  CHECK_STATUS(iam_verify(iam, scoped, &who), IAM_STATUS_REVOKED);
  CHECK_STATUS(iam_remove_member(iam, token_of(ben), org, cy->id), IAM_STATUS_OK);
  CHECK_STATUS(iam_set_membership(iam, token_of(ben), org, cy->id, "member", NULL),
               IAM_STATUS_OK);
  CHECK_STATUS(iam_answer_invitation(iam, token_of(cy), org, false), IAM_STATUS_OK);
  CHECK_STATUS(iam_list_members(iam, org, NULL, &json), IAM_STATUS_OK);
  CHECK(!contains(json, cy->id));
  iam_string_free(&json);
  iam_string_free(&scoped);
  iam_string_free(&org);
}

static void check_clients(iam_t *iam, const struct user *ada, const struct user *ben) {
  char *client = NULL;
  char *secret = NULL;
  char *json = NULL;
  char id[64] = "";
  CHECK_STATUS(iam_register_client(iam, token_of(ada),
                                   "{\"name\": \"reports\", \"kind\": \"confidential\","
                                   " \"grant_types\": [\"client_credentials\"],"
                                   " \"scopes\": [\"reports\"]}",
                                   &client, &secret),
               IAM_STATUS_OK);
  CHECK(contains(client, "\"kind\":\"confidential\""));
  CHECK(contains(client, "\"grant_types\":[\"client_credentials\"]"));
  CHECK(secret != NULL && strncmp(secret, "iam_cs_", 7) == 0);
  CHECK(!contains(client, "iam_cs_")); /* the secret is handed out apart */
  CHECK(json_string(client, "id", id, sizeof id) && strncmp(id, "cli_", 4) == 0);
  iam_string_free(&client);

  char *public_client = NULL;
  char *no_secret = (char *)"not yet";
  char public_id[64] = "";
  CHECK_STATUS(iam_register_client(iam, token_of(ada),
                                   "{\"name\": \"spa\", \"kind\": \"public\","
                                   " \"redirect_uris\": [\"https://spa.example/cb\"],"
                                   " \"grant_types\": [\"authorization_code\"],"
                                   " \"id_token_signed_response_alg\": \"EdDSA\"}",
                                   &public_client, &no_secret),
               IAM_STATUS_OK);
  CHECK(no_secret == NULL);
  CHECK(contains(public_client, "\"id_token_signed_response_alg\":\"EdDSA\""));
  CHECK(json_string(public_client, "id", public_id, sizeof public_id));
  iam_string_free(&public_client);

  /* Refused registrations leave both out-parameters NULL. */
  CHECK_STATUS(iam_register_client(iam, token_of(ada), "{\"name\": \"x\", \"kind\": \"public\","
                                   " \"redirect_uri\": [\"https://x.example/cb\"]}",
                                   &client, &no_secret),
               IAM_STATUS_INVALID_ARGUMENT);
  CHECK(contains(iam_last_error(), "redirect_uri"));
  CHECK_STATUS(iam_register_client(iam, token_of(ada), "not json", &client, &no_secret),
               IAM_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(iam_register_client(iam, token_of(ada),
                                   "{\"name\": \"x\", \"kind\": \"public\","
                                   " \"redirect_uris\": [\"javascript:alert(1)\"],"
                                   " \"grant_types\": [\"authorization_code\"]}",
                                   &client, &no_secret),
               IAM_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(iam_register_client(iam, token_of(ben),
                                   "{\"name\": \"x\", \"kind\": \"confidential\"}", &client,
                                   &no_secret),
               IAM_STATUS_NOT_PERMITTED);
  CHECK(client == NULL && no_secret == NULL);

  CHECK_STATUS(iam_get_oauth_client(iam, id, NULL, &json), IAM_STATUS_OK);
  CHECK(contains(json, "\"name\":\"reports\"") && contains(json, "\"disabled\":false"));
  CHECK(contains(json, ada->id)); /* its owner */
  iam_string_free(&json);
  CHECK_STATUS(iam_get_oauth_client(iam, id, token_of(ben), &json), IAM_STATUS_NOT_FOUND);
  CHECK_STATUS(iam_get_oauth_client(iam, "cli_unknown", token_of(ada), &json),
               IAM_STATUS_NOT_FOUND);
  CHECK(json == NULL);
  CHECK_STATUS(iam_list_oauth_clients(iam, token_of(ada), &json), IAM_STATUS_OK);
  CHECK(contains(json, id) && contains(json, public_id));
  iam_string_free(&json);
  CHECK_STATUS(iam_list_oauth_clients(iam, token_of(ben), &json), IAM_STATUS_NOT_PERMITTED);
  CHECK(json == NULL);

  /* Introspection: a login session's token is neither issued to the client nor meant for one
   * of its resources, so the client learns nothing of it. */
  CHECK_STATUS(iam_introspect(iam, id, secret, token_of(ada), NULL, &json), IAM_STATUS_OK);
  CHECK(str_eq(json, "{\"active\":false}"));
  iam_string_free(&json);
  CHECK_STATUS(iam_introspect(iam, id, secret, "garbage", "refresh_token", &json),
               IAM_STATUS_OK);
  CHECK(str_eq(json, "{\"active\":false}"));
  iam_string_free(&json);
  CHECK_STATUS(iam_introspect(iam, id, "iam_cs_wrong", token_of(ada), NULL, &json),
               IAM_STATUS_BAD_CREDENTIALS);
  CHECK(contains(iam_last_error(), "invalid_client"));
  CHECK_STATUS(iam_introspect(iam, public_id, "anything", token_of(ada), NULL, &json),
               IAM_STATUS_BAD_CREDENTIALS);
  CHECK_STATUS(iam_introspect(iam, id, secret, token_of(ada), "id_token", &json),
               IAM_STATUS_INVALID_ARGUMENT);
  CHECK(json == NULL);

  /* Rotation: the old secret keeps working through its grace period. */
  char *rotated = NULL;
  CHECK_STATUS(iam_rotate_client_secret(iam, token_of(ben), id, &rotated), IAM_STATUS_NOT_FOUND);
  CHECK_STATUS(iam_rotate_client_secret(iam, token_of(ada), public_id, &rotated),
               IAM_STATUS_INVALID_STATE);
  CHECK(rotated == NULL);
  CHECK_STATUS(iam_rotate_client_secret(iam, token_of(ada), id, &rotated), IAM_STATUS_OK);
  CHECK(rotated != NULL && !str_eq(rotated, secret));
  CHECK_STATUS(iam_introspect(iam, id, rotated, token_of(ada), "access_token", &json),
               IAM_STATUS_OK);
  iam_string_free(&json);
  CHECK_STATUS(iam_introspect(iam, id, secret, token_of(ada), NULL, &json), IAM_STATUS_OK);
  iam_string_free(&json);

  /* A disabled client cannot authenticate any more. */
  uint64_t revoked = 99;
  CHECK_STATUS(iam_disable_client(iam, token_of(ben), id, &revoked), IAM_STATUS_NOT_FOUND);
  CHECK(revoked == 0);
  CHECK_STATUS(iam_disable_client(iam, token_of(ada), id, &revoked), IAM_STATUS_OK);
  CHECK(revoked == 0);
  CHECK_STATUS(iam_introspect(iam, id, rotated, token_of(ada), NULL, &json),
               IAM_STATUS_BAD_CREDENTIALS);
  CHECK_STATUS(iam_get_oauth_client(iam, id, token_of(ada), &json), IAM_STATUS_OK);
  CHECK(contains(json, "\"disabled\":true"));
  iam_string_free(&json);
  CHECK_STATUS(iam_disable_client(iam, token_of(ada), "cli_unknown", NULL), IAM_STATUS_NOT_FOUND);
  iam_string_free(&rotated);
  iam_string_free(&secret);
}

static void check_keys(iam_t *iam, const struct user *ada, const struct user *ben) {
  char *json = NULL;
  char *kid = NULL;
  CHECK_STATUS(iam_public_keys(iam, &json), IAM_STATUS_OK);
  CHECK(contains(json, "\"active\":true") && contains(json, "\"paserk\":\"k4.public."));
  iam_string_free(&json);
  CHECK_STATUS(iam_rotate_signing_key(iam, token_of(ben), &kid), IAM_STATUS_NOT_PERMITTED);
  CHECK(kid == NULL);
  CHECK_STATUS(iam_rotate_signing_key(iam, token_of(ada), &kid), IAM_STATUS_OK);
  CHECK(kid != NULL && strncmp(kid, "k4.pid.", 7) == 0);
  CHECK_STATUS(iam_public_keys(iam, &json), IAM_STATUS_OK);
  CHECK(contains(json, kid));
  CHECK(occurrences(json, "\"kid\":") >= 2); /* the old key still verifies */
  iam_string_free(&json);
  iam_string_free(&kid);
  CHECK_STATUS(iam_rotate_signing_key(iam, NULL, &kid), IAM_STATUS_OK);
  iam_string_free(&kid);
  /* Tokens signed before keep verifying; new ones are signed by the new key. */
  iam_principal_t *who = NULL;
  CHECK_STATUS(iam_verify(iam, token_of(ada), &who), IAM_STATUS_OK);
  iam_principal_free(&who);
  iam_tokens_t *fresh = NULL;
  CHECK_STATUS(iam_login(iam, "ada", "a long enough password", NULL, &fresh), IAM_STATUS_OK);
  CHECK_STATUS(iam_verify(iam, iam_tokens_access_token(fresh), &who), IAM_STATUS_OK);
  iam_principal_free(&who);
  iam_tokens_free(&fresh);
}

static void check_lifecycle(iam_t *iam, const struct user *ada, const struct user *ben,
                            struct user *dee) {
  char *json = NULL;
  iam_principal_t *who = NULL;
  iam_tokens_t *tokens = NULL;
  CHECK_STATUS(iam_disable_account(iam, dee->id, token_of(ben)), IAM_STATUS_NOT_PERMITTED);
  CHECK_STATUS(iam_disable_account(iam, dee->id, token_of(ada)), IAM_STATUS_OK);
  CHECK_STATUS(iam_disable_account(iam, dee->id, NULL), IAM_STATUS_OK); /* idempotent */
  CHECK_STATUS(iam_login(iam, "dee", "a long enough password", NULL, &tokens),
               IAM_STATUS_ACCOUNT_DISABLED);
  CHECK(tokens == NULL);
  CHECK(iam_verify(iam, token_of(dee), &who) != IAM_STATUS_OK);
  CHECK(who == NULL);
  CHECK_STATUS(iam_get_account(iam, dee->id, NULL, &json), IAM_STATUS_OK);
  CHECK(contains(json, "\"disabled\":true"));
  iam_string_free(&json);
  CHECK_STATUS(iam_enable_account(iam, dee->id, token_of(ben)), IAM_STATUS_NOT_PERMITTED);
  CHECK_STATUS(iam_enable_account(iam, dee->id, token_of(ada)), IAM_STATUS_OK);
  CHECK_STATUS(iam_enable_account(iam, "acc_unknown", NULL), IAM_STATUS_NOT_FOUND);
  relogin(iam, dee, "dee");

  /* Scheduled deletion: by the account itself (a fresh sign-in) or an admin, cancellable. */
  int64_t due = -1;
  CHECK_STATUS(iam_schedule_deletion(iam, token_of(ben), dee->id, &due),
               IAM_STATUS_NOT_PERMITTED);
  CHECK(due == 0);
  CHECK_STATUS(iam_schedule_deletion(iam, token_of(dee), dee->id, &due), IAM_STATUS_OK);
  CHECK(due > (int64_t)time(NULL) + 24 * 3600); /* the default grace is 7 days */
  CHECK_STATUS(iam_get_account(iam, dee->id, NULL, &json), IAM_STATUS_OK);
  CHECK(!contains(json, "\"deletion_due\":null"));
  iam_string_free(&json);
  CHECK_STATUS(iam_cancel_deletion(iam, token_of(ben), dee->id), IAM_STATUS_NOT_PERMITTED);
  CHECK_STATUS(iam_cancel_deletion(iam, token_of(dee), dee->id), IAM_STATUS_OK);
  CHECK_STATUS(iam_cancel_deletion(iam, token_of(dee), dee->id), IAM_STATUS_OK); /* none left */
  CHECK_STATUS(iam_get_account(iam, dee->id, NULL, &json), IAM_STATUS_OK);
  CHECK(contains(json, "\"deletion_due\":null"));
  iam_string_free(&json);
  CHECK_STATUS(iam_schedule_deletion(iam, token_of(ada), dee->id, NULL), IAM_STATUS_OK);
  CHECK_STATUS(iam_schedule_deletion(iam, token_of(ada), "acc_unknown", NULL),
               IAM_STATUS_NOT_FOUND);
  /* Not due yet: the sweep deletes nothing. */
  CHECK_STATUS(iam_sweep(iam, &json), IAM_STATUS_OK);
  CHECK(contains(json, "\"deleted_accounts\":[]"));
  iam_string_free(&json);
  CHECK_STATUS(iam_sweep(iam, NULL), IAM_STATUS_OK);
  CHECK_STATUS(iam_cancel_deletion(iam, token_of(ada), dee->id), IAM_STATUS_OK);
}

/* Audit events page by page, filtered by account and kind. */
static void check_audit(iam_t *iam, const struct user *ada, const struct user *ben) {
  char *json = NULL;
  CHECK_STATUS(iam_list_audit_events(iam, NULL, NULL, 0, 0, 0, 2, NULL, &json), IAM_STATUS_OK);
  CHECK(occurrences(json, "\"seq\":") == 2);
  CHECK(contains(json, "{\"seq\":1,\"prev_hash\":\"0000000000000000"));
  CHECK(contains(json, "\"seq\":2,"));
  iam_string_free(&json);
  CHECK_STATUS(iam_list_audit_events(iam, NULL, NULL, 0, 0, 2, 1, token_of(ada), &json),
               IAM_STATUS_OK);
  CHECK(occurrences(json, "\"seq\":") == 1 && contains(json, "{\"seq\":3,"));
  iam_string_free(&json);

  CHECK_STATUS(iam_list_audit_events(iam, NULL, "role.granted", 0, 0, 0, 0, NULL, &json),
               IAM_STATUS_OK);
  CHECK(contains(json, "\"kind\":\"role.granted\"") && contains(json, "auditor"));
  CHECK(!contains(json, "login.succeeded"));
  iam_string_free(&json);
  CHECK_STATUS(iam_list_audit_events(iam, ben->id, "account.created", 0, 0, 0, 0, NULL, &json),
               IAM_STATUS_OK);
  CHECK(occurrences(json, "\"seq\":") == 1 && contains(json, ben->id));
  iam_string_free(&json);
  /* Time bounds: nothing happened before 1971, everything before an hour from now. */
  CHECK_STATUS(iam_list_audit_events(iam, NULL, NULL, 0, 31536000, 0, 0, NULL, &json),
               IAM_STATUS_OK);
  CHECK(str_eq(json, "[]"));
  iam_string_free(&json);
  CHECK_STATUS(iam_list_audit_events(iam, ada->id, NULL, (int64_t)time(NULL) - 3600,
                                     (int64_t)time(NULL) + 3600, 0, 1000, NULL, &json),
               IAM_STATUS_OK);
  CHECK(occurrences(json, "\"seq\":") >= 1);
  iam_string_free(&json);

  CHECK_STATUS(iam_list_audit_events(iam, NULL, "no.such.kind", 0, 0, 0, 0, NULL, &json),
               IAM_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(iam_list_audit_events(iam, NULL, NULL, 0, 0, 0, 0, token_of(ben), &json),
               IAM_STATUS_NOT_PERMITTED);
  CHECK(json == NULL);
  uint64_t events = 0;
  CHECK_STATUS(iam_verify_audit_chain(iam, &events), IAM_STATUS_OK);
  CHECK(events > 20);
}

void run_admin(iam_t *iam) {
  struct user ada = make_user(iam, "ada", "admin");
  struct user ben = make_user(iam, "ben", NULL);
  struct user cy = make_user(iam, "cy", NULL);
  struct user dee = make_user(iam, "dee", NULL);
  char *svc = NULL;
  char *service_token = NULL;
  CHECK_STATUS(iam_create_account(iam, "svc", NULL, NULL, 0, NULL, &svc), IAM_STATUS_OK);
  CHECK_STATUS(iam_issue_service_token(iam, token_of(&ada), svc, &service_token, NULL),
               IAM_STATUS_OK);
  iam_principal_t *who = NULL;
  CHECK_STATUS(iam_verify(iam, service_token, &who), IAM_STATUS_OK);
  CHECK(iam_principal_credential(who) == IAM_CREDENTIAL_KIND_SERVICE_TOKEN);
  iam_principal_free(&who);

  check_session_principal(iam, &ada);
  check_accounts(iam, &ada, &ben);
  check_roles(iam, &ada, &ben);
  check_sessions(iam, &ada, &ben);
  check_api_tokens(iam, &ada, &ben);
  check_elevation(iam, &ada, &ben, service_token);
  check_organizations(iam, &ada, &ben, &cy, &dee);
  check_clients(iam, &ada, &ben);
  check_keys(iam, &ada, &ben);
  check_lifecycle(iam, &ada, &ben, &dee);
  check_audit(iam, &ada, &ben);

  iam_string_free(&service_token);
  iam_string_free(&svc);
  free_user(&dee);
  free_user(&cy);
  free_user(&ben);
  free_user(&ada);
}

void run_deletion(void) {
  iam_t *iam = NULL;
  CHECK_STATUS(iam_open_memory("{\"master_key\": \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\","
                               " \"password\": {\"memory_kib\": 64, \"iterations\": 1},"
                               " \"deletion_grace_secs\": 1}",
                               &iam),
               IAM_STATUS_OK);
  if (iam == NULL) return;
  struct user gus = make_user(iam, "gus", NULL);
  int64_t due = 0;
  CHECK_STATUS(iam_schedule_deletion(iam, token_of(&gus), gus.id, &due), IAM_STATUS_OK);
  CHECK(due > 0 && due <= (int64_t)time(NULL) + 2);
  sleep(2);
  char *report = NULL;
  CHECK_STATUS(iam_sweep(iam, &report), IAM_STATUS_OK);
  CHECK(contains(report, gus.id));
  iam_string_free(&report);
  char *found = NULL;
  CHECK_STATUS(iam_find_account(iam, "gus", &found), IAM_STATUS_NOT_FOUND);
  iam_principal_t *who = NULL;
  CHECK(iam_verify(iam, token_of(&gus), &who) != IAM_STATUS_OK);
  CHECK(who == NULL);
  CHECK_STATUS(iam_sweep(iam, &report), IAM_STATUS_OK);
  CHECK(contains(report, "\"deleted_accounts\":[]"));
  iam_string_free(&report);
  free_user(&gus);
  iam_free(&iam);
}

void run_admin_misuse(void) {
  iam_t *iam = NULL;
  CHECK_STATUS(iam_open_memory(CONFIG, &iam), IAM_STATUS_OK);
  char *s = (char *)"not yet";
  char *s2 = (char *)"not yet";
  uint64_t n = 7;
  int64_t t = 7;
  bool flag = true;
  iam_principal_t *who = NULL;
  const char *bad = "\xff\xfe";

  /* Each function: NULL handle, each required string NULL, a string not UTF-8, a NULL
   * out-parameter; owned out-parameters are NULL afterwards. */
  CHECK_STATUS(iam_verify_for(NULL, "t", "aud", &who), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_verify_for(iam, NULL, "aud", &who), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_verify_for(iam, "t", NULL, &who), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_verify_for(iam, "t", bad, &who), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_verify_for(iam, "t", "aud", NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK(who == NULL);

  CHECK_STATUS(iam_get_account(NULL, "acc_x", NULL, &s), IAM_STATUS_NULL_PARAMETER);
  CHECK(s == NULL);
  CHECK_STATUS(iam_get_account(iam, NULL, NULL, &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_get_account(iam, bad, NULL, &s), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_get_account(iam, "acc_x", bad, &s), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_get_account(iam, "acc_x", NULL, NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_list_accounts(NULL, NULL, 0, NULL, &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_list_accounts(iam, bad, 0, NULL, &s), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_list_accounts(iam, NULL, 0, "v4.public.garbage", &s),
               IAM_STATUS_TOKEN_INVALID);
  CHECK_STATUS(iam_list_accounts(iam, NULL, 0, NULL, NULL), IAM_STATUS_NULL_PARAMETER);

  CHECK_STATUS(iam_grant_role(NULL, "acc_x", "r", NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_grant_role(iam, NULL, "r", NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_grant_role(iam, "acc_x", NULL, NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_grant_role(iam, "acc_x", bad, NULL), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_revoke_role(NULL, "acc_x", "r", NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_revoke_role(iam, "acc_x", "r", bad), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_revoke_role(iam, "acc_x", "r", "v4.public.garbage"), IAM_STATUS_TOKEN_INVALID);

  CHECK_STATUS(iam_list_sessions(NULL, "acc_x", NULL, &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_list_sessions(iam, NULL, NULL, &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_list_sessions(iam, "acc_x", NULL, NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_revoke_all_sessions(NULL, "acc_x", NULL, &n), IAM_STATUS_NULL_PARAMETER);
  CHECK(n == 0);
  CHECK_STATUS(iam_revoke_all_sessions(iam, NULL, NULL, &n), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_revoke_all_sessions(iam, bad, NULL, NULL), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_list_api_tokens(NULL, "acc_x", NULL, &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_list_api_tokens(iam, NULL, NULL, &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_list_api_tokens(iam, "acc_x", NULL, NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_list_elevation_requests(NULL, "t", &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_list_elevation_requests(iam, NULL, &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_list_elevation_requests(iam, bad, &s), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_list_elevation_requests(iam, "t", NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK(s == NULL);

  CHECK_STATUS(iam_create_organization(NULL, "t", "acme", &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_create_organization(iam, NULL, "acme", &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_create_organization(iam, "t", NULL, &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_create_organization(iam, "t", bad, &s), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_create_organization(iam, "t", "acme", NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_get_organization(NULL, "org_x", &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_get_organization(iam, NULL, &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_get_organization(iam, "org_x", NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_set_membership(NULL, "t", "org_x", "acc_x", "r", &flag),
               IAM_STATUS_NULL_PARAMETER);
  CHECK(!flag);
  CHECK_STATUS(iam_set_membership(iam, "t", NULL, "acc_x", "r", NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_set_membership(iam, "t", "org_x", NULL, "r", NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_set_membership(iam, "t", "org_x", "acc_x", NULL, NULL),
               IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_set_membership(iam, "t", "org_x", "acc_x", bad, NULL), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_remove_member(NULL, "t", "org_x", "acc_x"), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_remove_member(iam, "t", "org_x", NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_remove_member(iam, bad, "org_x", "acc_x"), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_list_members(NULL, "org_x", NULL, &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_list_members(iam, NULL, NULL, &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_list_members(iam, "org_x", NULL, NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_list_memberships(NULL, "acc_x", NULL, &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_list_memberships(iam, NULL, NULL, &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_list_memberships(iam, "acc_x", NULL, NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_org_token(NULL, "t", "org_x", &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_org_token(iam, NULL, "org_x", &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_org_token(iam, "t", NULL, &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_org_token(iam, "t", "org_x", NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_answer_invitation(NULL, "t", "org_x", true), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_answer_invitation(iam, NULL, "org_x", true), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_answer_invitation(iam, "t", bad, false), IAM_STATUS_INVALID_UTF8);
  CHECK(s == NULL);

  CHECK_STATUS(iam_register_client(NULL, "t", "{}", &s, &s2), IAM_STATUS_NULL_PARAMETER);
  CHECK(s == NULL && s2 == NULL);
  CHECK_STATUS(iam_register_client(iam, NULL, "{}", &s, &s2), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_register_client(iam, "t", NULL, &s, &s2), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_register_client(iam, "t", bad, &s, &s2), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_register_client(iam, "t", "{}", NULL, &s2), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_register_client(iam, "t", "{}", &s, NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_get_oauth_client(NULL, "cli_x", NULL, &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_get_oauth_client(iam, NULL, NULL, &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_get_oauth_client(iam, "cli_x", NULL, NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_list_oauth_clients(NULL, NULL, &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_list_oauth_clients(iam, bad, &s), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_list_oauth_clients(iam, NULL, NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_rotate_client_secret(NULL, "t", "cli_x", &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_rotate_client_secret(iam, "t", NULL, &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_rotate_client_secret(iam, "t", "cli_x", NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_disable_client(NULL, "t", "cli_x", &n), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_disable_client(iam, NULL, "cli_x", NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_disable_client(iam, "t", bad, NULL), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_introspect(NULL, "cli_x", "s", "t", NULL, &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_introspect(iam, NULL, "s", "t", NULL, &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_introspect(iam, "cli_x", NULL, "t", NULL, &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_introspect(iam, "cli_x", "s", NULL, NULL, &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_introspect(iam, "cli_x", "s", "t", bad, &s), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_introspect(iam, "cli_x", "s", "t", NULL, NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_introspect(iam, "cli_unknown", "s", "t", NULL, &s),
               IAM_STATUS_BAD_CREDENTIALS);
  CHECK(s == NULL);

  CHECK_STATUS(iam_rotate_signing_key(NULL, NULL, &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_rotate_signing_key(iam, bad, &s), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_rotate_signing_key(iam, NULL, NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_public_keys(NULL, &s), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_public_keys(iam, NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK(s == NULL);

  CHECK_STATUS(iam_disable_account(NULL, "acc_x", NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_disable_account(iam, NULL, NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_disable_account(iam, "acc_x", bad), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_enable_account(NULL, "acc_x", NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_enable_account(iam, bad, NULL), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_schedule_deletion(NULL, "t", "acc_x", &t), IAM_STATUS_NULL_PARAMETER);
  CHECK(t == 0);
  CHECK_STATUS(iam_schedule_deletion(iam, NULL, "acc_x", NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_schedule_deletion(iam, "t", NULL, NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_schedule_deletion(iam, "v4.public.garbage", "acc_x", NULL),
               IAM_STATUS_TOKEN_INVALID);
  CHECK_STATUS(iam_cancel_deletion(NULL, "t", "acc_x"), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_cancel_deletion(iam, "t", NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_cancel_deletion(iam, bad, "acc_x"), IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_sweep(NULL, &s), IAM_STATUS_NULL_PARAMETER);

  CHECK_STATUS(iam_list_audit_events(NULL, NULL, NULL, 0, 0, 0, 0, NULL, &s),
               IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_list_audit_events(iam, bad, NULL, 0, 0, 0, 0, NULL, &s),
               IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_list_audit_events(iam, NULL, bad, 0, 0, 0, 0, NULL, &s),
               IAM_STATUS_INVALID_UTF8);
  CHECK_STATUS(iam_list_audit_events(iam, NULL, NULL, 0, 0, 0, 0, NULL, NULL),
               IAM_STATUS_NULL_PARAMETER);
  CHECK(s == NULL);

  /* The new getters accept NULL. */
  CHECK(iam_principal_credential(NULL) == IAM_CREDENTIAL_KIND_UNKNOWN);
  CHECK(iam_principal_scopes_len(NULL) == 0);
  CHECK(iam_principal_scope(NULL, 0) == NULL);
  CHECK(!iam_principal_has_scope(NULL, "admin"));
  CHECK(iam_principal_elevated_roles_len(NULL) == 0);
  CHECK(iam_principal_elevated_role(NULL, 0) == NULL);
  CHECK(iam_principal_elevated_until(NULL) == 0);
  CHECK(iam_principal_client_id(NULL) == NULL);
  CHECK(iam_principal_actor(NULL) == NULL);
  CHECK(iam_principal_org_id(NULL) == NULL);
  CHECK(iam_principal_org_role(NULL) == NULL);
  CHECK(iam_principal_audience_len(NULL) == 0);
  CHECK(iam_principal_audience(NULL, 0) == NULL);

  /* A deletion grace in the configuration is a number of seconds. */
  iam_t *other = NULL;
  CHECK_STATUS(iam_open_memory("{\"master_key\": \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\","
                               " \"deletion_grace_secs\": \"soon\"}",
                               &other),
               IAM_STATUS_INVALID_CONFIG);
  CHECK(other == NULL);
  iam_free(&iam);
}
