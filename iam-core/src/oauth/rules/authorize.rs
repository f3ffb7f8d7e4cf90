//! The authorization endpoint (RFC 6749 §4.1.1-§4.1.2, RFC 7636, OpenID Connect `prompt`
//! and `max_age`): checking a request, deciding between login, consent and a code, and
//! issuing the code.

use std::collections::BTreeSet;
use std::time::Duration;

use super::consent::widen_consent;
use super::{unchanged, Answer, NewSecret};
use crate::audit::{AuditDraft, AuditKind};
use crate::clock::Timestamp;
use crate::error::Result;
use crate::oauth::authorize::{
    decide_interaction, match_redirect_uri, parse_prompt, Interaction, Prompt, SessionFacts,
};
use crate::oauth::client::StoredClient;
use crate::oauth::grant::{OAuthConsent, StoredCode};
use crate::oauth::scope::{decide_resources, decide_scope, format_scope};
use crate::oauth::{
    pkce, AuthorizationRedirect, AuthorizationResult, AuthorizeOutcome, AuthorizeRequest,
    ClientKind, ConsentPrompt, GrantType, OAuthError, OAuthErrorCode, ResponseMode,
};
use crate::oidc::claims::{parse_claims_request, OPENID_SCOPE};
use crate::plan::Plan;
use crate::session::Session;
use crate::store::{Commit, Record, RecordKind, Write};
use crate::token::Principal;

/// Longest `state` echoed back.
const MAX_STATE_LEN: usize = 2048;
/// Longest `nonce` carried into an ID token.
const MAX_NONCE_LEN: usize = 512;

/// An authorization request that passed every check.
#[derive(Debug)]
pub(crate) struct Checked {
    /// The client's record as read (its version guards the code).
    pub client_record: Record,
    /// The client.
    pub client: StoredClient,
    /// Where the code or error goes.
    pub redirect_uri: String,
    /// Whether the request named the redirect URI (the token request must then repeat it).
    pub redirect_uri_given: bool,
    /// The scopes asked for (all the client's when none were named).
    pub scopes: BTreeSet<String>,
    /// The resources asked for (RFC 8707).
    pub resources: BTreeSet<String>,
    /// The PKCE S256 challenge.
    pub challenge: Option<String>,
    /// The `prompt` values.
    pub prompt: Prompt,
    /// `max_age` in seconds.
    pub max_age: Option<u64>,
    /// `state`, echoed back.
    pub state: Option<String>,
    /// How the answer goes back (`response_mode`).
    pub response_mode: ResponseMode,
    /// `nonce`, for the ID token (OpenID Connect requests).
    pub nonce: Option<String>,
    /// The account an `id_token_hint` names (checked by the caller): only its session may
    /// be used, any other user must log in as it.
    pub hint_subject: Option<String>,
}

