/*
 * OAuth tokens as a resource server sees them, from the OpenID Connect database made by
 * tests/c_api.rs: a user-delegated RFC 9068 JWT access token (issued to CLIENT_ID, scope
 * openid) and a client-credentials token of another client acting for its owner, bound to
 * the resource CC_RESOURCE. The principal says which kind of credential each is, for which
 * client, account and audience; introspection answers only the client the token concerns.
 */
#include <stdint.h>

#include "check.h"

void run_resource_server(const char *db, const char *client_id, const char *client_secret,
                         const char *jwt_access_token, const char *cc_token,
                         const char *cc_resource) {
  iam_t *iam = NULL;
  CHECK_STATUS(iam_open_sqlite(db, CONFIG, &iam), IAM_STATUS_OK);
  if (iam == NULL) return;
  iam_principal_t *who = NULL;

  /* A user's token delegated to a client: limited to the scopes it was granted. */
  CHECK_STATUS(iam_verify(iam, jwt_access_token, &who), IAM_STATUS_OK);
  CHECK(iam_principal_credential(who) == IAM_CREDENTIAL_KIND_OAUTH_USER);
  CHECK(str_eq(iam_principal_client_id(who), client_id));
  CHECK(iam_principal_actor(who) == NULL);
  CHECK(iam_principal_scopes_len(who) == 1);
  CHECK(str_eq(iam_principal_scope(who, 0), "openid"));
  CHECK(iam_principal_has_scope(who, "openid"));
  CHECK(!iam_principal_has_scope(who, "admin"));
  CHECK(iam_principal_audience_len(who) == 1);
  CHECK(str_eq(iam_principal_audience(who, 0), "c-test"));
  CHECK(iam_principal_kind(who) == IAM_ACCOUNT_KIND_HUMAN);
  iam_principal_free(&who);
  CHECK_STATUS(iam_verify_for(iam, jwt_access_token, cc_resource, &who), IAM_STATUS_TOKEN_INVALID);
  CHECK(who == NULL);

  /* A client-credentials token bound to a resource: not for iam itself, but for that
   * resource server, acting for the account that registered the client. */
  CHECK_STATUS(iam_verify(iam, cc_token, &who), IAM_STATUS_TOKEN_INVALID);
  CHECK(who == NULL);
  CHECK_STATUS(iam_verify_for(iam, cc_token, cc_resource, &who), IAM_STATUS_OK);
  CHECK(iam_principal_credential(who) == IAM_CREDENTIAL_KIND_CLIENT_CREDENTIALS);
  const char *cc_client = iam_principal_client_id(who);
  CHECK(cc_client != NULL && strncmp(cc_client, "cli_", 4) == 0 && !str_eq(cc_client, client_id));
  const char *actor = iam_principal_actor(who);
  CHECK(actor != NULL && strncmp(actor, "acc_", 4) == 0);
  CHECK(iam_principal_audience_len(who) == 1);
  CHECK(str_eq(iam_principal_audience(who, 0), cc_resource));
  CHECK(iam_principal_org_id(who) == NULL);
  CHECK(iam_principal_elevated_roles_len(who) == 0);
  iam_principal_free(&who);

  /* Introspection by the client the JWT was issued to: active, with its claims. The other
   * client's token is none of its business: inactive, as if unknown. */
  char *json = NULL;
  CHECK_STATUS(iam_introspect(iam, client_id, client_secret, jwt_access_token, "access_token",
                              &json),
               IAM_STATUS_OK);
  CHECK(contains(json, "\"active\":true"));
  CHECK(contains(json, client_id));
  CHECK(contains(json, "\"scope\":\"openid\""));
  CHECK(contains(json, "\"iss\":\"c-test\""));
  iam_string_free(&json);
  CHECK_STATUS(iam_introspect(iam, client_id, client_secret, cc_token, NULL, &json),
               IAM_STATUS_OK);
  CHECK(str_eq(json, "{\"active\":false}"));
  iam_string_free(&json);
  CHECK_STATUS(iam_introspect(iam, client_id, "iam_cs_not-the-secret", jwt_access_token, NULL,
                              &json),
               IAM_STATUS_BAD_CREDENTIALS);
  CHECK(json == NULL);
  iam_free(&iam);
}
