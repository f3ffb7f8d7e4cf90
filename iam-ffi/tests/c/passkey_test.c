/*
 * Passkeys through the C API: the "passkeys" configuration, the start of registration and of
 * both kinds of sign-in, management on an account without passkeys, and the refusals of a
 * finish (malformed credential JSON, unknown ceremony) and of NULL arguments. A full ceremony
 * needs an authenticator; tests/passkeys.rs drives one (webauthn-rs's software passkey)
 * through the same functions from Rust.
 */
#include "check.h"

#define MASTER_KEY "\"master_key\": \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\""

static const char *const PASSKEY_CONFIG =
    "{" MASTER_KEY ", \"password\": {\"memory_kib\": 64, \"iterations\": 1},"
    " \"passkeys\": {\"rp_id\": \"example.com\","
    " \"rp_origins\": [\"https://login.example.com\"], \"rp_name\": \"Example\","
    " \"ceremony_ttl_secs\": 120}}";

/* A credential of the right shape whose ceremony iam never started. */
static const char *const WELL_FORMED_ASSERTION =
    "{\"id\": \"AAAA\", \"rawId\": \"AAAA\", \"type\": \"public-key\", \"extensions\": {},"
    " \"response\": {\"authenticatorData\": \"AAAA\", \"clientDataJSON\": \"AAAA\","
    " \"signature\": \"AAAA\", \"userHandle\": null}}";

/* Passkeys are off without the "passkeys" section, and a bad one is refused. */
static void run_passkey_config(void) {
  iam_t *iam = NULL;
  CHECK_STATUS(iam_open_memory("{" MASTER_KEY ", \"passkeys\": {\"rp_id\": \"example.com\","
                               " \"rp_origins\": [\"https://evil.test\"]}}",
                               &iam),
               IAM_STATUS_INVALID_CONFIG);
  CHECK(iam == NULL);
  CHECK_STATUS(iam_open_memory("{" MASTER_KEY ", \"passkeys\": {\"rp_id\": \"example.com\","
                               " \"rp_origins\": []}}",
                               &iam),
               IAM_STATUS_INVALID_CONFIG);
  CHECK_STATUS(iam_open_memory("{" MASTER_KEY ", \"passkeys\": {\"rp_id\": \"example.com\","
                               " \"rp_origin\": \"https://login.example.com\"}}",
                               &iam),
               IAM_STATUS_INVALID_CONFIG);
  CHECK(contains(iam_last_error(), "rp_origin"));

  CHECK_STATUS(iam_open_memory(CONFIG, &iam), IAM_STATUS_OK);
  if (iam == NULL) return;
  char *challenge = NULL;
  CHECK_STATUS(iam_passkey_login_start(iam, NULL, NULL, &challenge), IAM_STATUS_NOT_FOUND);
  CHECK(challenge == NULL);
  CHECK(contains(iam_last_error(), "passkey"));
  iam_free(&iam);
}