/// Checks an authorization request against its client (`client`, as read by the request's
/// `client_id`). `Err`: show to the user, never redirect (unknown or disabled client,
/// repeated or unregistered redirect URI; RFC 6749 §4.1.2.1). `Ok(Err)`: redirect with the
/// error and `state`.
pub(crate) fn check_request(
    req: &AuthorizeRequest,
    client: Option<(Record, StoredClient)>,
) -> Answer<std::result::Result<Checked, AuthorizationRedirect>> {
    if req
        .repeated
        .iter()
        .any(|n| n == "client_id" || n == "redirect_uri")
    {
        return Err(OAuthError::invalid_request(
            "client_id or redirect_uri is repeated",
        ));
    }
    if req.client_id.is_none() {
        return Err(OAuthError::invalid_request("client_id is required"));
    }
    let (client_record, client) =
        client
            .filter(|(_, c)| !c.info.disabled)
            .ok_or(OAuthError::new(
                OAuthErrorCode::InvalidClient,
                "the client is unknown or disabled",
            ))?;
    let (redirect_uri, redirect_uri_given) =
        match_redirect_uri(&client.info, req.redirect_uri.as_deref())?;
    let state = req.state.clone();
    let mode = ResponseMode::parse(req.response_mode.as_deref());
    let fail = |e: OAuthError| {
        Ok(Err(AuthorizationRedirect {
            redirect_uri: redirect_uri.clone(),
            result: AuthorizationResult::Error(e),
            state: state.clone(),
            response_mode: mode.unwrap_or_default(),
        }))
    };
    let Some(response_mode) = mode else {
        return fail(OAuthError::invalid_request(
            "response_mode must be query or form_post",
        ));
    };
    if !req.repeated.is_empty() {
        return fail(OAuthError::invalid_request(
            "a request parameter is repeated",
        ));
    }
    if state.as_ref().is_some_and(|s| s.len() > MAX_STATE_LEN) {
        return fail(OAuthError::invalid_request("state is too long"));
    }
    if req.nonce.as_ref().is_some_and(|n| n.len() > MAX_NONCE_LEN) {
        return fail(OAuthError::invalid_request("nonce is too long"));
    }
    match req.response_type.as_deref() {
        Some("code") => {}
        None => return fail(OAuthError::invalid_request("response_type is required")),
        Some(_) => return fail(OAuthError::code(OAuthErrorCode::UnsupportedResponseType)),
    }
    if !client.info.allows(GrantType::AuthorizationCode) {
        return fail(OAuthError::code(OAuthErrorCode::UnauthorizedClient));
    }
    let mut scopes = match decide_scope(
        req.scope.as_deref(),
        &client.info.scopes,
        &client.info.scopes,
    ) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    if let Some(text) = &req.claims {
        match parse_claims_request(text) {
            // Claims asked for one by one are released by their scopes, which the consent
            // then covers; a scope the client may not hold is not added (§5.5: not an error).
            Ok(asked) if scopes.contains(OPENID_SCOPE) => scopes.extend(
                asked
                    .implied_scopes()
                    .filter(|s| client.info.scopes.contains(*s))
                    .map(str::to_owned),
            ),
            Ok(_) => {}
            Err(e) => return fail(e),
        }
    }
    let resources = match decide_resources(&req.resource, &client.info.resources) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let challenge = match (&req.code_challenge, req.code_challenge_method.as_deref()) {
        (Some(c), method) => match pkce::check_challenge(c, method) {
            Ok(()) => Some(c.clone()),
            Err(e) => return fail(e),
        },
        (None, Some(_)) => {
            return fail(OAuthError::invalid_request(
                "code_challenge_method without code_challenge",
            ))
        }
        (None, None) => None,
    };
    if challenge.is_none() && (client.info.require_pkce || client.info.kind == ClientKind::Public) {
        return fail(OAuthError::invalid_request(
            "code_challenge (PKCE, S256) is required",
        ));
    }
    let prompt = match parse_prompt(req.prompt.as_deref()) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let max_age = req.max_age.or(client.info.oidc.default_max_age);
    Ok(Ok(Checked {
        client_record,
        client,
        redirect_uri,
        redirect_uri_given,
        scopes,
        resources,
        challenge,
        prompt,
        max_age,
        state,
        response_mode,
        nonce: req.nonce.clone(),
        hint_subject: None,
    }))
}

/// The redirect that tells the client the user declined (`access_denied`).
pub(crate) fn denied_redirect(checked: Checked) -> AuthorizationRedirect {
    rejected(
        checked,
        OAuthError::new(OAuthErrorCode::AccessDenied, "the user denied the request"),
    )
}

/// The redirect that answers a checked request with `error`.
pub(crate) fn rejected(checked: Checked, error: OAuthError) -> AuthorizationRedirect {
    AuthorizationRedirect {
        redirect_uri: checked.redirect_uri,
        result: AuthorizationResult::Error(error),
        state: checked.state,
        response_mode: checked.response_mode,
    }
}

/// What the authorization endpoint loaded about the user behind a request.
#[derive(Debug, Default)]
pub(crate) struct UserState<'a> {
    /// The caller's iam session token, if it may approve delegations (checked by the caller).
    pub user: Option<&'a Principal>,
    /// The session that token names, as read.
    pub session: Option<(Record, Session)>,
    /// The account's consent to the client, as read.
    pub consent: Option<(Record, OAuthConsent)>,
}

/// The logged-in user with a live session.
struct LiveUser {
    account_id: String,
    session_record: Record,
    session: Session,
}

/// The user, when their token names a session of their own that is live at `now` (and
/// they are the account an `id_token_hint` of `checked` names).
fn live_user(
    checked: &Checked,
    user: Option<&Principal>,
    session: Option<(Record, Session)>,
    now: Timestamp,
) -> Option<LiveUser> {
    let p = user?;
    if checked
        .hint_subject
        .as_ref()
        .is_some_and(|s| *s != p.account_id)
    {
        return None;
    }
    let (session_record, session) = session?;
    (session.id == p.session_id && session.account_id == p.account_id && session.is_live(now)).then(
        || LiveUser {
            account_id: p.account_id.clone(),
            session_record,
            session,
        },
    )
}

/// An authorization request from the user in `state`: a code when they are logged in and
/// have consented (the code's record guarded by the client, session and consent as read),
/// else a login or consent page, or with `prompt=none` a `login_required` /
/// `consent_required` redirect. `registered_by` is what a consent page says of the client's
/// registrar.
pub(crate) fn decide_authorize(
    checked: &Checked,
    state: UserState<'_>,
    registered_by: Option<String>,
    code: NewSecret,
    code_ttl: Duration,
    now: Timestamp,
) -> Result<Plan<AuthorizeOutcome>> {
    let live = live_user(checked, state.user, state.session, now);
    let consent = state.consent.filter(|(_, c)| {
        live.as_ref()
            .is_some_and(|l| c.account_id == l.account_id && c.client_id == checked.client.info.id)
    });
    let covers = consent
        .as_ref()
        .is_some_and(|(_, c)| c.covers(&checked.scopes));
    let facts = live.as_ref().map(|l| SessionFacts {
        auth_time: l.session.auth_time,
    });
    let decision = decide_interaction(checked.prompt, facts, checked.max_age, covers, now);
    Ok(match (decision, live) {
        (Err(e), _) => Plan::new(AuthorizeOutcome::Redirect(AuthorizationRedirect {
            redirect_uri: checked.redirect_uri.clone(),
            result: AuthorizationResult::Error(e),
            state: checked.state.clone(),
            response_mode: checked.response_mode,
        })),
        (Ok(Interaction::Login), _) | (Ok(_), None) => Plan::new(AuthorizeOutcome::LoginRequired),
        (Ok(Interaction::Consent), Some(_)) => {
            let new_scopes = match &consent {
                Some((_, c)) => checked.scopes.difference(&c.scopes).cloned().collect(),
                None => checked.scopes.clone(),
            };
            Plan::new(AuthorizeOutcome::ConsentRequired(ConsentPrompt {
                client_id: checked.client.info.id.clone(),
                client_name: checked.client.info.name.clone(),
                scopes: checked.scopes.clone(),
                new_scopes,
                registered_by,
            }))
        }
        (Ok(Interaction::Issue), Some(live)) => {
            let mut plan = issue_code(checked, &live, code, (code_ttl, now), Commit::default())?;
            if let Some((record, _)) = &consent {
                plan = plan.write(unchanged(record));
            }
            plan
        }
    })
}

/// The user consented on the consent page: their consent is recorded (widening any earlier
/// one) and the code issued, in one plan. Without a live session, or with one older than
/// `max_age`, the user must log in first.
pub(crate) fn decide_consent_and_authorize(
    checked: &Checked,
    state: UserState<'_>,
    code: NewSecret,
    code_ttl: Duration,
    now: Timestamp,
) -> Result<Plan<AuthorizeOutcome>> {
    let Some(live) = live_user(checked, state.user, state.session, now) else {
        return Ok(Plan::new(AuthorizeOutcome::LoginRequired));
    };
    let max_age = checked.max_age.map(Duration::from_secs);
    if max_age.is_some_and(|m| live.session.auth_time.plus(m) < now) {
        return Ok(Plan::new(AuthorizeOutcome::LoginRequired));
    }
    let existing = state
        .consent
        .filter(|(_, c)| c.account_id == live.account_id && c.client_id == checked.client.info.id);
    let mut commit = Commit::default();
    widen_consent(
        &mut commit,
        existing,
        &live.account_id,
        &checked.client.info.id,
        &checked.scopes,
        now,
    )?;
    issue_code(checked, &live, code, (code_ttl, now), commit)
}