void run_passkeys(void) {
  run_passkey_config();

  iam_t *iam = NULL;
  CHECK_STATUS(iam_open_memory(PASSKEY_CONFIG, &iam), IAM_STATUS_OK);
  if (iam == NULL) return;
  char *pia = NULL;
  CHECK_STATUS(iam_create_account(iam, "pia", "pia's long password", NULL, 0, NULL, &pia),
               IAM_STATUS_OK);
  iam_tokens_t *tokens = NULL;
  CHECK_STATUS(iam_login(iam, "pia", "pia's long password", NULL, &tokens), IAM_STATUS_OK);
  if (pia == NULL || tokens == NULL) {
    iam_string_free(&pia);
    iam_free(&iam);
    return;
  }
  const char *access = iam_tokens_access_token(tokens);

  /* Registration: the options for navigator.credentials.create(), with a ceremony id. */
  char *challenge = NULL;
  CHECK_STATUS(iam_passkey_registration_start(iam, access, "laptop", &challenge), IAM_STATUS_OK);
  CHECK(contains(challenge, "\"ceremony\":\"pkc_"));
  CHECK(contains(challenge, "\"publicKey\":"));
  CHECK(contains(challenge, "\"rp\":{"));
  CHECK(contains(challenge, "\"name\":\"Example\""));
  CHECK(contains(challenge, "\"expires_at\":"));
  iam_string_free(&challenge);
  CHECK_STATUS(iam_passkey_registration_start(iam, access, "", &challenge),
               IAM_STATUS_INVALID_ARGUMENT);
  CHECK(challenge == NULL);
  CHECK_STATUS(iam_passkey_registration_start(iam, "not a token", "laptop", &challenge),
               IAM_STATUS_TOKEN_INVALID);

  /* Finishing: malformed credential JSON, and an unknown ceremony. */
  char *passkey = NULL;
  CHECK_STATUS(iam_passkey_registration_finish(iam, access, "pkc_unknown", "not json", &passkey),
               IAM_STATUS_INVALID_ARGUMENT);
  CHECK(passkey == NULL);
  CHECK(contains(iam_last_error(), "credential"));
  CHECK_STATUS(iam_passkey_registration_finish(iam, access, "pkc_unknown", "{}", &passkey),
               IAM_STATUS_INVALID_ARGUMENT);
  iam_tokens_t *passkey_tokens = NULL;
  CHECK_STATUS(iam_passkey_login_finish(iam, "pkc_unknown", "[1, 2", &passkey_tokens),
               IAM_STATUS_INVALID_ARGUMENT);
  CHECK(passkey_tokens == NULL);
  CHECK_STATUS(iam_passkey_login_finish(iam, "pkc_unknown", WELL_FORMED_ASSERTION,
                                        &passkey_tokens),
               IAM_STATUS_INVALID_STATE);
  CHECK(passkey_tokens == NULL);

  /* Management on an account without passkeys, and of an unknown passkey. */
  char *list = NULL;
  CHECK_STATUS(iam_passkeys_list(iam, pia, access, &list), IAM_STATUS_OK);
  CHECK(str_eq(list, "[]"));
  iam_string_free(&list);
  CHECK_STATUS(iam_passkeys_list(iam, pia, NULL, &list), IAM_STATUS_OK);
  CHECK(str_eq(list, "[]"));
  iam_string_free(&list);
  CHECK_STATUS(iam_passkey_rename(iam, "pk_unknown", "desk", access, &passkey),
               IAM_STATUS_NOT_FOUND);
  CHECK(passkey == NULL);
  CHECK_STATUS(iam_passkey_remove(iam, "pk_unknown", access), IAM_STATUS_NOT_FOUND);
  CHECK_STATUS(iam_passkey_remove(iam, "pk_unknown", NULL), IAM_STATUS_NOT_FOUND);

  /* Sign-in: passwordless, and after the password (which needs a passkey on the account). */
  CHECK_STATUS(iam_passkey_login_start(iam, NULL, NULL, &challenge), IAM_STATUS_OK);
  CHECK(contains(challenge, "\"ceremony\":\"pkc_"));
  CHECK(contains(challenge, "\"userVerification\":\"required\""));
  iam_string_free(&challenge);
  CHECK_STATUS(iam_passkey_login_start(iam, "pia", "pia's long password", &challenge),
               IAM_STATUS_NOT_FOUND);
  CHECK(challenge == NULL);
  CHECK_STATUS(iam_passkey_login_start(iam, "pia", "a wrong password!", &challenge),
               IAM_STATUS_BAD_CREDENTIALS);
  CHECK_STATUS(iam_passkey_login_start(iam, "pia", NULL, &challenge),
               IAM_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(iam_passkey_login_start(iam, NULL, "pia's long password", &challenge),
               IAM_STATUS_INVALID_ARGUMENT);

  /* NULL arguments. */
  CHECK_STATUS(iam_passkey_registration_start(NULL, access, "laptop", &challenge),
               IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_passkey_registration_start(iam, NULL, "laptop", &challenge),
               IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_passkey_registration_start(iam, access, NULL, &challenge),
               IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_passkey_registration_start(iam, access, "laptop", NULL),
               IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_passkey_registration_finish(iam, access, NULL, "{}", &passkey),
               IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_passkey_registration_finish(iam, access, "pkc_unknown", NULL, &passkey),
               IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_passkey_registration_finish(iam, access, "pkc_unknown", "{}", NULL),
               IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_passkeys_list(iam, NULL, NULL, &list), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_passkeys_list(iam, pia, NULL, NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_passkey_rename(iam, "pk_unknown", NULL, NULL, &passkey),
               IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_passkey_remove(iam, NULL, NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_passkey_login_start(iam, NULL, NULL, NULL), IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_passkey_login_finish(iam, NULL, "{}", &passkey_tokens),
               IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_passkey_login_finish(iam, "pkc_unknown", "{}", NULL),
               IAM_STATUS_NULL_PARAMETER);
  CHECK_STATUS(iam_passkey_rename(iam, "pk_unknown", "\xff\xfe", NULL, &passkey),
               IAM_STATUS_INVALID_UTF8);

  iam_tokens_free(&tokens);
  iam_string_free(&pia);
  iam_free(&iam);
}