/// `commit` plus issuing a code to `live` for `checked` at `now`, valid for `code_ttl`, guarded
/// by the client and session as read.
fn issue_code(
    checked: &Checked,
    live: &LiveUser,
    code: NewSecret,
    (code_ttl, now): (Duration, Timestamp),
    commit: Commit,
) -> Result<Plan<AuthorizeOutcome>> {
    let expires_at = now.plus(code_ttl);
    let stored = StoredCode {
        client_id: checked.client.info.id.clone(),
        redirect_uri: checked.redirect_uri.clone(),
        redirect_uri_given: checked.redirect_uri_given,
        code_challenge: checked.challenge.clone(),
        account_id: live.account_id.clone(),
        session_id: live.session.id.clone(),
        scopes: checked.scopes.clone(),
        resources: checked.resources.clone(),
        auth_time: live.session.auth_time,
        amr: live.session.amr.clone(),
        issued_at: now,
        expires_at,
        used_for: None,
        nonce: checked.nonce.clone(),
    };
    let record = Record {
        kind: RecordKind::AuthCode,
        id: code.hash,
        version: 0,
        parent: Some(stored.client_id.clone()),
        lookup: None,
        expires_at: Some(expires_at),
        body: crate::record_body::to_body(&stored)?,
    };
    let audit = AuditDraft::new(AuditKind::OAuthCodeIssued, now)
        .actor(Some(&live.account_id))
        .account(&live.account_id)
        .session(&live.session.id)
        .detail("client_id", stored.client_id.clone())
        .detail("scope", format_scope(&stored.scopes));
    let output = AuthorizeOutcome::Redirect(AuthorizationRedirect {
        redirect_uri: checked.redirect_uri.clone(),
        result: AuthorizationResult::Code(code.secret),
        state: checked.state.clone(),
        response_mode: checked.response_mode,
    });
    Ok(Plan { commit, output }
        .write(Write::Insert(record))
        .write(unchanged(&checked.client_record))
        .write(unchanged(&live.session_record))
        .audit(audit))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{
        audit_kinds, client, client_read, consent_read, principal, record_of, secret, session_read,
        set, writes, written,
    };
    use super::*;
    use crate::oauth::pkce::s256_challenge;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    fn request() -> AuthorizeRequest {
        AuthorizeRequest {
            response_type: Some("code".into()),
            client_id: Some("cli_1".into()),
            scope: Some("read".into()),
            state: Some("xyz".into()),
            code_challenge: Some(s256_challenge(VERIFIER)),
            code_challenge_method: Some("S256".into()),
            ..AuthorizeRequest::default()
        }
    }

    fn checked() -> Checked {
        check_request(&request(), Some(client_read("cli_1")))
            .expect("shown")
            .expect("redirected")
    }

    /// How a request ends: shown to the user, redirected with an error, or checked.
    #[derive(Debug, PartialEq)]
    enum Checking {
        Shown(OAuthErrorCode),
        Redirected(OAuthErrorCode),
        Passed,
    }

    fn checking(req: &AuthorizeRequest, client: Option<StoredClient>) -> Checking {
        match check_request(req, client.map(|c| (record_of(&c, 3), c))) {
            Err(e) => Checking::Shown(e.code),
            Ok(Err(AuthorizationRedirect {
                result: AuthorizationResult::Error(e),
                state,
                ..
            })) => {
                assert_eq!(state.as_deref(), req.state.as_deref(), "state is echoed");
                Checking::Redirected(e.code)
            }
            Ok(Err(other)) => panic!("unexpected redirect {other:?}"),
            Ok(Ok(_)) => Checking::Passed,
        }
    }

    #[test]
    fn requests_are_shown_redirected_or_passed() {
        use Checking::{Passed, Redirected, Shown};
        use OAuthErrorCode::{
            InvalidClient, InvalidRequest, InvalidScope, InvalidTarget, UnauthorizedClient,
            UnsupportedResponseType,
        };
        let ok = client("cli_1");
        let mut disabled = client("cli_1");
        disabled.info.disabled = true;
        let mut no_code_grant = client("cli_1");
        no_code_grant
            .info
            .grant_types
            .remove(&GrantType::AuthorizationCode);
        let mut two_uris = client("cli_1");
        two_uris
            .info
            .redirect_uris
            .push("https://b.example/cb".into());
        let mut pkce_optional = client("cli_1");
        pkce_optional.info.require_pkce = false;
        let mut public = pkce_optional.clone();
        public.info.kind = ClientKind::Public;
        let with = |f: fn(&mut AuthorizeRequest)| {
            let mut r = request();
            f(&mut r);
            r
        };
        let cases: Vec<(AuthorizeRequest, Option<StoredClient>, Checking)> = vec![
            (request(), Some(ok.clone()), Passed),
            (request(), None, Shown(InvalidClient)),
            (request(), Some(disabled), Shown(InvalidClient)),
            (
                with(|r| r.client_id = None),
                Some(ok.clone()),
                Shown(InvalidRequest),
            ),
            (
                with(|r| r.repeated = vec!["redirect_uri".into()]),
                Some(ok.clone()),
                Shown(InvalidRequest),
            ),
            (
                with(|r| r.redirect_uri = Some("https://evil.example/cb".into())),
                Some(ok.clone()),
                Shown(InvalidRequest),
            ),
            (request(), Some(two_uris), Shown(InvalidRequest)),
            (
                with(|r| r.repeated = vec!["scope".into()]),
                Some(ok.clone()),
                Redirected(InvalidRequest),
            ),
            (
                with(|r| r.state = Some("s".repeat(MAX_STATE_LEN + 1))),
                Some(ok.clone()),
                Redirected(InvalidRequest),
            ),
            (
                with(|r| r.response_type = None),
                Some(ok.clone()),
                Redirected(InvalidRequest),
            ),
            (
                with(|r| r.response_type = Some("token".into())),
                Some(ok.clone()),
                Redirected(UnsupportedResponseType),
            ),
            (
                request(),
                Some(no_code_grant),
                Redirected(UnauthorizedClient),
            ),
            (
                with(|r| r.scope = Some("admin".into())),
                Some(ok.clone()),
                Redirected(InvalidScope),
            ),
            (
                with(|r| r.resource = vec!["https://other.example".into()]),
                Some(ok.clone()),
                Redirected(InvalidTarget),
            ),
            (
                with(|r| r.code_challenge_method = Some("plain".into())),
                Some(ok.clone()),
                Redirected(InvalidRequest),
            ),
            (
                with(|r| r.code_challenge = None),
                Some(ok.clone()),
                Redirected(InvalidRequest),
            ),
            (
                with(|r| {
                    r.code_challenge = None;
                    r.code_challenge_method = None;
                }),
                Some(ok.clone()),
                Redirected(InvalidRequest),
            ),
            (
                with(|r| {
                    r.code_challenge = None;
                    r.code_challenge_method = None;
                }),
                Some(pkce_optional),
                Passed,
            ),
            (
                with(|r| {
                    r.code_challenge = None;
                    r.code_challenge_method = None;
                }),
                Some(public),
                Redirected(InvalidRequest),
            ),
            (
                with(|r| r.prompt = Some("none login".into())),
                Some(ok.clone()),
                Redirected(InvalidRequest),
            ),
        ];
        for (i, (req, client, want)) in cases.into_iter().enumerate() {
            assert_eq!(checking(&req, client), want, "case {i}");
        }
    }

    #[test]
    fn a_checked_request_keeps_what_the_code_needs() {
        let mut req = request();
        req.resource = vec!["https://api.example".into()];
        req.max_age = Some(60);
        let c = check_request(&req, Some(client_read("cli_1")))
            .expect("shown")
            .expect("redirected");
        assert_eq!(c.redirect_uri, "https://app.example/cb");
        assert!(!c.redirect_uri_given);
        assert_eq!(c.scopes, set(&["read"]));
        assert_eq!(c.resources, set(&["https://api.example"]));
        assert_eq!(c.challenge, Some(s256_challenge(VERIFIER)));
        assert_eq!(c.max_age, Some(60));
        assert_eq!(c.client_record.version, 3);
        let denied = denied_redirect(c);
        assert!(matches!(
            denied.result,
            AuthorizationResult::Error(OAuthError {
                code: OAuthErrorCode::AccessDenied,
                ..
            })
        ));
        assert_eq!(denied.state.as_deref(), Some("xyz"));
    }

    /// A request without `max_age` inherits the client's `default_max_age` (OpenID Connect
    /// Registration §2): a session authenticated longer ago than that must log in again (or,
    /// with `prompt=none`, gets `login_required`); the request's own `max_age` overrides it.
    #[test]
    fn the_clients_default_max_age_applies_to_requests_without_max_age() {
        let now = Timestamp::from_secs(1_000); // the session authenticated at 900 s
        let p = principal("acc_a", "ses_1");
        let ends_with = |default: Option<u64>, max_age: Option<u64>, prompt: Option<&str>| {
            let (record, mut stored) = client_read("cli_1");
            stored.info.oidc.default_max_age = default;
            let mut req = request();
            req.max_age = max_age;
            req.prompt = prompt.map(str::to_owned);
            let c = check_request(&req, Some((record, stored)))
                .expect("shown")
                .expect("redirected");
            assert_eq!(c.max_age, max_age.or(default));
            let state = UserState {
                user: Some(&p),
                session: Some(session_read("ses_1", "acc_a")),
                consent: Some(consent_read(&["read"])),
            };
            let ttl = Duration::from_secs(60);
            let plan = decide_authorize(&c, state, None, secret("code"), ttl, now).expect("plan");
            ends(&plan.output)
        };
        assert_eq!(ends_with(None, None, None), Ends::Code);
        assert_eq!(ends_with(Some(200), None, None), Ends::Code);
        assert_eq!(ends_with(Some(50), None, None), Ends::Login);
        assert_eq!(
            ends_with(Some(50), None, Some("none")),
            Ends::Error(OAuthErrorCode::LoginRequired)
        );
        assert_eq!(ends_with(Some(50), Some(500), None), Ends::Code);
        assert_eq!(ends_with(Some(500), Some(50), None), Ends::Login);
    }

    /// What an authorization ends in, for the table.
    #[derive(Debug, PartialEq)]
    enum Ends {
        Code,
        Login,
        Consent(Vec<String>),
        Error(OAuthErrorCode),
    }

    fn ends(outcome: &AuthorizeOutcome) -> Ends {
        match outcome {
            AuthorizeOutcome::Redirect(AuthorizationRedirect {
                result: AuthorizationResult::Code(_),
                ..
            }) => Ends::Code,
            AuthorizeOutcome::Redirect(AuthorizationRedirect {
                result: AuthorizationResult::Error(e),
                ..
            }) => Ends::Error(e.code),
            AuthorizeOutcome::LoginRequired => Ends::Login,
            AuthorizeOutcome::ConsentRequired(p) => {
                assert_eq!(p.scopes, set(&["read"]));
                assert_eq!(p.registered_by.as_deref(), Some("someone"));
                Ends::Consent(p.new_scopes.iter().cloned().collect())
            }
        }
    }

    /// (prompt, max_age, user, session, consent, ends)
    type AuthorizeCase<'a> = (
        Option<&'a str>,
        Option<u64>,
        Option<&'a Principal>,
        Option<(Record, Session)>,
        Option<&'a [&'a str]>,
        Ends,
    );

    #[test]
    fn authorization_issues_asks_for_login_or_consent() {
        let now = Timestamp::from_secs(1_000);
        let p = principal("acc_a", "ses_1");
        let other = principal("acc_b", "ses_1");
        let mut revoked = session_read("ses_1", "acc_a");
        revoked.1.revoked_at = Some(Timestamp::from_secs(950));
        let cases: Vec<AuthorizeCase<'_>> = vec![
            (
                None,
                None,
                Some(&p),
                Some(session_read("ses_1", "acc_a")),
                Some(&["read"]),
                Ends::Code,
            ),
            (
                Some("none"),
                None,
                Some(&p),
                Some(session_read("ses_1", "acc_a")),
                Some(&["read", "write"]),
                Ends::Code,
            ),
            (None, None, None, None, None, Ends::Login),
            (None, None, Some(&p), None, Some(&["read"]), Ends::Login),
            (
                None,
                None,
                Some(&p),
                Some(revoked.clone()),
                Some(&["read"]),
                Ends::Login,
            ),
            (
                None,
                None,
                Some(&other),
                Some(session_read("ses_1", "acc_a")),
                None,
                Ends::Login,
            ),
            (
                Some("none"),
                None,
                Some(&p),
                Some(revoked),
                Some(&["read"]),
                Ends::Error(OAuthErrorCode::LoginRequired),
            ),
            (
                Some("none"),
                Some(50),
                Some(&p),
                Some(session_read("ses_1", "acc_a")),
                Some(&["read"]),
                Ends::Error(OAuthErrorCode::LoginRequired),
            ),
            (
                None,
                Some(50),
                Some(&p),
                Some(session_read("ses_1", "acc_a")),
                Some(&["read"]),
                Ends::Login,
            ),
            (
                Some("login"),
                None,
                Some(&p),
                Some(session_read("ses_1", "acc_a")),
                Some(&["read"]),
                Ends::Login,
            ),
            (
                Some("select_account"),
                None,
                Some(&p),
                Some(session_read("ses_1", "acc_a")),
                Some(&["read"]),
                Ends::Login,
            ),
            (
                None,
                None,
                Some(&p),
                Some(session_read("ses_1", "acc_a")),
                None,
                Ends::Consent(vec!["read".into()]),
            ),
            (
                None,
                None,
                Some(&p),
                Some(session_read("ses_1", "acc_a")),
                Some(&["write"]),
                Ends::Consent(vec!["read".into()]),
            ),
            (
                Some("consent"),
                None,
                Some(&p),
                Some(session_read("ses_1", "acc_a")),
                Some(&["read"]),
                Ends::Consent(vec![]),
            ),
            (
                Some("none"),
                None,
                Some(&p),
                Some(session_read("ses_1", "acc_a")),
                None,
                Ends::Error(OAuthErrorCode::ConsentRequired),
            ),
        ];
        for (i, (prompt, max_age, user, session, consented, want)) in cases.into_iter().enumerate()
        {
            let mut c = checked();
            c.prompt = parse_prompt(prompt).expect("prompt");
            c.max_age = max_age;
            let state = UserState {
                user,
                session,
                consent: consented.map(consent_read),
            };
            let ttl = Duration::from_secs(60);
            let plan =
                decide_authorize(&c, state, Some("someone".into()), secret("code"), ttl, now)
                    .expect("plan");
            let code = want == Ends::Code;
            assert_eq!(ends(&plan.output), want, "case {i}");
            if !code {
                assert_eq!(plan.commit, crate::store::Commit::default(), "case {i}");
                continue;
            }
            assert_eq!(
                writes(&plan),
                [
                    ("insert", RecordKind::AuthCode, "hash-code".to_owned(), 0),
                    ("check", RecordKind::OAuthClient, "cli_1".to_owned(), 3),
                    ("check", RecordKind::Session, "ses_1".to_owned(), 2),
                    (
                        "check",
                        RecordKind::OAuthConsent,
                        "acc_a/cli_1".to_owned(),
                        6
                    ),
                ],
                "case {i}"
            );
            let stored: StoredCode = written(&plan, RecordKind::AuthCode, "hash-code");
            assert_eq!(stored.account_id, "acc_a");
            assert_eq!(stored.session_id, "ses_1");
            assert_eq!(stored.expires_at, now.plus(ttl));
            assert_eq!(stored.auth_time, Timestamp::from_secs(900));
            assert_eq!(stored.used_for, None);
            assert_eq!(audit_kinds(&plan), [AuditKind::OAuthCodeIssued]);
        }
    }

    /// (max_age, session, earlier consent, consent write, issued)
    type ConsentCase = (
        Option<u64>,
        bool,
        Option<&'static [&'static str]>,
        Option<(&'static str, u64)>,
    );

    #[test]
    fn consenting_records_the_consent_and_issues_the_code() {
        let now = Timestamp::from_secs(1_000);
        let p = principal("acc_a", "ses_1");
        let cases: [ConsentCase; 5] = [
            (None, true, None, Some(("insert", 0))),
            (None, true, Some(&["write"]), Some(("update", 6))),
            (Some(200), true, None, Some(("insert", 0))),
            (Some(50), true, None, None),
            (None, false, None, None),
        ];
        for (max_age, has_session, earlier, consent_write) in cases {
            let mut c = checked();
            c.max_age = max_age;
            let state = UserState {
                user: Some(&p),
                session: has_session.then(|| session_read("ses_1", "acc_a")),
                consent: earlier.map(consent_read),
            };
            let plan = decide_consent_and_authorize(
                &c,
                state,
                secret("code"),
                Duration::from_secs(60),
                now,
            )
            .expect("plan");
            let Some((op, version)) = consent_write else {
                assert_eq!(plan.output, AuthorizeOutcome::LoginRequired);
                assert_eq!(plan.commit, crate::store::Commit::default());
                continue;
            };
            assert_eq!(ends(&plan.output), Ends::Code);
            assert_eq!(
                writes(&plan),
                [
                    (
                        op,
                        RecordKind::OAuthConsent,
                        "acc_a/cli_1".to_owned(),
                        version
                    ),
                    ("insert", RecordKind::AuthCode, "hash-code".to_owned(), 0),
                    ("check", RecordKind::OAuthClient, "cli_1".to_owned(), 3),
                    ("check", RecordKind::Session, "ses_1".to_owned(), 2),
                ]
            );
            let stored: OAuthConsent = written(&plan, RecordKind::OAuthConsent, "acc_a/cli_1");
            assert!(stored.scopes.contains("read"));
            assert_eq!(
                audit_kinds(&plan),
                [AuditKind::OAuthConsentGiven, AuditKind::OAuthCodeIssued]
            );
        }
    }
}
